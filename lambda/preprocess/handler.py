"""Preprocessing Lambda: validated JSON or CSV rows -> the model's CSV -> SageMaker endpoint.

API Gateway (REST, Lambda proxy) -> this handler -> InvokeEndpoint -> JSON predictions and the
production variant that served them. Standard library and boto3 only (both in the runtime).

Configuration (environment; the API stack sets the first two from the model manifest):
  ENDPOINT_NAME         endpoint to invoke (required)
  FEATURE_NAMES         JSON list of feature names in training order (required)
  MAX_ROWS              instances per request (default 10000)
  MAX_BODY_BYTES        request body limit after base64 decoding (default 6291456)
  NULL_POLICY           "missing" (null -> empty CSV field, XGBoost's missing value) or "reject"
  ENDPOINT_ACCEPT       Accept sent to the container: "text/csv" (default) or "application/json"
  CONNECT_TIMEOUT_SECONDS / READ_TIMEOUT_SECONDS / MAX_ATTEMPTS   runtime client (1 / 10 / 2)

Numbers are never converted to float and back: the CSV cell is the client's own number literal,
validated by the JSON scanner (or a regex for CSV bodies). A fast path handles well-formed
requests with C-level operations only; anything it cannot prove valid goes to the exact path,
which is the reference for every error and produces the same payload for valid input.
"""

from __future__ import annotations

import binascii
import json
import os
import re
import sys
import time
from operator import itemgetter
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ReadTimeoutError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

ENDPOINT_LIMIT_BYTES = 6291456  # InvokeEndpoint body limit (and the container's)
FLOAT32_MAX = 3.4028234663852886e38  # XGBoost reads CSV into float32


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


def _load_features() -> tuple[tuple[str, ...], str]:
    try:
        names = json.loads(os.environ.get("FEATURE_NAMES", "[]"))
    except ValueError:
        return (), "FEATURE_NAMES is not JSON"
    if (not isinstance(names, list) or not names or len(set(names)) != len(names)
            or not all(isinstance(n, str) and n for n in names)):
        return (), "FEATURE_NAMES must be a non-empty list of unique names"
    return tuple(names), ""


ENDPOINT_NAME = os.environ.get("ENDPOINT_NAME", "")
FEATURE_NAMES, _CONFIG_ERROR = _load_features()
if not ENDPOINT_NAME and not _CONFIG_ERROR:
    _CONFIG_ERROR = "ENDPOINT_NAME is not set"
MAX_ROWS = _env_int("MAX_ROWS", 10000)
MAX_BODY_BYTES = _env_int("MAX_BODY_BYTES", ENDPOINT_LIMIT_BYTES)
NULL_POLICY = os.environ.get("NULL_POLICY", "missing")
ENDPOINT_ACCEPT = os.environ.get("ENDPOINT_ACCEPT", "text/csv")
CONNECT_TIMEOUT = _env_int("CONNECT_TIMEOUT_SECONDS", 1)
READ_TIMEOUT = _env_int("READ_TIMEOUT_SECONDS", 10)
MAX_ATTEMPTS = _env_int("MAX_ATTEMPTS", 2)

# Worst case MAX_ATTEMPTS * (connect + read) + one backoff (<= 1 s) = 23 s with the defaults:
# under the Lambda timeout (25 s), which is under API Gateway's 29 s integration timeout.
_runtime = boto3.client(
    "sagemaker-runtime",
    config=Config(connect_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT,
                  retries={"total_max_attempts": MAX_ATTEMPTS, "mode": "standard"},
                  tcp_keepalive=True),
)

_N = len(FEATURE_NAMES)
_FEATURE_SET = frozenset(FEATURE_NAMES)
_POSITION = {name: i for i, name in enumerate(FEATURE_NAMES)}
if _N == 1:
    _only = FEATURE_NAMES[0]

    def _get_values(instance: dict[str, Any]) -> tuple[Any, ...]:
        return (instance[_only],)
else:
    _get_values = itemgetter(*FEATURE_NAMES) if _N else (lambda instance: ())  # type: ignore[assignment]

