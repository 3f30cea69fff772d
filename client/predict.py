"""``xgbapi predict``: send rows to the prediction API, write the predictions.

Reads a CSV file (with header) or JSON lines (one object per line keyed by feature name), or
stdin, splits the rows into requests well under the API's 6 MB / 10000-row limits, sends them
with bounded concurrency and writes one line per input row, in input order, with the
prediction and the production variant that served it.

A model with categorical or text fields (the config's input spec, contract/encoding.py) takes
raw rows: CSV rows of its fields in spec order, with an optional header naming them (RFC 4180
quoting: a text may hold commas, quotes and line breaks), or JSON objects of its fields. Each
row is checked and sized with the encoder the Lambda runs, before anything is sent: a bad value
is an error naming the row and the field, and a request's rows stay within ``--batch-bytes``
both as the JSON body and as the model input the Lambda encodes them to (a bag of words in CSV
format is far larger than its text).

Targets: the deployed API (URL from the API stack's ``PredictUrl`` output, signed with SigV4
from the normal AWS credential chain for ``api.auth = "iam"``, or with the ``x-api-key``
header in ``api_key`` mode), a URL given with ``--url``, or the local API of
``make serve-local`` (``--local``). 429/503/504 and connection errors are retried with
exponential backoff and full jitter, honouring ``Retry-After``; any other error stops the run
with the server's code and message and the input row it names. Output is written atomically.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import email.utils
import http.client
import io
import json
import os
import random
import re
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from contract.config import DEFAULT_CONFIG_PATH
from contract.encoding import Encoder, EncodingError, InputSpec, json_row
from contract.errors import CliError
from contract.limits import ENDPOINT_BODY_LIMIT_BYTES, MAX_ROWS_PER_REQUEST
from contract.names import LOCAL_API_PORT, PREDICT_PATH, ApiOutput, Component
from contract.request import API_KEY_ENV, API_KEY_HEADER, AuthMode

DEFAULT_CONFIG = DEFAULT_CONFIG_PATH
DEFAULT_LOCAL_URL = f"http://127.0.0.1:{LOCAL_API_PORT}{PREDICT_PATH}"
SERVICE = "execute-api"
# The handler accepts MAX_ROWS_PER_REQUEST rows and ENDPOINT_BODY_LIMIT_BYTES per request; stay
# well under both so a request is quick to retry and API Gateway's 29 s integration timeout is far away.
DEFAULT_BATCH_ROWS = 1000
MAX_BATCH_ROWS = MAX_ROWS_PER_REQUEST
DEFAULT_BATCH_BYTES = 1_000_000
MAX_BATCH_BYTES = 5_000_000
RETRY_STATUSES = frozenset((429, 503, 504))
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 20.0
RETRY_AFTER_CAP_S = 120.0

Note = Callable[[str], None]

_JSON_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?", re.ASCII)
_CSV_NUMBER = re.compile(r"([+-]?)(\d*)(?:\.(\d*))?([eE][+-]?\d+)?", re.ASCII)
_EXECUTE_API_HOST = re.compile(r"^[a-z0-9]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com$")


# --------------------------------------------------------------------------- command line


def run(args: argparse.Namespace) -> None:
    _check_limits(args)
    if args.output and args.output != "-" and not Path(args.output).resolve().parent.is_dir():
        raise CliError(f"the directory of --output {args.output} does not exist", "create it first")
    config = _load_config(args.config, required=not (args.url or args.local or args.local_url))
    features = tuple(config.feature_names) if config is not None else ()
    spec = config.input_spec if config is not None else None
    rows = read_rows(args.input, args.input_format, features, _note, spec=spec)
    if not rows:
        raise CliError(f"{args.input} has no rows", "give a CSV file with a header and rows, "
                       "or JSON lines")
    from botocore.exceptions import BotoCoreError

    try:
        target = resolve_target(args, config)
    except BotoCoreError as error:  # e.g. AWS_PROFILE names no profile
        raise CliError(f"the AWS configuration could not be read: {error}",
                       "check AWS_PROFILE and ~/.aws/config, or use --local / --auth none") from None
    chunks = make_chunks(rows, args.batch_rows, args.batch_bytes, args.target_variant)
    show = sys.stderr.isatty() if args.progress is None else args.progress
    progress = Progress(len(rows), len(chunks), sys.stderr if show else None)
    sender = Sender(target, timeout=args.timeout, max_attempts=args.max_attempts)
    results = send_all(chunks, sender, args.concurrency, progress)
    out_format = args.output_format or (
        "jsonl" if args.output and Path(args.output).suffix in (".jsonl", ".ndjson") else "csv")
    write_output(chunks, results, args.output, out_format)
    served: dict[str, int] = {}
    for chunk, result in zip(chunks, results, strict=True):
        variant = str(result.get("variant"))
        served[variant] = served.get(variant, 0) + len(chunk.rows)
    _note(f"predicted {len(rows)} rows in {len(chunks)} requests ({sender.retries} retries): "
          + ", ".join(f"{name} {count}" for name, count in sorted(served.items()))
          + (f" -> {args.output}" if args.output and args.output != "-" else ""))


def _note(message: str) -> None:
    print(message, file=sys.stderr)


def _check_limits(args: argparse.Namespace) -> None:
    if not 1 <= args.batch_rows <= MAX_BATCH_ROWS:
        raise CliError(f"--batch-rows {args.batch_rows} is out of range",
                       f"use 1..{MAX_BATCH_ROWS} (the API's limit per request)")
    if not 1000 <= args.batch_bytes <= MAX_BATCH_BYTES:
        raise CliError(f"--batch-bytes {args.batch_bytes} is out of range",
                       f"use 1000..{MAX_BATCH_BYTES} (the API accepts at most "
                       f"{ENDPOINT_BODY_LIMIT_BYTES} bytes)")
    if args.concurrency < 1 or args.max_attempts < 1 or args.timeout <= 0:
        raise CliError("--concurrency, --max-attempts and --timeout must be positive",
                       "e.g. --concurrency 4 --max-attempts 6 --timeout 60")


def _load_config(path: str, *, required: bool) -> Any:
    from contract.config import ConfigError, load_config

    try:
        return load_config(path)
    except ConfigError as error:
        if not required:
            return None
        raise CliError(f"{path} is not a valid config: " + "; ".join(error.problems),
                       "fix the config, pass --config, or give the API with --url / --local") from None


# --------------------------------------------------------------------------- input


@dataclass(frozen=True)
class Row:
    number: int  # 1-based data row
    line: int  # line of the input where the row ends
    body: str  # the instance as a JSON object
    first_line: int = 0  # line where the row starts, when a quoted text spans lines (0: ``line``)
    encoded_bytes: int = 0  # the model input the Lambda makes of it (raw fields; 0: not counted)

    @property
    def lines(self) -> str:
        """``line 9``, or ``lines 3-5`` for a row whose quoted text spans lines."""
        start = self.first_line or self.line
        return f"line {self.line}" if start == self.line else f"lines {start}-{self.line}"


def read_rows(source: str, input_format: str | None, features: tuple[str, ...], note: Note,
              *, spec: InputSpec | None = None) -> list[Row]:
    """The input's rows as JSON objects keyed by feature name, in input order. ``spec``: the
    model's input spec; with categorical or text fields the rows are raw (``RawRows``)."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise CliError(f"input {source} does not exist", "check the path") from None
    except UnicodeDecodeError:
        raise CliError(f"input {source} is not UTF-8 text", "save it as UTF-8 CSV or JSON lines") from None
    name = "stdin" if source == "-" else source
    fmt = input_format or _format_of(source, text)
    raw = RawRows(spec, name) if spec is not None and not spec.plain_numeric else None
    if fmt == "jsonl":
        return jsonl_rows(text, name, raw)
    if raw is not None:
        return raw.csv_rows(text, note)
    return csv_rows(text, name, features, note)


