"""Helpers for the handler tests.

``load_handler`` builds the Lambda's service (local/lambda_host.py, the one loader) from the
base environment plus overrides; nothing touches ``os.environ``. The test ``h`` fixture and
``load_handler`` return that service: ``handle(event, context)`` is the entry point's work,
``runtime`` the sagemaker-runtime client (``stub`` wraps it in a botocore Stubber: every call
goes through real botocore parameter validation), ``json_rows`` the JSON body parser.
"""

from __future__ import annotations

import io
import json
from types import SimpleNamespace
from typing import Any

from botocore.response import StreamingBody

from local.lambda_host import PredictionService, load_service

# isort: split
# The asset's modules: importable once local.lambda_host has put the asset on sys.path.
from preprocessing.endpoint import predictions
from preprocessing.json_rows import Slow
from preprocessing.request import RequestError

__all__ = ["PredictionService", "RequestError", "Slow", "predictions"]

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


def load_handler(**env: str) -> PredictionService:
    return load_service({**BASE_ENV, **env})


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


def call(service: PredictionService, evt: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
    result = service.handle(evt, CONTEXT)
    return result["statusCode"], json.loads(result["body"]), result["headers"]