_DICT, _LIST = {dict}, {list}
_TOP_LEVEL = frozenset(("instances", "target_variant", "inference_id"))
_JSON_NUMBER = r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?"
_CSV_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_csv_cell = f"(?:{_CSV_NUMBER})?" if NULL_POLICY == "missing" else f"(?:{_CSV_NUMBER})"
_csv_row = rf"{_csv_cell}(?:,{_csv_cell}){{{max(_N - 1, 0)}}}"
_CSV_BODY = re.compile(rf"{_csv_row}(?:\n{_csv_row})*", re.ASCII)  # ASCII: \d is 0-9 only
_CSV_ROW = re.compile(_csv_row, re.ASCII)
_CSV_FIELD = re.compile(_CSV_NUMBER, re.ASCII)
# An optional first line naming the features, unless a name could be read as a number.
_CSV_HEADER = "" if any(_CSV_FIELD.fullmatch(n) for n in FEATURE_NAMES) else ",".join(FEATURE_NAMES)
# A literal that could overflow float32: 30+ characters or an exponent >= 10. Payloads holding
# one take the exact path, which checks the range of each value. (A regex with \d{30} costs
# ~10 ns per character of a clean payload; the byte-level test below ~0.3 ns.)
_RISKY_NUMBER = re.compile(r"[^,\n]{30}|[eE]\+?0*[1-9]\d", re.ASCII)
_RISKY_EXPONENT = re.compile(rb"[eE]\+?0*[1-9]\d")
_LONG_CELL = b"x" * 30
_CELL_MASK = bytes(10 if c in b",\n" else 120 for c in range(256))  # each cell -> x...x


def _risky(payload: bytes) -> bool:
    """Whether any CSV cell might lie outside float32 (cheap, conservative)."""
    exponents = payload.count(b"e") + payload.count(b"E")
    if exponents and exponents != payload.count(b"e-") + payload.count(b"E-") and \
            _RISKY_EXPONENT.search(payload):  # only non-negative exponents can overflow
        return True
    return _LONG_CELL in payload.translate(_CELL_MASK)
_PREDICTION_LINES = re.compile(rf"{_JSON_NUMBER}(?:\n{_JSON_NUMBER})*", re.ASCII)
_PREDICTION_ROW = re.compile(rf"{_JSON_NUMBER}(?:,{_JSON_NUMBER})*", re.ASCII)
_VARIANT_NAME = re.compile(r"[a-zA-Z0-9](?:-*[a-zA-Z0-9]){0,62}")
_INFERENCE_ID = re.compile(r"[\x21-\x7e][\x20-\x7e]{0,63}")
_ENDPOINT_NOT_FOUND = re.compile(r"endpoint\b.*\bnot found", re.IGNORECASE | re.DOTALL)
_THROTTLING = frozenset(("ThrottlingException", "Throttling", "TooManyRequestsException",
                         "RequestLimitExceeded", "ProvisionedThroughputExceededException"))
_ACCESS = frozenset(("AccessDeniedException", "AccessDenied", "UnrecognizedClientException",
                     "InvalidSignatureException", "ExpiredTokenException", "ExpiredToken"))