def _format_of(source: str, text: str) -> str:
    suffix = Path(source).suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    return "jsonl" if text.lstrip().startswith("{") else "csv"


def jsonl_rows(text: str, source: str, raw: RawRows | None = None) -> list[Row]:
    """Each non-blank line must be a JSON object; it is forwarded as written (numbers exact).
    With ``raw``, each object is also checked against the model's raw fields."""
    rows: list[Row] = []
    # Lines end at \n only: str.splitlines would also split at U+2028, U+0085 and the like,
    # which a JSON string may hold as they are.
    for line_number, line in enumerate(text.split("\n"), start=1):
        line = line.strip()
        if not line:
            continue
        try:
            value = json.loads(line) if raw is None else raw.decode(line)
        except ValueError as error:
            raise CliError(f"{source} line {line_number} is not valid JSON ({error})",
                           "write one JSON object per line") from None
        if not isinstance(value, dict):
            raise CliError(f"{source} line {line_number} is not a JSON object",
                           "write one object per line keyed by feature name") from None
        row = Row(len(rows) + 1, line_number, line)
        rows.append(raw.checked(row, value) if raw is not None else row)
    return rows


def _csv_error(source: str, line: int, error: csv.Error) -> CliError:
    return CliError(f"{source} line {line} is not valid CSV ({error})",
                    'quote values that contain commas, quotes or line breaks ("" for a quote '
                    "inside them)")


