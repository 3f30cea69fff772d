"""``xgbapi <command>``: every command a user or developer runs, in one place.

Each component registers its own commands (``training.commands``, ``client.commands``,
``operations.commands``, ``local.commands``, ``tools.commands``) with only argparse and the
contract imported, so ``xgbapi --help`` and ``xgbapi cost`` answer at once; numpy, xgboost,
boto3 and the SageMaker SDK load inside the command that needs them.

Every problem a user can fix ends here as one line, ``error: <problem>; <fix>``, exit code 2,
and no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from contract.config import ConfigError
from contract.errors import CliError
from contract.images import ImageError
from contract.manifest import ManifestError

PROG = "xgbapi"
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
# In the order `xgbapi --help` lists them: the model flow, the request flow, operations, tools.
COMMAND_MODULES = ("training.commands", "client.commands", "local.commands", "operations.commands",
                   "tools.commands")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="XGBoost from training to a secured, A/B-tested prediction API on "
        "SageMaker: train, serve locally, call the API, operate the endpoint.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(commands)
    # `serve --upstream` forwards the page's requests to the deployed API with the predict
    # client's signing. local may not import client (tests/test_layout.py): they meet here.
    from client.upstream import connect

    commands.choices["serve"].set_defaults(connect_upstream=connect)
    return parser


def error_line(error: BaseException) -> str:
    """The one line a user-fixable error prints (a config lists all its problems on that line)."""
    if isinstance(error, ConfigError):
        return (f"error: {error.source} is not a valid deployment config: " + " / ".join(error.problems)
                + "; fix it (docs/configuration.md) or name another with --config")
    if isinstance(error, OSError):
        where = f" ({error.filename})" if error.filename else ""
        return f"error: {error.strerror or error}{where}; check the path, permissions and free space"
    return f"error: {error}"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code = args.func(args)
    except (CliError, ConfigError, ManifestError, ImageError, OSError) as error:
        # OSError: disk full, permission denied, port in use; staged writes were rolled back.
        print(error_line(error), file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        # Commands that start AWS jobs print what is still running before re-raising.
        print("interrupted; nothing was written for the unfinished step", file=sys.stderr)
        return EXIT_INTERRUPTED
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
