"""Preprocessing Lambda: JSON records -> CSV in the model's feature order -> SageMaker endpoint.

API Gateway (REST, Lambda proxy) -> this handler -> InvokeEndpoint -> JSON predictions and the
production variant that served them. Standard library and boto3 only (both in the runtime).
Configuration comes from the environment the API stack sets from the model manifest:
ENDPOINT_NAME and FEATURE_NAMES (a JSON list, in training order).
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

ENDPOINT_NAME = os.environ.get("ENDPOINT_NAME", "")
FEATURE_NAMES: list[str] = json.loads(os.environ.get("FEATURE_NAMES", "[]"))
MAX_ROWS = int(os.environ.get("MAX_ROWS", "10000"))

# Timeouts sum well under API Gateway's 29 s integration limit; one retry at most.
_runtime = boto3.client(
    "sagemaker-runtime",
    config=Config(connect_timeout=2, read_timeout=20, retries={"max_attempts": 2, "mode": "standard"}),
)


class RequestError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        body = _decode_body(event)
        rows = _rows(body)
        payload = "\n".join(",".join(row) for row in rows) + "\n"
        kwargs: dict[str, Any] = {"EndpointName": ENDPOINT_NAME, "ContentType": "text/csv",
                                  "Accept": "text/csv", "Body": payload.encode()}
        if isinstance(body.get("target_variant"), str):
            kwargs["TargetVariant"] = body["target_variant"]
        try:
            response = _runtime.invoke_endpoint(**kwargs)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code == "ModelError":
                raise RequestError(502, "model_error", "the model could not score the request") from None
            raise RequestError(503, "endpoint_unavailable", "the endpoint is not available") from None
        except BotoCoreError:
            raise RequestError(504, "endpoint_timeout", "the endpoint did not answer in time") from None
        text = response["Body"].read().decode()
        predictions = [float(value) for value in text.replace(",", "\n").split() if value]
        return _response(200, {"predictions": predictions,
                               "variant": response.get("InvokedProductionVariant")})
    except RequestError as error:
        return _response(error.status, {"error": {"code": error.code, "message": error.message}})


def _decode_body(event: dict[str, Any]) -> dict[str, Any]:
    raw = event.get("body") or ""
    if event.get("isBase64Encoded"):
        import base64

        raw = base64.b64decode(raw).decode()
    try:
        body = json.loads(raw)
    except (ValueError, TypeError):
        raise RequestError(400, "malformed_json", "the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise RequestError(400, "invalid_body", 'the body must be an object like {"instances": [...]}')
    return body


def _rows(body: dict[str, Any]) -> list[list[str]]:
    instances = body.get("instances")
    if not isinstance(instances, list) or not instances:
        raise RequestError(400, "missing_instances", '"instances" must be a non-empty list')
    if len(instances) > MAX_ROWS:
        raise RequestError(413, "too_many_rows", f"at most {MAX_ROWS} instances per request")
    rows = []
    for index, instance in enumerate(instances):
        if isinstance(instance, dict):
            unknown = sorted(set(instance) - set(FEATURE_NAMES))
            if unknown:
                raise RequestError(422, "unknown_feature",
                                   f"instances[{index}]: unknown feature {unknown[0]!r}")
            values = [instance.get(name) for name in FEATURE_NAMES]
        elif isinstance(instance, list):
            if len(instance) != len(FEATURE_NAMES):
                raise RequestError(422, "wrong_arity", f"instances[{index}]: expected "
                                   f"{len(FEATURE_NAMES)} values, got {len(instance)}")
            values = instance
        else:
            raise RequestError(422, "invalid_instance",
                               f"instances[{index}] must be an object or an array")
        rows.append([_cell(value, index, name) for value, name in zip(values, FEATURE_NAMES, strict=False)])
    return rows


def _cell(value: Any, index: int, name: str) -> str:
    if value is None:
        return ""  # missing value: XGBoost handles it
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise RequestError(422, "invalid_value", f"instances[{index}].{name} must be a finite number")
    return repr(value)


def _response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"},
            "body": json.dumps(body)}