def csv_rows(text: str, source: str, features: tuple[str, ...], note: Note) -> list[Row]:
    reader = csv.reader(io.StringIO(text))
    try:
        return _csv_rows(reader, source, features, note)
    except csv.Error as error:  # e.g. a field over the csv module's size limit
        raise _csv_error(source, reader.line_num, error) from None


def _csv_rows(reader: Any, source: str, features: tuple[str, ...], note: Note) -> list[Row]:
    header = [cell.strip() for cell in next(reader, [])]
    if not any(header):
        return []
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise CliError(f"{source}: the header names {', '.join(duplicates)} more than once",
                       "give every column a unique name")
    if features:
        missing = [name for name in features if name not in header]
        if missing:
            raise CliError(f"{source}: missing feature column(s) {', '.join(missing)}",
                           f"the model needs {', '.join(features)} (any order; other columns "
                           "are ignored)")
        extra = [name for name in header if name not in features]
        if extra:
            note(f"note: ignoring column(s) {', '.join(extra)} of {source} (not model features)")
        used = [(header.index(name), name) for name in features]
    else:
        note(f"note: the model's feature names are unknown (no trained variants in the config); "
             f"sending every column of {source}")
        used = list(enumerate(header))
    keys = [json.dumps(name) + ":" for _, name in used]
    rows: list[Row] = []
    for cells in reader:
        if not cells or (len(cells) == 1 and not cells[0].strip()):
            continue
        if len(cells) != len(header):
            raise CliError(f"{source} line {reader.line_num} has {len(cells)} fields; the header "
                           f"has {len(header)}", "fix that line (quote values that contain commas)")
        body = "{" + ",".join(key + json_value(cells[index]) for key, (index, _) in zip(keys, used,
                                                                                       strict=True)) + "}"
        rows.append(Row(len(rows) + 1, reader.line_num, body))
    return rows


def json_value(cell: str) -> str:
    """A CSV cell as a JSON literal: the number as written, null if empty, else a JSON string
    (which the API rejects with its own message naming the row and feature)."""
    text = cell.strip()
    if not text:
        return "null"
    if _JSON_NUMBER.fullmatch(text):
        return text
    match = _CSV_NUMBER.fullmatch(text)
    if match and (match[2] or match[3]):  # +1, .5, 1., 007: rewrite as JSON, digits unchanged
        sign, whole, fraction, exponent = match[1], match[2], match[3], match[4] or ""
        whole = whole.lstrip("0") or "0"
        return ("-" if sign == "-" else "") + whole + (f".{fraction}" if fraction else "") + exponent
    return json.dumps(text)


