"""Reading API Gateway's REST proxy event: headers, the media type, the body, query parameters."""

from __future__ import annotations

import binascii
from typing import Any

from contract.request import INFERENCE_ID, TARGET_VARIANT
from preprocessing.errors import RequestError


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
        try:
            data = binascii.a2b_base64(raw.encode("ascii"), strict_mode=True)
        except (ValueError, binascii.Error):
            raise RequestError(400, "invalid_base64", "the body is not valid base64") from None
        if len(data) > max_bytes:
            raise RequestError(413, "body_too_large", f"the body exceeds {max_bytes} bytes")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise RequestError(400, "invalid_encoding", "the body is not valid UTF-8") from None
    if len(raw) > max_bytes or (
            len(raw) * 4 > max_bytes
            and len(raw.encode("utf-8", "surrogatepass")) > max_bytes):
        raise RequestError(413, "body_too_large", f"the body exceeds {max_bytes} bytes")
    return raw


def query(event: dict[str, Any]) -> tuple[Any, Any]:
    """``target_variant`` and ``inference_id`` from the query string (CSV bodies carry neither)."""
    params = event.get("queryStringParameters")
    if not isinstance(params, dict):
        return None, None
    return params.get(TARGET_VARIANT), params.get(INFERENCE_ID)
