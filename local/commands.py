"""``serve`` and ``demo``: the request path on loopback (see local/__init__.py)."""

from __future__ import annotations

import argparse
import sys
import threading
from typing import Any

from contract.config import DEFAULT_CONFIG_PATH
from contract.errors import CliError
from contract.names import LOCAL_API_PORT, LOCAL_RUNTIME_PORT
from contract.prepared import DEFAULT_PREPARED_DIR
from contract.request import API_KEY_ENV, AUTH_MODES

DEFAULT_API_PORT = LOCAL_API_PORT
DEFAULT_RUNTIME_PORT = LOCAL_RUNTIME_PORT
LOOPBACK = "127.0.0.1"  # local.loopback_http.LOOPBACK, without importing the servers to register


def register(commands: Any) -> None:
    serve = commands.add_parser("serve", help="serve POST /predict and the web page on loopback until "
                                "Ctrl-C", description="The local API front, the real handler and the "
                                "local SageMaker runtime with the config's trained variants, and the "
                                "web page to try them (GET /). With --upstream: the same page in front "
                                "of the deployed API, each request signed with your credentials.")
    serve.add_argument("--config", default=DEFAULT_CONFIG_PATH)
    serve.add_argument("--api-port", type=int, default=DEFAULT_API_PORT,
                       help=f"API front and page port (default {DEFAULT_API_PORT})")
    serve.add_argument("--runtime-port", type=int, default=DEFAULT_RUNTIME_PORT,
                       help=f"SageMaker runtime port (default {DEFAULT_RUNTIME_PORT})")
    serve.add_argument("--prepared", default=DEFAULT_PREPARED_DIR,
                       help="prepared data directory whose held-out rows fill the page's form "
                       f"(default {DEFAULT_PREPARED_DIR}; skipped when absent or for other fields)")
    serve.add_argument("--host", default=LOOPBACK,
                       help=f"address the API front and page listen on (default {LOOPBACK}: this "
                       "machine only)")
    serve.add_argument("--upstream", metavar="URL",
                       help="serve the page in front of the deployed API at this URL (its stage URL, "
                       "or the API stack's output PredictUrl) instead of the local request path")
    serve.add_argument("--auth", choices=AUTH_MODES,
                       help=f"with --upstream: iam (SigV4 with your AWS credentials), api_key "
                       f"(${API_KEY_ENV}) or none (default: the config's api.auth)")
    serve.add_argument("--region", help="with --upstream: the region to sign for (default: the "
                       "URL's, the config's, or your AWS configuration's)")
    serve.set_defaults(func=_serve, connect_upstream=None)
    demo = commands.add_parser("demo", help="send the held-out test rows through the local request "
                               "path and report per variant")
    demo.add_argument("--config", default=DEFAULT_CONFIG_PATH)
    demo.add_argument("--prepared", default=DEFAULT_PREPARED_DIR,
                      help="prepared data directory (make train writes it)")
    demo.add_argument("--rounds", type=int, default=3, help="times each test row is sent (default 3)")
    demo.add_argument("--seed", type=int, default=None, help="seed of the weighted routing")
    demo.set_defaults(func=_demo)


def _listen_error(error: OSError) -> CliError:
    import errno

    if error.errno not in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
        raise error  # e.g. an unreadable model: the one error wrapper names the file
    return CliError(f"cannot listen: {error.strerror or error}",
                    "pick other ports with --api-port/--runtime-port, or another --host")


def _stop_event() -> threading.Event:
    """An event Ctrl-C or SIGTERM sets (from now on: a signal while starting stops right after)."""
    import signal

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    return stop


def _warn_if_exposed(host: str, upstream: bool) -> None:
    from local.loopback_http import is_loopback

    if not is_loopback(host):
        print(f"warning: listening on {host}, not loopback: anyone who can reach this machine can "
              "use the page" + (" and call the deployed API with your credentials" if upstream
                                else " and the local API"), file=sys.stderr, flush=True)


def _page_line(url: str, examples: Any) -> str:
    rows = (f"test rows from {examples.source}" if examples.rows
            else f"no test rows to fill the form: {examples.note}")
    return f"  page: {url}/  (try the model in a browser; {rows})"


def _serve(args: argparse.Namespace) -> int:
    from contract.config import load_config

    config = load_config(args.config)
    stop = _stop_event()
    if args.upstream:
        return _serve_upstream(args, config, stop)
    if args.auth or args.region:
        raise CliError("--auth and --region apply to --upstream only",
                       "the local request path takes no credentials; drop them or add --upstream URL")
    from local.stack import running

    try:
        context = running(config, api_port=args.api_port, runtime_port=args.runtime_port,
                          access_log=True, prepared=args.prepared, host=args.host)
        stack = context.__enter__()
    except OSError as error:
        raise _listen_error(error) from None
    try:
        for variant in stack.health["variants"]:
            state = "ok" if variant["healthy"] else f"BROKEN: {variant['error']}"
            print(f"  variant {variant['name']:<12} weight {variant['weight']:<5} {state}", flush=True)
        print(_page_line(stack.api_url, stack.web.examples), flush=True)
        _warn_if_exposed(args.host, upstream=False)
        print(f"ready: POST {stack.api_url}/predict  (health: GET {stack.api_url}/health; "
              f"runtime {stack.runtime_url}/endpoints/{config.endpoint_name}/invocations). "
              "Ctrl-C stops.", flush=True)
        stop.wait()
    finally:
        context.__exit__(None, None, None)
    print("stopped: both servers closed", flush=True)
    return 0


def _serve_upstream(args: argparse.Namespace, config: Any, stop: threading.Event) -> int:
    from local.upstream import running_upstream
    from local.web import Examples, WebApp

    if args.connect_upstream is None:  # set by cli/main.py, which may join local and client
        raise CliError("--upstream is not available here", "run it as xgbapi serve --upstream URL")
    if not config.has_models:
        missing = ", ".join(str(v.manifest_path) for v in config.variants)
        raise CliError(f"the page draws its form from the variants' model manifests; none found "
                       f"({missing})", "train the variants (make train) or name the promoted "
                       "records the deployed API serves (--config config/deploy.toml)")
    upstream = args.connect_upstream(args.upstream, args.auth, args.region, config)
    examples = Examples.load(args.prepared, config.handler_variants)
    web = WebApp(config.endpoint_name, config.handler_variants, examples,
                 target=f"the deployed API at {upstream.describe()}")
    try:
        context = running_upstream(web, upstream.forward, host=args.host, port=args.api_port,
                                   access_log=True)
        front = context.__enter__()
    except OSError as error:
        raise _listen_error(error) from None
    try:
        print("  variants (from the config's manifests): "
              + ", ".join(f"{name} weight {weight}" for name, weight, _ in config.handler_variants),
              flush=True)
        print(f"  forwarding POST /predict to {upstream.describe()}", flush=True)
        print(_page_line(front.url, examples), flush=True)
        _warn_if_exposed(args.host, upstream=True)
        print(f"ready: POST {front.url}/predict -> {upstream.target.url}. Ctrl-C stops.", flush=True)
        stop.wait()
    finally:
        context.__exit__(None, None, None)
        upstream.close()
    print("stopped: the page's server closed", flush=True)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from local import demo

    return demo.run(args.config, args.prepared, rounds=args.rounds, seed=args.seed)
