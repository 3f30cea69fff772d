"""``python -m local serve|demo``: the request path on loopback (see local/__init__.py)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from contract.config import DEFAULT_CONFIG_PATH, ConfigError, load_config
from local import demo
from local.stack import NotTrainedError, running

DEFAULT_API_PORT = 8080
DEFAULT_RUNTIME_PORT = 8081


def serve(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with running(config, api_port=args.api_port, runtime_port=args.runtime_port,
                 access_log=True) as stack:
        for variant in stack.health["variants"]:
            state = "ok" if variant["healthy"] else f"BROKEN: {variant['error']}"
            print(f"  variant {variant['name']:<12} weight {variant['weight']:<5} {state}", flush=True)
        print(f"ready: POST {stack.api_url}/predict  (health: GET {stack.api_url}/health; "
              f"runtime {stack.runtime_url}/endpoints/{config.endpoint_name}/invocations). "
              "Ctrl-C stops.", flush=True)
        stop.wait()
    print("stopped: both servers closed", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve", help="serve POST /predict on loopback until Ctrl-C")
    serve_parser.add_argument("--config", default=DEFAULT_CONFIG_PATH)
    serve_parser.add_argument("--api-port", type=int, default=DEFAULT_API_PORT,
                              help=f"API front port (default {DEFAULT_API_PORT})")
    serve_parser.add_argument("--runtime-port", type=int, default=DEFAULT_RUNTIME_PORT,
                              help=f"SageMaker runtime port (default {DEFAULT_RUNTIME_PORT})")
    demo_parser = commands.add_parser("demo", help="send the held-out test rows through the local "
                                      "request path and report per variant")
    demo_parser.add_argument("--config", default=DEFAULT_CONFIG_PATH)
    demo_parser.add_argument("--prepared", default="data/prepared",
                             help="prepared data directory (make train writes it)")
    demo_parser.add_argument("--rounds", type=int, default=3,
                             help="times each test row is sent (default 3)")
    demo_parser.add_argument("--seed", type=int, default=None, help="seed of the weighted routing")
    args = parser.parse_args(argv)
    try:
        if args.command == "serve":
            return serve(args)
        return demo.run(args.config, args.prepared, rounds=args.rounds, seed=args.seed)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
    except NotTrainedError as error:
        print(f"error: {error}", file=sys.stderr)
    except demo.DemoError as error:
        print(f"error: {error}", file=sys.stderr)
    except OSError as error:
        print(f"error: {error.strerror or error}; pick other ports with --api-port/--runtime-port",
              file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