class RawRows:
    """Rows for a model with categorical or text fields, read the way the Lambda reads them.

    CSV: the fields in spec order, or a header naming them (any order, other columns ignored);
    cells become the JSON the API takes (``contract.encoding.json_row``: numbers parsed, empty
    -> null, texts verbatim). JSON lines: objects of exactly the model's fields, sent as written.
    Every row is encoded once with ``contract.encoding.Encoder``, the Lambda's encoder: a value
    it refuses stops the run before anything is sent, naming the row and the field, and the size
    of the encoded line (``Row.encoded_bytes``) bounds the requests (``make_chunks``).
    """

    def __init__(self, spec: InputSpec, source: str) -> None:
        self.spec = spec
        self.source = source
        self.names = spec.field_names
        self._known = frozenset(self.names)
        self._encode = Encoder(spec).encode

    def error(self, row: Row, problem: str) -> CliError:
        return CliError(f"{self.source}: input row {row.number} ({row.lines}): {problem}",
                        "fix that row and run again")

    @staticmethod
    def decode(line: str) -> Any:
        """A JSON line; NaN and Infinity, which the API refuses, decode to ``_NonFinite``."""
        return json.loads(line, parse_constant=_NonFinite)

    def checked(self, row: Row, value: dict[str, Any]) -> Row:
        """``row`` (a JSON object, ``value`` decoded) with the size of its model input."""
        for key in value:
            if key not in self._known:
                raise self.error(row, f"unknown field {_quoted(key)} (the model's fields: "
                                 f"{', '.join(self.names)})")
        for name in self.names:
            if name not in value:
                raise self.error(row, f"missing field {_quoted(name)} (write null for a missing "
                                 "value)")
            if isinstance(value[name], _NonFinite):
                raise self.error(row, f"field {_quoted(name)} is {value[name].literal}, not a "
                                 "number JSON allows (write null for a missing value)")
        return Row(row.number, row.line, row.body, row.first_line, self._encoded_bytes(row, value))

    def _encoded_bytes(self, row: Row, value: dict[str, Any]) -> int:
        try:
            return len(self._encode(value, text=False).encode()) + 1  # + the line break
        except EncodingError as error:
            raise self.error(row, f"field {_quoted(error.field)} {error.message}") from None
        except OverflowError:  # a JSON integer too large for a float (a 500 from the Lambda)
            name = next(f.name for f in self.spec.fields if f.kind == "numeric"
                        and isinstance(value[f.name], int) and abs(value[f.name]) > 2 ** 1023)
            raise self.error(row, f"field {_quoted(name)} is infinite or outside the float32 range "
                             "the model reads") from None

    def csv_rows(self, text: str, note: Note) -> list[Row]:
        # newline="": a line break inside a quoted text stays in the text (as in the Lambda)
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        try:
            return self._csv_rows(reader, note)
        except csv.Error as error:
            raise _csv_error(self.source, reader.line_num, error) from None

    def _csv_rows(self, reader: Any, note: Note) -> list[Row]:
        source, names, width = self.source, self.names, len(self.names)
        used: list[int] | None = None  # the columns of the fields, in spec order
        expected = f"the model's fields are {', '.join(names)}, in this order (or name them in a header)"
        columns = width
        rows: list[Row] = []
        start = 1
        for cells in reader:
            first, start = start, reader.line_num + 1
            if not cells or (width > 1 and len(cells) == 1 and not cells[0].strip()):
                continue  # a blank line
            if used is None:
                used = self._header(cells, note)
                if used is not None:
                    columns, expected = len(cells), f"the header has {len(cells)}"
                    continue
                used = list(range(width))
            row = Row(len(rows) + 1, reader.line_num, "", first)
            if len(cells) != columns:
                raise CliError(f"{source} {row.lines} has {len(cells)} fields; {expected}",
                               "fix that line (quote values that contain commas, quotes or line "
                               "breaks)")
            try:
                value = json_row(self.spec, [cells[i] for i in used])
            except EncodingError as error:
                raise self.error(row, f"field {_quoted(error.field)} {error.message}") from None
            body = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
            rows.append(Row(row.number, row.line, body, first, self._encoded_bytes(row, value)))
        return rows

    def _header(self, cells: list[str], note: Note) -> list[int] | None:
        """The field columns when the first row is a header naming every field, else None."""
        header = [cell.strip() for cell in cells]
        named = [name for name in self.names if name in header]
        if len(named) < len(self.names):
            if named and 2 * len(named) >= len(self.names):  # a header that lacks fields
                missing = [name for name in self.names if name not in header]
                raise CliError(f"{self.source}: missing feature column(s) {', '.join(missing)}",
                               f"the model needs {', '.join(self.names)} (any order with a "
                               "header; other columns are ignored)")
            return None
        duplicates = sorted({name for name in header if header.count(name) > 1})
        if duplicates:
            raise CliError(f"{self.source}: the header names {', '.join(duplicates)} more than once",
                           "give every column a unique name")
        extra = [name for name in header if name not in self._known]
        if extra:
            note(f"note: ignoring column(s) {', '.join(extra)} of {self.source} (not model features)")
        return [header.index(name) for name in self.names]


