"""The ``predict`` command: rows from a file or stdin to the prediction API and back."""

from __future__ import annotations

import argparse
from typing import Any

from client import predict
from contract.request import API_KEY_ENV, AUTH_MODES


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "predict", help="send rows (CSV / JSON lines) to the prediction API, write predictions",
        description="Send rows to POST /predict (deployed, --url or --local) and write one line "
        "per input row, in input order: row, prediction, variant, inference_id.")
    parser.add_argument("input", help="CSV file with a header (optional for models with "
                        "categorical or text fields: then the fields in order), JSON-lines file, "
                        "or - for stdin")
    parser.add_argument("--input-format", choices=("csv", "jsonl"),
                        help="default: by extension (.csv, .jsonl/.ndjson), else by content")
    parser.add_argument("--output", "-o", help="output file (default: stdout); written atomically")
    parser.add_argument("--output-format", choices=("csv", "jsonl"),
                        help="default: by the output's extension, else csv")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--url", help="the API's predict URL (default: the PredictUrl output of "
                        "the config's <prefix>-api stack)")
    target.add_argument("--local", action="store_true",
                        help=f"the local API of make serve-local ({predict.DEFAULT_LOCAL_URL})")
    target.add_argument("--local-url", help="the local API at another URL (implies --local)")
    parser.add_argument("--config", default=predict.DEFAULT_CONFIG,
                        help=f"deployment config: stack name, auth mode, the model's fields "
                        f"(default {predict.DEFAULT_CONFIG})")
    parser.add_argument("--region", help="region of the stack and of the SigV4 signature "
                        "(default: the config's, the URL's, or your AWS configuration's)")
    parser.add_argument("--auth", choices=AUTH_MODES,
                        help="default: the config's api.auth for the deployed API; for --url: "
                        "api_key if a key is given, iam for execute-api hosts, else none")
    parser.add_argument("--api-key", help=f"API key for api_key mode (default: ${API_KEY_ENV})")
    parser.add_argument("--target-variant", help="send every row to this production variant")
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight (default 4)")
    parser.add_argument("--batch-rows", type=int, default=predict.DEFAULT_BATCH_ROWS,
                        help=f"rows per request (default {predict.DEFAULT_BATCH_ROWS}, "
                        f"at most {predict.MAX_BATCH_ROWS})")
    parser.add_argument("--batch-bytes", type=int, default=predict.DEFAULT_BATCH_BYTES,
                        help=f"body bytes per request, and model input bytes for categorical "
                        f"or text fields (default {predict.DEFAULT_BATCH_BYTES}, "
                        f"at most {predict.MAX_BATCH_BYTES})")
    parser.add_argument("--max-attempts", type=int, default=6,
                        help="attempts per request for 429/503/504 and connection errors (default 6)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per attempt (default 60)")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bar on stderr (default: when stderr is a terminal)")
    parser.set_defaults(func=_predict)


def _predict(args: argparse.Namespace) -> None:
    predict.run(args)
