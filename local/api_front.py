"""The local API Gateway: ``POST /predict`` as a REST proxy event into the real handler.

What API Gateway does before the function runs is mirrored here, with the stack's settings:
the request validator (``Content-Type`` header required; for JSON, the body must match
``contract.request.REQUEST_SCHEMA``, which the stack's request model is built from too), and
gateway errors in the ``{"error": ...}`` shape of the stack's gateway responses. Not
mirrored: IAM/API-key auth and stage throttling (loopback).
``GET /health`` lists the variants being served; ``GET /`` answers the web page and
``GET /spec`` / ``GET /example`` its documents (local/web.py), which API Gateway does not serve.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from contract.limits import API_PAYLOAD_LIMIT_BYTES
from contract.names import API_STAGE, PREDICT_PATH
from contract.request import REQUEST_SCHEMA
from local.lambda_host import LambdaHandler
from local.loopback_http import LoopbackHandler
from local.web import WebApp

__all__ = ["REQUEST_SCHEMA", "ApiHTTPServer", "LambdaContext", "gateway_error", "proxy_event",
           "validate_request"]

_JSON_TYPES = {"array": list, "string": str, "object": dict}


def _type_only(text: str) -> int:
    return 0


# The validator checks types only, so every number may read as 0: no float/int conversion,
# and no ValueError for integers past Python's 4300-digit limit, which API Gateway accepts.
_NUMBERS_AS_ZERO: dict[str, Any] = {"parse_int": _type_only, "parse_float": _type_only}


def gateway_error(status: int, response_type: str, message: str) -> tuple[int, dict[str, str], bytes]:
    body = json.dumps({"error": {"code": response_type, "message": message}}).encode()
    return status, {"Content-Type": "application/json"}, body


def validate_request(content_type: str | None, body: bytes) -> tuple[int, dict[str, str], bytes] | None:
    """API Gateway's request validator for POST /predict; None when the request passes."""
    if not content_type:
        return gateway_error(400, "BAD_REQUEST_PARAMETERS",
                             "Missing required request parameters: [Content-Type]")
    if content_type.split(";")[0].strip().lower() != "application/json":
        return None  # the model (and so the body check) applies to application/json only
    try:
        document = json.loads(body, **_NUMBERS_AS_ZERO)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than Python's stack
        return gateway_error(400, "BAD_REQUEST_BODY", "Invalid request body")
    if not isinstance(document, dict) or any(key not in document for key in REQUEST_SCHEMA["required"]):
        return gateway_error(400, "BAD_REQUEST_BODY", "Invalid request body")
    for key, rule in REQUEST_SCHEMA["properties"].items():
        if key in document and not isinstance(document[key], _JSON_TYPES[rule["type"]]):
            return gateway_error(400, "BAD_REQUEST_BODY", "Invalid request body")
    return None


def proxy_event(method: str, raw_path: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """The event API Gateway's REST Lambda proxy integration sends for this request."""
    url = urlsplit(raw_path)
    query = parse_qs(url.query, keep_blank_values=True)
    request_id = str(uuid.uuid4())
    try:
        text, encoded = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode("ascii"), True
    return {
        "resource": url.path, "path": url.path, "httpMethod": method,
        "headers": headers, "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": None, "stageVariables": None,
        "requestContext": {
            "resourcePath": url.path, "httpMethod": method, "path": f"/{API_STAGE}{url.path}",
            "stage": API_STAGE, "requestId": request_id, "requestTimeEpoch": int(time.time() * 1000),
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": text if body else None, "isBase64Encoded": encoded,
    }


class LambdaContext:
    """The parts of Lambda's context object the handler reads."""

    function_name = "preprocess-local"
    memory_limit_in_mb = 512

    def __init__(self, timeout_s: float = 25.0) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class _Handler(LoopbackHandler):
    server: ApiHTTPServer

    def do_GET(self) -> None:
        page = self.server.web.get(self.path) if self.server.web is not None else None
        if page is not None:
            self.respond(*page)
        elif urlsplit(self.path).path == "/health":
            self.respond(200, {"Content-Type": "application/json"}, json.dumps(self.server.health).encode())
        else:
            self.respond(*gateway_error(403, "MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token"))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > API_PAYLOAD_LIMIT_BYTES:
            self.close_connection = True
            self.respond(*gateway_error(413, "REQUEST_TOO_LARGE", "Request Too Long"))
            return
        body = self.read_body()
        if urlsplit(self.path).path != PREDICT_PATH:
            self.respond(*gateway_error(403, "MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token"))
            return
        rejected = validate_request(self.headers.get("Content-Type"), body)
        if rejected is not None:
            self.respond(*rejected)
            return
        event = proxy_event("POST", self.path, dict(self.headers.items()), body)
        result = self.server.handler(event, LambdaContext())
        self.respond(int(result["statusCode"]), dict(result.get("headers") or {}),
                   str(result.get("body") or "").encode())

    def log_message(self, format: str, *args: object) -> None:
        if self.server.access_log:
            super().log_message(format, *args)


class ApiHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: LambdaHandler, health: dict[str, Any],
                 *, access_log: bool = False, web: WebApp | None = None) -> None:
        super().__init__(address, _Handler)
        self.handler = handler
        self.health = health
        self.access_log = access_log
        self.web = web