class _NonFinite:
    """NaN, Infinity or -Infinity in a JSON line."""

    def __init__(self, literal: str) -> None:
        self.literal = literal


def _quoted(name: str) -> str:
    """A name from the input, for a message: quoted and cut short."""
    return json.dumps(name[:64] + ("..." if len(name) > 64 else ""), ensure_ascii=False)


# --------------------------------------------------------------------------- chunks


@dataclass(frozen=True)
class Chunk:
    index: int
    rows: list[Row]
    body: bytes

    @property
    def span(self) -> str:
        first, last = self.rows[0], self.rows[-1]
        return f"row {first.number}" if first is last else f"rows {first.number}-{last.number}"


def make_chunks(rows: list[Row], max_rows: int, max_bytes: int, target_variant: str | None) -> list[Chunk]:
    """Consecutive rows per request, at most ``max_rows`` and ``max_bytes`` of body each, and
    at most ``max_bytes`` of model input (``Row.encoded_bytes``: raw fields encode to more or
    fewer bytes than their JSON). A single row larger than the budget goes alone (the API then
    answers 413)."""
    tail = "]" + (f',"target_variant":{json.dumps(target_variant)}' if target_variant else "") + "}"
    overhead = len(b'{"instances":[') + len(tail.encode())
    chunks: list[Chunk] = []
    current: list[Row] = []
    size, encoded = overhead, 0

    def close() -> None:
        body = '{"instances":[' + ",".join(row.body for row in current) + tail
        chunks.append(Chunk(len(chunks), list(current), body.encode()))

    for row in rows:
        row_bytes = len(row.body.encode()) + (1 if current else 0)
        if current and (len(current) >= max_rows or size + row_bytes > max_bytes
                        or encoded + row.encoded_bytes > max_bytes):
            close()
            current, size, encoded = [], overhead, 0
            row_bytes -= 1
        current.append(row)
        size += row_bytes
        encoded += row.encoded_bytes
    if current:
        close()
    return chunks


# --------------------------------------------------------------------------- target


@dataclass
class Target:
    url: str
    auth: AuthMode
    region: str | None = None
    credentials: Any = None  # botocore Credentials for iam
    api_key: str | None = None


