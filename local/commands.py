"""``serve`` and ``demo``: the request path on loopback (see local/__init__.py)."""

from __future__ import annotations

import argparse
from typing import Any

from contract.config import DEFAULT_CONFIG_PATH
from contract.names import LOCAL_API_PORT, LOCAL_RUNTIME_PORT
from contract.prepared import DEFAULT_PREPARED_DIR

DEFAULT_API_PORT = LOCAL_API_PORT
DEFAULT_RUNTIME_PORT = LOCAL_RUNTIME_PORT


def register(commands: Any) -> None:
    serve = commands.add_parser("serve", help="serve POST /predict on loopback until Ctrl-C",
                                description="The local API front, the real handler and the local "
                                "SageMaker runtime with the config's trained variants.")
    serve.add_argument("--config", default=DEFAULT_CONFIG_PATH)
    serve.add_argument("--api-port", type=int, default=DEFAULT_API_PORT,
                       help=f"API front port (default {DEFAULT_API_PORT})")
    serve.add_argument("--runtime-port", type=int, default=DEFAULT_RUNTIME_PORT,
                       help=f"SageMaker runtime port (default {DEFAULT_RUNTIME_PORT})")
    serve.set_defaults(func=_serve)
    demo = commands.add_parser("demo", help="send the held-out test rows through the local request "
                               "path and report per variant")
    demo.add_argument("--config", default=DEFAULT_CONFIG_PATH)
    demo.add_argument("--prepared", default=DEFAULT_PREPARED_DIR,
                      help="prepared data directory (make train writes it)")
    demo.add_argument("--rounds", type=int, default=3, help="times each test row is sent (default 3)")
    demo.add_argument("--seed", type=int, default=None, help="seed of the weighted routing")
    demo.set_defaults(func=_demo)


def _serve(args: argparse.Namespace) -> int:
    import errno
    import signal
    import threading

    from contract.config import load_config
    from contract.errors import CliError
    from local.stack import running

    config = load_config(args.config)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        context = running(config, api_port=args.api_port, runtime_port=args.runtime_port,
                          access_log=True)
        stack = context.__enter__()
    except OSError as error:
        if error.errno not in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
            raise  # e.g. an unreadable model: the one error wrapper names the file
        raise CliError(f"cannot listen: {error.strerror or error}",
                       "pick other ports with --api-port/--runtime-port") from None
    try:
        for variant in stack.health["variants"]:
            state = "ok" if variant["healthy"] else f"BROKEN: {variant['error']}"
            print(f"  variant {variant['name']:<12} weight {variant['weight']:<5} {state}", flush=True)
        print(f"ready: POST {stack.api_url}/predict  (health: GET {stack.api_url}/health; "
              f"runtime {stack.runtime_url}/endpoints/{config.endpoint_name}/invocations). "
              "Ctrl-C stops.", flush=True)
        stop.wait()
    finally:
        context.__exit__(None, None, None)
    print("stopped: both servers closed", flush=True)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from local import demo

    return demo.run(args.config, args.prepared, rounds=args.rounds, seed=args.seed)
