"""Helpers for the handler tests.

Load lambda/preprocess/handler.py by path (``lambda`` is a keyword) under a given environment.

Each call of ``load_handler`` sets the environment first and executes the module afresh, so
module-level configuration and the runtime client reflect it. ``stub`` wraps the module-level
client in a botocore Stubber: every call goes through real botocore parameter validation.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from botocore.response import StreamingBody

HANDLER_PATH = Path(__file__).resolve().parents[2] / "lambda" / "preprocess" / "handler.py"
FEATURES = ["f0", "f1", "f2"]
ENDPOINT = "xgb-demo-endpoint"
BASE_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "ENDPOINT_NAME": ENDPOINT,
    "FEATURE_NAMES": json.dumps(FEATURES),
}
CONFIG_VARS = ("MAX_ROWS", "MAX_BODY_BYTES", "NULL_POLICY", "ENDPOINT_ACCEPT",
               "CONNECT_TIMEOUT_SECONDS", "READ_TIMEOUT_SECONDS", "MAX_ATTEMPTS")


def load_handler(monkeypatch: pytest.MonkeyPatch | None = None, **env: str) -> ModuleType:
    values = {**BASE_ENV, **env}
    for name in CONFIG_VARS:
        if name not in values:
            if monkeypatch:
                monkeypatch.delenv(name, raising=False)
            else:
                os.environ.pop(name, None)
    for name, value in values.items():
        if monkeypatch:
            monkeypatch.setenv(name, value)
        else:
            os.environ[name] = value
    spec = importlib.util.spec_from_file_location("preprocess_handler", HANDLER_PATH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["preprocess_handler"] = module
    spec.loader.exec_module(module)
    return module


def streaming(data: bytes) -> StreamingBody:
    return StreamingBody(io.BytesIO(data), len(data))


def ok_response(body: bytes | str, variant: str = "champion",
                content_type: str = "text/csv") -> dict[str, Any]:
    data = body.encode() if isinstance(body, str) else body
    return {"Body": streaming(data), "ContentType": content_type,
            "InvokedProductionVariant": variant}


def event(body: Any = None, content_type: str | None = "application/json", *,
          base64: bool = False, query: dict[str, str] | None = None,
          headers: dict[str, str] | None = None) -> dict[str, Any]:
    if body is not None and not isinstance(body, str):
        body = json.dumps(body)
    hdrs = dict(headers or {})
    if content_type is not None:
        hdrs["Content-Type"] = content_type
    if base64 and body is not None:
        import base64 as b64

        body = b64.b64encode(body.encode()).decode()
    return {"resource": "/predict", "path": "/predict", "httpMethod": "POST", "headers": hdrs,
            "multiValueHeaders": {k: [v] for k, v in hdrs.items()},
            "queryStringParameters": query, "requestContext": {"requestId": "api-req-1"},
            "body": body, "isBase64Encoded": base64}


CONTEXT = SimpleNamespace(aws_request_id="11111111-2222-3333-4444-555555555555")


def call(module: ModuleType, evt: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
    result = module.handler(evt, CONTEXT)
    return result["statusCode"], json.loads(result["body"]), result["headers"]