def resolve_target(args: argparse.Namespace, config: Any) -> Target:
    key = args.api_key or os.environ.get(API_KEY_ENV) or None
    auth: AuthMode
    if args.local or args.local_url:
        url, auth = args.local_url or DEFAULT_LOCAL_URL, args.auth or "none"
        region = args.region
    elif args.url:
        url = args.url
        host = _EXECUTE_API_HOST.match(urlsplit(url).hostname or "")
        auth = args.auth or ("api_key" if key else "iam" if host else "none")
        region = args.region or (host[1] if host else None) or (config.region if config else None)
    else:
        region = args.region or config.region or config.model_region or _session().region_name
        if not region:
            raise CliError("no region for the API stack", "pass --region, or set project.region "
                           "in the config or a region in your AWS configuration")
        url = stack_url(config.stack_name(Component.API), region)
        auth = args.auth or config.api.auth
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CliError(f"{url!r} is not an http(s) URL", "give the full URL, e.g. "
                       "https://abc123.execute-api.us-east-1.amazonaws.com/v1/predict")
    target = Target(url=url, auth=auth, region=region)
    if auth == "iam":
        sign_as_user(target, requests="the request", asked_by="api.auth is iam")
    elif auth == "api_key":
        if not key:
            raise CliError("the API uses API keys (api.auth is api_key) but no key was given",
                           f"pass --api-key or set {API_KEY_ENV} (aws apigateway get-api-keys "
                           "--include-values lists the stack's key)")
        target.api_key = key
    return target


def sign_as_user(target: Target, *, requests: str, asked_by: str) -> None:
    """Give an iam ``target`` its region (the AWS configuration's when it names none) and the
    credential chain's credentials; a one-line CliError when either is missing. ``requests``
    says what is signed ("the request"), ``asked_by`` why it is signed ("api.auth is iam")."""
    session = _session()
    target.region = target.region or session.region_name
    if not target.region:
        raise CliError(f"no region to sign {requests} for", "pass --region")
    credentials = session.get_credentials()
    if credentials is None:
        raise CliError(f"no AWS credentials found to sign {requests} ({asked_by})",
                       "configure the AWS credential chain (aws configure, AWS_PROFILE, "
                       "aws sso login, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)")
    target.credentials = credentials


def _session() -> Any:
    import boto3

    return boto3.Session()


def stack_url(name: str, region: str) -> str:
    """The ``PredictUrl`` output of the API stack, via CloudFormation DescribeStacks."""
    from deployed.aws import NO_CREDENTIALS_FIX, stack_outputs

    NO_STACK_LOOKUP_FIX = f"{NO_CREDENTIALS_FIX}, or pass --url / --local"

    outputs = stack_outputs(_session().client("cloudformation", region_name=region), name, region,
                            required=[ApiOutput.PREDICT_URL],
                            deploy_fix="deploy it (make train, then make deploy), check --config "
                            "and --region, or pass --url", credentials_fix=NO_STACK_LOOKUP_FIX)
    return outputs[ApiOutput.PREDICT_URL]


# --------------------------------------------------------------------------- sending


class _Stopped(Exception):
    """Another request failed or the user interrupted: give up quietly."""


