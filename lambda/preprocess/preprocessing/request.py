"""The request as API Gateway hands it over, and what every parser shares.

- ``RequestError``: every answer other than 200 (status, stable code, caller-safe message).
- Number literals kept as text: the JSON scanner's kinds, the float32 range check. Numbers
  are never converted to float and back: the CSV cell is the client's own literal, validated
  by the JSON scanner (or ``CSV_NUMBER`` for CSV bodies).
- The proxy event: headers, the media type, the body, query parameters.
- The metadata fields ``target_variant`` and ``inference_id``.

One module rather than four: every module is compiled from source at each cold start (the
asset carries no bytecode for the runtime's Python), so small modules cost cold-start time.
"""

from __future__ import annotations

import binascii
import json
import re
from typing import Any

from contract.request import (
    ASSIGNMENT_KEY,
    ASSIGNMENT_KEY_MAX_CHARS,
    INFERENCE_ID,
    INSTANCES,
    REQUEST_FIELDS,
    TARGET_VARIANT,
)

# --------------------------------------------------------------------------- errors

class RequestError(Exception):
    """A response other than 200: status, a stable code and a message safe to show the caller."""

    def __init__(self, status: int, code: str, message: str, *, instance: int | None = None,
                 field: str | None = None, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.instance, self.field, self.retry_after = instance, field, retry_after


def quoted(value: str) -> str:
    """A client-supplied name for a message: quoted and cut short."""
    return json.dumps(value[:64] + ("..." if len(value) > 64 else ""))


# --------------------------------------------------------------------------- number literals

FLOAT32_MAX = 3.4028234663852886e38  # XGBoost reads CSV into float32
JSON_NUMBER = r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?"
CSV_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
# A literal that could overflow float32: 30+ characters or an exponent >= 10. Payloads holding
# one take the exact path, which checks the range of each value. (A regex with \d{30} costs
# ~10 ns per character of a clean payload; the byte-level test in ``risky`` ~0.3 ns.)
RISKY_NUMBER = re.compile(r"[^,\n]{30}|[eE]\+?0*[1-9]\d", re.ASCII)
_RISKY_EXPONENT = re.compile(rb"[eE]\+?0*[1-9]\d")
_LONG_CELL = b"x" * 30
_CELL_MASK = bytes(10 if c in b",\n" else 120 for c in range(256))  # each cell -> x...x


class Num(str):
    """Number literal text kept by the exact JSON path (distinguishable from JSON strings)."""

    __slots__ = ()


class NonFinite(str):
    """NaN, Infinity or -Infinity as read by the JSON scanner."""

    __slots__ = ()


def risky(payload: bytes) -> bool:
    """Whether any CSV cell might lie outside float32 (cheap, conservative)."""
    exponents = payload.count(b"e") + payload.count(b"E")
    if exponents and exponents != payload.count(b"e-") + payload.count(b"E-") and \
            _RISKY_EXPONENT.search(payload):  # only non-negative exponents can overflow
        return True
    return _LONG_CELL in payload.translate(_CELL_MASK)


# --------------------------------------------------------------------------- the proxy event

def header(event: dict[str, Any], wanted: str) -> str | None:
    """The first value of header ``wanted`` (lower case), from either header map."""
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


def media_type(event: dict[str, Any]) -> str:
    """``application/json`` or ``text/csv``; 415 for anything else or a charset but utf-8."""
    value = header(event, "content-type")
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


def body_text(event: dict[str, Any], max_bytes: int) -> str:
    """The body as text (base64 decoded if so marked); 413 above ``max_bytes`` bytes."""
    raw = event.get("body")
    if raw is None:
        raw = ""
    if not isinstance(raw, str):
        raise RequestError(400, "invalid_body", "the request body must be text")
    if event.get("isBase64Encoded") is True:
        if len(raw) > max_bytes * 4 // 3 + 4:
            raise RequestError(413, "body_too_large", f"the body exceeds {max_bytes} bytes")
        try:  # a2b_base64 takes ASCII str itself (ValueError otherwise; binascii.Error is one)
            data = binascii.a2b_base64(raw, strict_mode=True)
        except ValueError:
            raise RequestError(400, "invalid_base64", "the body is not valid base64") from None
        if len(data) > max_bytes:
            raise RequestError(413, "body_too_large", f"the body exceeds {max_bytes} bytes")
        try:
            return data.decode()  # UTF-8, always
        except UnicodeDecodeError:
            raise RequestError(400, "invalid_encoding", "the body is not valid UTF-8") from None
    if len(raw) > max_bytes or (
            len(raw) * 4 > max_bytes
            and len(raw.encode("utf-8", "surrogatepass")) > max_bytes):
        raise RequestError(413, "body_too_large", f"the body exceeds {max_bytes} bytes")
    return raw


def query(event: dict[str, Any]) -> tuple[Any, Any, Any]:
    """``target_variant``, ``inference_id`` and ``assignment_key`` from the query string (a CSV
    body carries none of them), checked by ``check_meta``."""
    params = event.get("queryStringParameters")
    if not isinstance(params, dict):
        return None, None, None
    meta = params.get(TARGET_VARIANT), params.get(INFERENCE_ID), params.get(ASSIGNMENT_KEY)
    check_meta(*meta)
    return meta


# --------------------------------------------------------------------------- metadata fields

VARIANT_NAME = re.compile(r"[a-zA-Z0-9](?:-*[a-zA-Z0-9]){0,62}")
INFERENCE_ID_PATTERN = re.compile(r"[\x21-\x7e][\x20-\x7e]{0,63}")


def check_meta(target_variant: Any, inference_id: Any, assignment_key: Any = None) -> None:
    """Raise unless each is absent (None) or a valid value."""
    if target_variant is not None and (
            not isinstance(target_variant, str) or type(target_variant) is Num
            or len(target_variant) > 63 or not VARIANT_NAME.fullmatch(target_variant)):
        raise RequestError(400, "invalid_target_variant",
                           f"{TARGET_VARIANT} must be a production variant name "
                           "(letters, digits and hyphens, at most 63 characters)")
    if inference_id is not None and (
            not isinstance(inference_id, str) or type(inference_id) is Num
            or not INFERENCE_ID_PATTERN.fullmatch(inference_id)):
        raise RequestError(400, "invalid_inference_id",
                           f"{INFERENCE_ID} must be 1-64 printable ASCII characters, "
                           "not starting with a space")
    if assignment_key is not None and (
            not isinstance(assignment_key, str) or type(assignment_key) is Num
            or not 0 < len(assignment_key) <= ASSIGNMENT_KEY_MAX_CHARS):
        raise RequestError(400, "invalid_assignment_key",
                           f"{ASSIGNMENT_KEY} must be a string of 1-{ASSIGNMENT_KEY_MAX_CHARS} "
                           "characters (a user id, for example)")


# --------------------------------------------------------------------------- the JSON document

class DuplicateKeys(dict):  # type: ignore[type-arg]
    """A JSON object that named a key twice (``duplicate``: the first such key)."""

    duplicate = ""


def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook`` of the parsers' decoders: a plain dict, or DuplicateKeys."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        marked = DuplicateKeys(obj)
        for key, _ in pairs:
            if key in seen:
                marked.duplicate = key
                break
            seen.add(key)
        return marked
    return obj


def decode_document(raw: str, decoder: json.JSONDecoder,
                    max_rows: int) -> tuple[list[Any], Any, Any, Any]:
    """A JSON body decoded by ``decoder`` and checked by ``check_document``."""
    if not raw.strip():
        raise RequestError(400, "empty_body", "the request body is empty")
    try:
        doc = decoder.decode(raw)
    except (ValueError, RecursionError):
        raise RequestError(400, "malformed_json", "the request body is not valid JSON") from None
    return check_document(doc, max_rows)


def check_document(doc: Any, max_rows: int) -> tuple[list[Any], Any, Any, Any]:
    """A decoded JSON body's top level, checked: its instances (a non-empty list of at most
    ``max_rows``), target_variant, inference_id and assignment_key."""
    if not isinstance(doc, dict):
        raise RequestError(400, "invalid_body",
                           f'the body must be a JSON object like {{"{INSTANCES}": [...]}}')
    if isinstance(doc, DuplicateKeys):
        raise RequestError(400, "duplicate_field", f"field {quoted(doc.duplicate)} appears twice")
    for key in doc:
        if key not in REQUEST_FIELDS:
            raise RequestError(400, "unknown_field", f"unknown field {quoted(key)}; allowed: "
                               f"{INSTANCES}, {TARGET_VARIANT}, {INFERENCE_ID}, {ASSIGNMENT_KEY}",
                               field=key[:64])
    if INSTANCES not in doc:
        raise RequestError(400, "missing_instances", f'the body needs an "{INSTANCES}" array')
    instances = doc[INSTANCES]
    if not isinstance(instances, list):
        raise RequestError(400, "invalid_instances", f'"{INSTANCES}" must be an array')
    if not instances:
        raise RequestError(400, "empty_instances", f'"{INSTANCES}" must not be empty')
    if len(instances) > max_rows:
        raise RequestError(413, "too_many_rows",
                           f"{len(instances)} {INSTANCES}; at most {max_rows} per request")
    target_variant, inference_id = doc.get(TARGET_VARIANT), doc.get(INFERENCE_ID)
    assignment_key = doc.get(ASSIGNMENT_KEY)
    check_meta(target_variant, inference_id, assignment_key)
    return instances, target_variant, inference_id, assignment_key