class RequestError(Exception):
    """A response other than 200: status, a stable code and a message safe to show the caller."""

    def __init__(self, status: int, code: str, message: str, *, instance: int | None = None,
                 field: str | None = None, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.instance, self.field, self.retry_after = instance, field, retry_after


class _Slow(Exception):
    """The fast path cannot prove the request valid: take the exact path."""


class _Num(str):
    """Number literal text kept by the exact JSON path (distinguishable from JSON strings)."""

    __slots__ = ()


class _NonFinite(str):
    """NaN, Infinity or -Infinity as read by the JSON scanner."""

    __slots__ = ()


class _DuplicateKeys(dict):  # type: ignore[type-arg]
    duplicate = ""


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        marked = _DuplicateKeys(obj)
        for key, _ in pairs:
            if key in seen:
                marked.duplicate = key
                break
            seen.add(key)
        return marked
    return obj


def _reject_constant(text: str) -> Any:
    raise _Slow


_fast_decoder = json.JSONDecoder(parse_float=str, parse_int=str, parse_constant=_reject_constant)
_exact_decoder = json.JSONDecoder(parse_float=_Num, parse_int=_Num, parse_constant=_NonFinite,
                                  object_pairs_hook=_pairs)


def _name(value: str) -> str:
    """A client-supplied name for a message: quoted and cut short."""
    return json.dumps(value[:64] + ("..." if len(value) > 64 else ""))


# --------------------------------------------------------------------------- request parsing


def _header(event: dict[str, Any], wanted: str) -> str | None:
    headers = event.get("headers")
    if isinstance(headers, dict):
        for key, value in headers.items():
            if isinstance(key, str) and key.lower() == wanted and isinstance(value, str):
                return value
    multi = event.get("multiValueHeaders")
    if isinstance(multi, dict):
        for key, values in multi.items():
            if (isinstance(key, str) and key.lower() == wanted and isinstance(values, list)
                    and values and isinstance(values[0], str)):
                return values[0]
    return None


def _media_type(event: dict[str, Any]) -> str:
    value = _header(event, "content-type")
    if value is None:
        raise RequestError(415, "unsupported_media_type",
                           "Content-Type is required: application/json or text/csv")
    media, _, params = value.partition(";")
    media = media.strip().lower()
    for param in params.split(";"):
        key, _, charset = param.partition("=")
        if key.strip().lower() == "charset" and charset.strip().strip('"').lower() not in (
                "utf-8", "utf8", "us-ascii"):
            raise RequestError(415, "unsupported_media_type", "only the utf-8 charset is supported")
    if media not in ("application/json", "text/csv"):
        raise RequestError(415, "unsupported_media_type",
                           "Content-Type must be application/json or text/csv")
    return media


def _body_text(event: dict[str, Any]) -> str:
    raw = event.get("body")
    if raw is None:
        raw = ""
    if not isinstance(raw, str):
        raise RequestError(400, "invalid_body", "the request body must be text")
    if event.get("isBase64Encoded") is True:
        if len(raw) > MAX_BODY_BYTES * 4 // 3 + 4:
            raise RequestError(413, "body_too_large", f"the body exceeds {MAX_BODY_BYTES} bytes")
        try:
            data = binascii.a2b_base64(raw.encode("ascii"), strict_mode=True)
        except (ValueError, binascii.Error):
            raise RequestError(400, "invalid_base64", "the body is not valid base64") from None
        if len(data) > MAX_BODY_BYTES:
            raise RequestError(413, "body_too_large", f"the body exceeds {MAX_BODY_BYTES} bytes")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise RequestError(400, "invalid_encoding", "the body is not valid UTF-8") from None
    if len(raw) > MAX_BODY_BYTES or (
            len(raw) * 4 > MAX_BODY_BYTES
            and len(raw.encode("utf-8", "surrogatepass")) > MAX_BODY_BYTES):
        raise RequestError(413, "body_too_large", f"the body exceeds {MAX_BODY_BYTES} bytes")
    return raw


def _check_meta(target_variant: Any, inference_id: Any) -> None:
    if target_variant is not None and (
            not isinstance(target_variant, str) or type(target_variant) is _Num
            or len(target_variant) > 63 or not _VARIANT_NAME.fullmatch(target_variant)):
        raise RequestError(400, "invalid_target_variant",
                           "target_variant must be a production variant name "
                           "(letters, digits and hyphens, at most 63 characters)")
    if inference_id is not None and (
            not isinstance(inference_id, str) or type(inference_id) is _Num
            or not _INFERENCE_ID.fullmatch(inference_id)):
        raise RequestError(400, "invalid_inference_id",
                           "inference_id must be 1-64 printable ASCII characters, "
                           "not starting with a space")


def _json_fast(raw: str) -> tuple[list[str], Any, Any]:
    """Well-formed requests only, C-level work per value; raises _Slow on anything else."""
    if "\\" in raw:
        raise _Slow
    try:
        doc = _fast_decoder.decode(raw)
    except (ValueError, RecursionError):
        raise _Slow from None
    if type(doc) is not dict:
        raise _Slow
    instances = doc.get("instances")
    if type(instances) is not list or not instances or len(instances) > MAX_ROWS:
        raise _Slow
    strings = len(doc)  # JSON strings the body must contain: keys ...
    for key, value in doc.items():
        if key != "instances":
            if key not in _TOP_LEVEL or type(value) is not str:
                raise _Slow
            strings += 1  # ... and the string values of target_variant / inference_id
    n = _N
    get = _get_values
    kinds = set(map(type, instances))
    if kinds in (_DICT, _LIST) and set(map(len, instances)) == {n}:
        # The common case, all C loops: same-shaped rows with numbers only.
        try:
            lines = list(map(",".join, map(get, instances) if kinds == _DICT else instances))
        except KeyError:
            raise _Slow from None
        except TypeError:  # null, boolean or nested value somewhere: the row-by-row loop below
            pass
        else:
            keys = len(instances) * n if kinds == _DICT else 0
            if raw.count('"') != 2 * (strings + keys):
                raise _Slow
            return lines, doc.get("target_variant"), doc.get("inference_id")
    lines = []
    append = lines.append
    dict_rows = 0
    for instance in instances:
        kind = type(instance)
        if kind is dict:
            if len(instance) != n:
                raise _Slow
            dict_rows += 1
            try:
                values = get(instance)
            except KeyError:
                raise _Slow from None
        elif kind is list:
            if len(instance) != n:
                raise _Slow
            values = instance
        else:
            raise _Slow
        try:
            append(",".join(values))
        except TypeError:  # null, boolean or nested value
            if NULL_POLICY != "missing":
                raise _Slow from None
            try:
                append(",".join(["" if v is None else v for v in values]))
            except TypeError:
                raise _Slow from None
    # Numbers became str: prove that no value was a JSON string. Without backslashes every
    # string adds exactly two quotes, and the only strings allowed are the keys counted here.
    if raw.count('"') != 2 * (strings + dict_rows * n):
        raise _Slow
    return lines, doc.get("target_variant"), doc.get("inference_id")


def _cell(value: Any, index: int, name: str, where: str) -> str:
    kind = type(value)
    if kind is _Num:
        if _RISKY_NUMBER.search(value) and not abs(float(value)) <= FLOAT32_MAX:
            raise RequestError(422, "out_of_range", f"{where} is outside the float32 range",
                               instance=index, field=name)
        return value  # type: ignore[no-any-return]
    if value is None:
        if NULL_POLICY == "missing":
            return ""
        raise RequestError(422, "null_value", f"{where} is null; a number is required",
                           instance=index, field=name)
    if kind is _NonFinite:
        raise RequestError(422, "non_finite_value", f"{where} is {value}; numbers must be finite",
                           instance=index, field=name)
    if kind is bool:
        raise RequestError(422, "boolean_value", f"{where} is a boolean; a number is required",
                           instance=index, field=name)
    if kind is str:
        raise RequestError(422, "non_numeric_value", f"{where} is a string; a number is required",
                           instance=index, field=name)
    raise RequestError(422, "nested_value", f"{where} is an {'array' if kind is list else 'object'};"
                       " a number is required", instance=index, field=name)


def _json_exact(raw: str) -> tuple[list[str], Any, Any]:
    """The reference validation: every error, with instance index and field."""
    if not raw.strip():
        raise RequestError(400, "empty_body", "the request body is empty")
    try:
        doc = _exact_decoder.decode(raw)
    except (ValueError, RecursionError):
        raise RequestError(400, "malformed_json", "the request body is not valid JSON") from None
    if not isinstance(doc, dict):
        raise RequestError(400, "invalid_body", 'the body must be a JSON object like {"instances": [...]}')
    if isinstance(doc, _DuplicateKeys):
        raise RequestError(400, "duplicate_field", f"field {_name(doc.duplicate)} appears twice")
    for key in doc:
        if key not in _TOP_LEVEL:
            raise RequestError(400, "unknown_field", f"unknown field {_name(key)}; allowed: "
                               "instances, target_variant, inference_id", field=key[:64])
    if "instances" not in doc:
        raise RequestError(400, "missing_instances", 'the body needs an "instances" array')
    instances = doc["instances"]
    if not isinstance(instances, list):
        raise RequestError(400, "invalid_instances", '"instances" must be an array')
    if not instances:
        raise RequestError(400, "empty_instances", '"instances" must not be empty')
    if len(instances) > MAX_ROWS:
        raise RequestError(413, "too_many_rows",
                           f"{len(instances)} instances; at most {MAX_ROWS} per request")
    target_variant, inference_id = doc.get("target_variant"), doc.get("inference_id")
    _check_meta(target_variant, inference_id)
    lines = []
    for i, instance in enumerate(instances):
        if isinstance(instance, dict):
            if isinstance(instance, _DuplicateKeys):
                raise RequestError(422, "duplicate_feature", f"instances[{i}]: feature "
                                   f"{_name(instance.duplicate)} appears twice",
                                   instance=i, field=instance.duplicate[:64])
            for key in instance:
                if key not in _FEATURE_SET:
                    raise RequestError(422, "unknown_feature",
                                       f"instances[{i}]: unknown feature {_name(key)}",
                                       instance=i, field=key[:64])
            if len(instance) != _N:
                missing = next(name for name in FEATURE_NAMES if name not in instance)
                raise RequestError(422, "missing_feature",
                                   f"instances[{i}]: missing feature {_name(missing)} (send null "
                                   "for a missing value)", instance=i, field=missing)
            lines.append(",".join([_cell(instance[name], i, name, f"instances[{i}].{name}")
                                   for name in FEATURE_NAMES]))
        elif isinstance(instance, list):
            if len(instance) != _N:
                raise RequestError(422, "wrong_arity", f"instances[{i}] has {len(instance)} "
                                   f"values; expected {_N} in feature order", instance=i)
            pairs = enumerate(zip(instance, FEATURE_NAMES, strict=True))
            lines.append(",".join([_cell(value, i, name, f"instances[{i}][{j}] ({name})")
                                   for j, (value, name) in pairs]))
        else:
            raise RequestError(422, "invalid_instance",
                               f"instances[{i}] must be an object keyed by feature name or an "
                               "array in feature order", instance=i)
    return lines, target_variant, inference_id


def _from_json(raw: str) -> tuple[bytes, int, Any, Any, str]:
    try:
        lines, target_variant, inference_id = _json_fast(raw)
        payload = "\n".join(lines).encode("ascii")
        if _risky(payload):
            raise _Slow
        _check_meta(target_variant, inference_id)
        return payload, len(lines), target_variant, inference_id, "fast"
    except _Slow:
        lines, target_variant, inference_id = _json_exact(raw)
        return "\n".join(lines).encode("ascii"), len(lines), target_variant, inference_id, "exact"


def _csv_field(field: str, i: int, j: int) -> str:
    name = FEATURE_NAMES[j]
    where = f"row {i}, column {j} ({name})"
    text = field.strip()
    if not text:
        if NULL_POLICY == "missing":
            return ""
        raise RequestError(422, "null_value", f"{where} is empty; a number is required",
                           instance=i, field=name)
    if _CSV_FIELD.fullmatch(text):
        if _RISKY_NUMBER.search(text) and not abs(float(text)) <= FLOAT32_MAX:
            raise RequestError(422, "out_of_range", f"{where} is outside the float32 range",
                               instance=i, field=name)
        return text
    if text.lower().lstrip("+-") in ("nan", "inf", "infinity"):
        raise RequestError(422, "non_finite_value", f"{where} is not finite", instance=i, field=name)
    if text.lower() in ("true", "false"):
        raise RequestError(422, "boolean_value", f"{where} is a boolean; a number is required",
                           instance=i, field=name)
    raise RequestError(422, "non_numeric_value", f"{where} is not a number", instance=i, field=name)


def _from_csv(raw: str) -> tuple[bytes, int, str]:
    text = raw.replace("\r\n", "\n") if "\r" in raw else raw
    if text.endswith("\n"):
        text = text[:-1]
    if not text.strip():
        raise RequestError(400, "empty_body", "the request body is empty")
    rows = text.count("\n") + 1
    header = _CSV_HEADER
    if header and text.startswith(header) and text.split("\n", 1)[0].replace(" ", "") == header:
        text = text.partition("\n")[2]
        rows -= 1
        if not text:
            raise RequestError(400, "empty_instances", "the CSV body has a header but no rows")
    if rows > MAX_ROWS:
        raise RequestError(413, "too_many_rows", f"{rows} rows; at most {MAX_ROWS} per request")
    if _CSV_BODY.fullmatch(text):
        payload = text.encode("ascii")
        if not _risky(payload):
            return payload, rows, "fast"
    lines = text.split("\n")
    for i, line in enumerate(lines):
        fields = line.split(",")
        if len(fields) != _N:
            raise RequestError(422, "wrong_arity", f"row {i} has {len(fields)} fields; expected "
                               f"{_N} in feature order", instance=i)
        if not (_CSV_ROW.fullmatch(line) and not _RISKY_NUMBER.search(line)):
            lines[i] = ",".join([_csv_field(f, i, j) for j, f in enumerate(fields)])
    return "\n".join(lines).encode("ascii"), rows, "exact"


def _query(event: dict[str, Any]) -> tuple[Any, Any]:
    params = event.get("queryStringParameters")
    if not isinstance(params, dict):
        return None, None
    return params.get("target_variant"), params.get("inference_id")


# --------------------------------------------------------------------------- endpoint


def _endpoint_error(error: Exception, target_variant: Any) -> RequestError:
    """Map a runtime fault to a caller-safe error; exception text is never echoed."""
    if isinstance(error, ReadTimeoutError):
        return RequestError(504, "endpoint_timeout", "the model did not answer in time")
    if isinstance(error, BotoConnectionError):
        return RequestError(503, "endpoint_unreachable", "the model endpoint could not be reached",
                            retry_after=2)
    if not isinstance(error, ClientError):
        return RequestError(502, "upstream_error", "the model endpoint call failed")
    response = error.response
    code = response.get("Error", {}).get("Code", "")
    if code == "ModelError":
        original = response.get("OriginalStatusCode") or response.get("Error", {}).get(
            "OriginalStatusCode")
        try:
            original = int(original)
        except (TypeError, ValueError):
            original = 0
        if 400 <= original < 500 and original not in (401, 403, 407):
            return RequestError(original, "model_rejected_input",
                                f"the model rejected the input (status {original})")
        return RequestError(502, "model_error", "the model failed to score the request")
    if code in _THROTTLING:
        return RequestError(429, "throttled", "too many requests to the model; retry later",
                            retry_after=1)
    if code == "ModelNotReadyException":
        return RequestError(503, "model_not_ready", "the model is not ready yet; retry later",
                            retry_after=5)
    if code == "ServiceUnavailable":
        return RequestError(503, "endpoint_unavailable", "the model endpoint is unavailable; "
                            "retry later", retry_after=2)
    if code in ("InternalFailure", "InternalDependencyException"):
        return RequestError(503, "endpoint_internal_failure", "the model endpoint failed "
                            "internally; retry later", retry_after=2)
    if code == "ValidationError":
        message = str(response.get("Error", {}).get("Message", ""))
        if _ENDPOINT_NOT_FOUND.search(message):
            return RequestError(502, "endpoint_not_found",
                                "the configured model endpoint does not exist")
        if target_variant and "variant" in message.lower():
            return RequestError(400, "unknown_target_variant",
                                "target_variant does not name a variant of this endpoint")
        return RequestError(502, "endpoint_misconfigured",
                            "the model endpoint rejected the call (service misconfiguration)")
    if code in _ACCESS:
        return RequestError(502, "endpoint_access_denied",
                            "the service is not allowed to call the model endpoint")
    return RequestError(502, "upstream_error", "the model endpoint call failed")


def _score(value: str) -> Any:
    if not value.isascii():  # float() would read other scripts' digits
        raise ValueError(value)
    number = float(value)
    return number if number - number == 0 else None  # NaN/inf -> null


def _predictions(response: dict[str, Any], rows: int) -> str:
    """The predictions as JSON text; number literals are copied, not re-formatted."""
    bad = RequestError(502, "invalid_model_output", "the model returned an unreadable response")
    try:
        text: str = response["Body"].read().decode("utf-8").strip()
        if "json" in str(response.get("ContentType", "")).lower():
            doc = json.loads(text)
            items = doc.get("predictions") if isinstance(doc, dict) else doc
            if not isinstance(items, list) or len(items) != rows:
                raise bad
            out = [item.get("score") if isinstance(item, dict) else item for item in items]
            return json.dumps(out)
        if _PREDICTION_LINES.fullmatch(text) and text.count("\n") + 1 == rows:
            return "[" + text.replace("\n", ",") + "]"
        if _PREDICTION_ROW.fullmatch(text) and text.count(",") + 1 == rows:
            return "[" + text + "]"
        lines = text.splitlines()
        if len(lines) == rows:
            return json.dumps([[_score(v) for v in line.split(",")] if "," in line
                               else _score(line) for line in lines])
        values = text.split(",")
        if len(values) == rows:
            return json.dumps([_score(v) for v in values])
    except (ValueError, AttributeError, TypeError, UnicodeDecodeError):
        raise bad from None
    raise bad


# --------------------------------------------------------------------------- entry point


def _response(status: int, body: str, retry_after: int | None = None) -> dict[str, Any]:
    headers = {"Content-Type": "application/json"}
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return {"statusCode": status, "headers": headers, "body": body}


def handler(event: Any, context: Any) -> dict[str, Any]:
    started = time.perf_counter()
    log: dict[str, Any] = {
        "msg": "predict",
        "request_id": getattr(context, "aws_request_id", None),
        "api_request_id": None, "status": 500, "error_code": None, "content_type": None,
        "rows": 0, "target_variant": None, "variant": None, "path": None,
        "validation_ms": None, "invoke_ms": None, "total_ms": None,
    }
    invoke_started = None
    try:
        if not isinstance(event, dict):
            raise RequestError(400, "invalid_event", "the event is not an API Gateway proxy event")
        request_context = event.get("requestContext")
        if isinstance(request_context, dict) and isinstance(request_context.get("requestId"), str):
            log["api_request_id"] = request_context["requestId"][:128]
        if _CONFIG_ERROR:
            raise RequestError(500, "handler_misconfigured", "the prediction service is misconfigured")
        media = _media_type(event)
        log["content_type"] = media
        raw = _body_text(event)
        if media == "application/json":
            payload, rows, target_variant, inference_id, log["path"] = _from_json(raw)
        else:
            payload, rows, log["path"] = _from_csv(raw)
            target_variant, inference_id = _query(event)
            _check_meta(target_variant, inference_id)
        log["rows"] = rows
        body = payload
        if len(body) > ENDPOINT_LIMIT_BYTES:
            raise RequestError(413, "payload_too_large", f"the rows serialize to {len(body)} bytes; "
                               f"the endpoint accepts at most {ENDPOINT_LIMIT_BYTES}")
        if inference_id is None:
            request_id = log["request_id"]
            if isinstance(request_id, str) and _INFERENCE_ID.fullmatch(request_id):
                inference_id = request_id
        log["target_variant"] = target_variant
        kwargs: dict[str, Any] = {"EndpointName": ENDPOINT_NAME, "Body": body,
                                  "ContentType": "text/csv", "Accept": ENDPOINT_ACCEPT}
        if target_variant:
            kwargs["TargetVariant"] = target_variant
        if inference_id is not None:
            kwargs["InferenceId"] = inference_id
        invoke_started = time.perf_counter()
        log["validation_ms"] = round((invoke_started - started) * 1000, 3)
        try:
            response = _runtime.invoke_endpoint(**kwargs)
        except (ClientError, BotoCoreError) as error:
            log["fault"] = type(error).__name__
            raise _endpoint_error(error, target_variant) from None
        finally:
            log["invoke_ms"] = round((time.perf_counter() - invoke_started) * 1000, 3)
        variant = response.get("InvokedProductionVariant")
        log["variant"] = variant
        out = ('{"predictions":' + _predictions(response, rows) + ',"variant":'
               + json.dumps(variant) + ',"inference_id":' + json.dumps(inference_id) + "}")
        log["status"] = 200
        return _response(200, out)
    except RequestError as error:
        log["status"], log["error_code"] = error.status, error.code
        if log["validation_ms"] is None:
            log["validation_ms"] = round((time.perf_counter() - started) * 1000, 3)
        detail: dict[str, Any] = {"code": error.code, "message": error.message}
        if error.instance is not None:
            detail["instance"] = error.instance
        if error.field is not None:
            detail["field"] = error.field
        return _response(error.status, json.dumps({"error": detail}), error.retry_after)
    except Exception as error:  # a bug: answer in the API's shape, log only the type
        log["status"], log["error_code"] = 500, "internal_error"
        log["fault"] = type(error).__name__
        return _response(500, '{"error":{"code":"internal_error","message":"internal error"}}')
    finally:
        log["total_ms"] = round((time.perf_counter() - started) * 1000, 3)
        log["level"] = "ERROR" if log["status"] >= 500 else "WARN" if log["status"] >= 400 else "INFO"
        sys.stdout.write(json.dumps(log, separators=(",", ":")) + "\n")