@dataclass
class Sender:
    """Posts chunks with retries; one keep-alive connection per worker thread."""

    target: Target
    timeout: float = 60.0
    max_attempts: int = 6
    stop: threading.Event = field(default_factory=threading.Event)
    retries: int = 0
    _local: threading.local = field(default_factory=threading.local)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _connections: list[http.client.HTTPConnection] = field(default_factory=list)

    def post(self, chunk: Chunk) -> dict[str, Any]:
        last = ""
        for attempt in range(1, self.max_attempts + 1):
            if self.stop.is_set():
                raise _Stopped
            retry_after: float | None = None
            try:
                status, headers, payload = self._send(chunk.body)
            except (OSError, http.client.HTTPException) as error:
                self._drop_connection()
                if self.stop.is_set():
                    raise _Stopped from None
                last = f"connection error ({type(error).__name__}: {error})"
            else:
                if status == 200:
                    return self._result(chunk, payload)
                if status not in RETRY_STATUSES:
                    raise api_error(chunk, status, payload)
                last = f"HTTP {status} {_error_code(payload)}".rstrip()
                retry_after = parse_retry_after(headers.get("retry-after"))
            if attempt == self.max_attempts:
                break
            with self._lock:
                self.retries += 1
            jitter = random.uniform(0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (attempt - 1)))
            if self.stop.wait(max(jitter, min(retry_after or 0.0, RETRY_AFTER_CAP_S))):
                raise _Stopped
        raise CliError(f"request for input {chunk.span} failed after {self.max_attempts} attempts, "
                       f"last: {last}", "the API is busy or unreachable; retry later, lower "
                       "--concurrency or raise --max-attempts")

    def _result(self, chunk: Chunk, payload: bytes) -> dict[str, Any]:
        try:
            doc = json.loads(payload)
        except ValueError:
            doc = None
        if (not isinstance(doc, dict) or not isinstance(doc.get("predictions"), list)
                or len(doc["predictions"]) != len(chunk.rows)):
            raise CliError(f"the API's answer for input {chunk.span} is not "
                           f"{len(chunk.rows)} predictions", "check that the URL is this "
                           "project's POST /predict")
        return doc

    def _send(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
        url = urlsplit(self.target.url)
        headers = {"Host": url.netloc, "Content-Type": "application/json",
                   "Accept": "application/json"}
        if self.target.auth == "api_key" and self.target.api_key:
            headers[API_KEY_HEADER] = self.target.api_key
        elif self.target.auth == "iam":
            headers = sign(self.target, body, headers)
        connection = self._connection(url.scheme, url.hostname or "", url.port)
        path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        payload = response.read()
        if response.will_close:
            self._drop_connection()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, payload

    def _connection(self, scheme: str, host: str, port: int | None) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            kind = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
            connection = kind(host, port, timeout=self.timeout)
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return connection

    def _drop_connection(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None

    def abort(self) -> None:
        """Stop every worker: no new attempts, and in-flight requests are cut off."""
        self.stop.set()
        with self._lock:
            for connection in self._connections:
                sock = connection.sock
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)


def sign(target: Target, body: bytes, headers: dict[str, str]) -> dict[str, str]:
    """SigV4 for execute-api with botocore's signer; returns the headers to send."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.exceptions import BotoCoreError

    request = AWSRequest(method="POST", url=target.url, data=body, headers=headers)
    try:
        credentials = target.credentials.get_frozen_credentials()  # refreshed when near expiry
    except BotoCoreError as error:
        raise CliError(f"the AWS credentials could not be refreshed: {error}",
                       "sign in again (e.g. aws sso login) and rerun") from None
    SigV4Auth(credentials, SERVICE, target.region).add_auth(request)
    return dict(request.headers.items())


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as delay-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def _error_detail(payload: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(payload)
    except ValueError:
        return {}
    error = doc.get("error") if isinstance(doc, dict) else None
    if isinstance(error, dict):
        return error
    if isinstance(doc, dict) and isinstance(doc.get("message"), str):  # API Gateway's default shape
        return {"message": doc["message"]}
    return {}


def _error_code(payload: bytes) -> str:
    return str(_error_detail(payload).get("code", ""))


def api_error(chunk: Chunk, status: int, payload: bytes) -> CliError:
    """The server's error, with the input row it names (``instance`` is an index in the chunk)."""
    detail = _error_detail(payload)
    code = str(detail.get("code") or "")
    message = str(detail.get("message") or payload[:200].decode("utf-8", "replace").strip()
                  or "no message")
    instance = detail.get("instance")
    label = f"HTTP {status}" + (f" {code}" if code else "")
    if isinstance(instance, int) and not isinstance(instance, bool) and 0 <= instance < len(chunk.rows):
        row = chunk.rows[instance]
        return CliError(f"the API rejected input row {row.number} ({row.lines}): {label}: "
                        f"{message} [instances[{instance}] of the request with input {chunk.span}]",
                        "fix that row and run again")
    if status in (401, 403):
        fix = ("check that your AWS credentials are allowed execute-api:Invoke on this API and "
               "the region is right, or that the API key is valid")
    elif status == 413:
        fix = "lower --batch-rows / --batch-bytes"
    elif status == 404:
        fix = "check the URL (the deployed API is <stage URL>/predict; the stack output PredictUrl)"
    elif status >= 500:
        fix = "the service failed; see the function's log group, and retry later"
    else:
        fix = "fix the input or the options and run again"
    return CliError(f"the API answered {label} for input {chunk.span}: {message}", fix)


def send_all(chunks: list[Chunk], sender: Sender, concurrency: int,
             progress: Progress) -> list[dict[str, Any]]:
    """Every chunk's response, in chunk order; the first failure stops the rest."""
    results: list[dict[str, Any] | None] = [None] * len(chunks)
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="predict")
    futures: dict[Future[dict[str, Any]], Chunk] = {pool.submit(sender.post, c): c for c in chunks}
    try:
        pending: set[Future[dict[str, Any]]] = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            for future in sorted(done, key=lambda f: futures[f].index):
                chunk = futures[future]
                results[chunk.index] = future.result()
                progress.advance(len(chunk.rows), sender.retries)
    except KeyboardInterrupt:
        sender.abort()  # cut off the requests in flight too
        raise
    except BaseException:
        sender.stop.set()  # requests in flight finish; nothing new starts
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        progress.close()
    return [result for result in results if result is not None]


