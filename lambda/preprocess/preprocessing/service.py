"""One API Gateway proxy event -> InvokeEndpoint -> one proxy response and one log line.

The service is built once per execution environment (``handler.py`` does it at cold start) from
``Settings`` and a sagemaker-runtime client; ``handle`` is the whole per-request path.
"""

from __future__ import annotations

import functools
import json
import time
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from contract.limits import ENDPOINT_BODY_LIMIT_BYTES
from preprocessing import log_line
from preprocessing.endpoint import endpoint_error, predictions
from preprocessing.json_rows import JsonRows
from preprocessing.request import (
    INFERENCE_ID_PATTERN,
    RequestError,
    body_text,
    check_meta,
    media_type,
    query,
)
from preprocessing.settings import Settings

if TYPE_CHECKING:
    from preprocessing.csv_rows import CsvRows
    from preprocessing.raw_rows import RawRows

_INTERNAL_ERROR = '{"error":{"code":"internal_error","message":"internal error"}}'


def _response(status: int, body: str, retry_after: int | None = None) -> dict[str, Any]:
    headers = {"Content-Type": "application/json"}
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return {"statusCode": status, "headers": headers, "body": body}


class PredictionService:
    """The handler's state: settings, the runtime client and the body parsers built for them."""

    def __init__(self, settings: Settings, runtime: Any) -> None:
        self.settings = settings
        self.runtime = runtime  # read per call: tests and the bench stub or patch it
        self.json_rows = JsonRows(settings.feature_names, max_rows=settings.max_rows,
                                  nulls_missing=settings.nulls_missing)
        spec = settings.input_spec
        # Categorical or text fields: the shared encoder; numbers only: the numeric parsers.
        self.raw_rows: RawRows | None = None
        self.content_type = "text/csv"
        if spec is not None and not spec.plain_numeric:
            from preprocessing.raw_rows import RawRows

            self.raw_rows = RawRows(spec, max_rows=settings.max_rows,
                                    nulls_missing=settings.nulls_missing)
            self.content_type = spec.content_type

    @functools.cached_property
    def csv_rows(self) -> CsvRows:
        """Built at the first CSV request: JSON-only traffic never compiles the CSV parser (every
        module is compiled from source at each cold start)."""
        from preprocessing import csv_rows

        settings = self.settings
        return csv_rows.CsvRows(settings.feature_names, max_rows=settings.max_rows,
                       nulls_missing=settings.nulls_missing)

    def handle(self, event: Any, context: Any) -> dict[str, Any]:
        """The Lambda proxy response for ``event``; never raises."""
        started = time.perf_counter()
        log = log_line.start(getattr(context, "aws_request_id", None))
        settings = self.settings
        try:
            if not isinstance(event, dict):
                raise RequestError(400, "invalid_event", "the event is not an API Gateway proxy event")
            request_context = event.get("requestContext")
            if isinstance(request_context, dict) and isinstance(request_context.get("requestId"), str):
                log["api_request_id"] = request_context["requestId"][:128]
            if settings.config_error:
                raise RequestError(500, "handler_misconfigured",
                                   "the prediction service is misconfigured")
            media = media_type(event)
            log["content_type"] = media
            raw = body_text(event, settings.max_body_bytes)
            if self.raw_rows is not None:
                if media == "application/json":
                    payload, rows, target_variant, inference_id, log["path"] = \
                        self.raw_rows.parse_json(raw)
                else:
                    payload, rows, log["path"] = self.raw_rows.parse_csv(raw)
                    target_variant, inference_id = query(event)
                    check_meta(target_variant, inference_id)
            elif media == "application/json":
                payload, rows, target_variant, inference_id, log["path"] = self.json_rows.parse(raw)
            else:
                payload, rows, log["path"] = self.csv_rows.parse(raw)
                target_variant, inference_id = query(event)
                check_meta(target_variant, inference_id)
            log["rows"] = rows
            body = payload
            if len(body) > ENDPOINT_BODY_LIMIT_BYTES:
                raise RequestError(413, "payload_too_large", f"the rows serialize to {len(body)} "
                                   f"bytes; the endpoint accepts at most {ENDPOINT_BODY_LIMIT_BYTES}")
            if inference_id is None:
                request_id = log["request_id"]
                if isinstance(request_id, str) and INFERENCE_ID_PATTERN.fullmatch(request_id):
                    inference_id = request_id
            log["target_variant"] = target_variant
            kwargs: dict[str, Any] = {"EndpointName": settings.endpoint_name, "Body": body,
                                      "ContentType": self.content_type, "Accept": settings.endpoint_accept}
            if target_variant:
                kwargs["TargetVariant"] = target_variant
            if inference_id is not None:
                kwargs["InferenceId"] = inference_id
            invoke_started = time.perf_counter()
            log["validation_ms"] = round((invoke_started - started) * 1000, 3)
            try:
                response = self.runtime.invoke_endpoint(**kwargs)
            except (ClientError, BotoCoreError) as error:
                log["fault"] = type(error).__name__
                raise endpoint_error(error, target_variant) from None
            finally:
                log["invoke_ms"] = log_line.elapsed_ms(invoke_started)
            variant = response.get("InvokedProductionVariant")
            log["variant"] = variant
            out = ('{"predictions":' + predictions(response, rows) + ',"variant":'
                   + json.dumps(variant) + ',"inference_id":' + json.dumps(inference_id) + "}")
            log["status"] = 200
            return _response(200, out)
        except RequestError as error:
            log["status"], log["error_code"] = error.status, error.code
            if log["validation_ms"] is None:
                log["validation_ms"] = log_line.elapsed_ms(started)
            detail: dict[str, Any] = {"code": error.code, "message": error.message}
            if error.instance is not None:
                detail["instance"] = error.instance
            if error.field is not None:
                detail["field"] = error.field
            return _response(error.status, json.dumps({"error": detail}), error.retry_after)
        except Exception as error:  # a bug: answer in the API's shape, log only the type
            log["status"], log["error_code"] = 500, "internal_error"
            log["fault"] = type(error).__name__
            return _response(500, _INTERNAL_ERROR)
        finally:
            log_line.write(log, started)