class Progress:
    """``predict [#####-----] 1200/5000 rows, 2/5 requests`` on one stderr line."""

    WIDTH = 30

    def __init__(self, rows: int, requests: int, stream: IO[str] | None) -> None:
        self.rows, self.requests, self.stream = rows, requests, stream
        self.done_rows = self.done_requests = 0
        self.drawn = 0.0

    def advance(self, rows: int, retries: int) -> None:
        self.done_rows += rows
        self.done_requests += 1
        now = time.monotonic()
        if self.stream is not None and (now - self.drawn >= 0.1 or self.done_requests == self.requests):
            self.drawn = now
            filled = self.WIDTH * self.done_rows // max(self.rows, 1)
            retried = f", {retries} retries" if retries else ""
            self.stream.write(f"\rpredict [{'#' * filled}{'-' * (self.WIDTH - filled)}] "
                              f"{self.done_rows}/{self.rows} rows, {self.done_requests}/"
                              f"{self.requests} requests{retried}")
            self.stream.flush()

    def close(self) -> None:
        if self.stream is not None and self.done_requests:
            self.stream.write("\n")
            self.stream.flush()


# --------------------------------------------------------------------------- output


def output_lines(chunks: list[Chunk], results: list[dict[str, Any]], fmt: str) -> Iterable[str]:
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["row", "prediction", "variant", "inference_id"])
        yield buffer.getvalue()
    for chunk, result in zip(chunks, results, strict=True):
        variant, inference_id = result.get("variant"), result.get("inference_id")
        for row, prediction in zip(chunk.rows, result["predictions"], strict=True):
            if fmt == "jsonl":
                yield json.dumps({"row": row.number, "prediction": prediction, "variant": variant,
                                  "inference_id": inference_id}) + "\n"
            else:
                buffer.seek(0)
                buffer.truncate()
                writer.writerow([row.number, "" if prediction is None else json.dumps(prediction),
                                 variant or "", inference_id or ""])
                yield buffer.getvalue()


def write_output(chunks: list[Chunk], results: list[dict[str, Any]], output: str | None, fmt: str) -> None:
    lines = output_lines(chunks, results, fmt)
    if not output or output == "-":
        sys.stdout.writelines(lines)
        sys.stdout.flush()
        return
    path = Path(output)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.writelines(lines)
        umask = os.umask(0o022)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp's 0600 -> what a plain open() would give
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
