"""One API Gateway proxy event -> InvokeEndpoint -> one proxy response and one log line.

The service is built once per execution environment (``handler.py`` does it at cold start) from
``Settings``, a sagemaker-runtime client and the live weights; ``handle`` is the whole
per-request path: read the body, choose the variant (contract/assignment.py: pinned by
``target_variant``, sticky by ``assignment_key``, else random by the endpoint's live weights),
encode the rows with that variant's spec, invoke it with ``TargetVariant``.
"""

from __future__ import annotations

import functools
import json
import random
import time
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from contract.assignment import KEYED, PINNED, RANDOM, key_digest, keyed_variant, random_variant
from contract.limits import ENDPOINT_BODY_LIMIT_BYTES
from contract.request import TARGET_VARIANT
from preprocessing import log_line
from preprocessing.endpoint import endpoint_error, predictions
from preprocessing.json_rows import JsonRows
from preprocessing.request import (
    INFERENCE_ID_PATTERN,
    RequestError,
    body_text,
    media_type,
    query,
)
from preprocessing.settings import Settings
from preprocessing.weights import LiveWeights

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

    def __init__(self, settings: Settings, runtime: Any, *, weights: LiveWeights | None = None,
                 rng: random.Random | None = None) -> None:
        self.settings = settings
        self.runtime = runtime  # read per call: tests and the bench stub or patch it
        self.variant_names = frozenset(v.name for v in settings.variants)
        self.weights = weights or LiveWeights({v.name: v.weight for v in settings.variants}, None,
                                              ttl_seconds=settings.weights_ttl_seconds)
        self.rng = rng or random.Random()
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
        # Variants with specs of their own: each variant's rows are encoded by its own parser.
        # Typed str | None for assign's result: with variants configured it always names one.
        self.variant_rows: dict[str | None, RawRows] = {}
        if any(v.spec is not None for v in settings.variants):
            from contract.encoding import numeric_spec
            from preprocessing.raw_rows import RawRows

            shared = spec or numeric_spec(settings.feature_names)
            specs = {v.name: v.spec or shared for v in settings.variants}
            every_field = frozenset(name for s in specs.values() for name in s.field_names)
            for name, own in specs.items():
                self.variant_rows[name] = RawRows(own, max_rows=settings.max_rows,
                                                  nulls_missing=settings.nulls_missing,
                                                  also_accepted=every_field)

    def assign(self, target_variant: Any, assignment_key: Any) -> tuple[str | None, str]:
        """The variant to invoke and how it was chosen (contract/assignment.py)."""
        if target_variant is not None:
            if self.variant_names and target_variant not in self.variant_names:
                raise RequestError(400, "unknown_target_variant",
                                   f"{TARGET_VARIANT} does not name a variant of this endpoint")
            return target_variant, PINNED
        if not self.variant_names:
            return None, "endpoint"  # SageMaker's weights choose
        weights = self.weights.current()
        if assignment_key is not None:
            return keyed_variant(assignment_key, weights), KEYED
        return random_variant(weights, self.rng), RANDOM

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
            content_type = self.content_type
            if self.variant_rows:  # the variant first, then its spec encodes the rows
                from preprocessing.raw_rows import decode_json

                if media == "application/json":
                    instances, target_variant, inference_id, key = decode_json(raw, settings.max_rows)
                    variant, how = self.assign(target_variant, key)
                    parser = self.variant_rows[variant]
                    payload, rows = parser.encode_instances(instances)
                    log["path"] = "raw"
                else:
                    target_variant, inference_id, key = query(event)
                    variant, how = self.assign(target_variant, key)
                    parser = self.variant_rows[variant]
                    payload, rows, log["path"] = parser.parse_csv(raw)
                content_type = parser.spec.content_type
            else:  # one spec for every variant: raw fields, or the numeric parsers
                raw_rows = self.raw_rows
                if media == "application/json":
                    parse_json = raw_rows.parse_json if raw_rows is not None else self.json_rows.parse
                    payload, rows, target_variant, inference_id, key, log["path"] = parse_json(raw)
                else:
                    parse_csv = raw_rows.parse_csv if raw_rows is not None else self.csv_rows.parse
                    payload, rows, log["path"] = parse_csv(raw)
                    target_variant, inference_id, key = query(event)
                variant, how = self.assign(target_variant, key)
            log["assignment"] = how
            if key is not None:
                log["key_hash"] = key_digest(key)
            if how in (KEYED, RANDOM):
                log["weights"] = self.weights.source
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
                                      "ContentType": content_type, "Accept": settings.endpoint_accept}
            if variant:
                kwargs["TargetVariant"] = variant
            if inference_id is not None:
                kwargs["InferenceId"] = inference_id
            invoke_started = time.perf_counter()
            log["validation_ms"] = round((invoke_started - started) * 1000, 3)
            try:
                response = self.runtime.invoke_endpoint(**kwargs)
            except (ClientError, BotoCoreError) as error:
                log["fault"] = type(error).__name__
                if how != PINNED:  # a variant we chose is gone: read the live weights again
                    self.weights.expire()
                # target_variant is set only when pinned: assign pins every request naming one.
                raise endpoint_error(error, target_variant) from None
            finally:
                log["invoke_ms"] = log_line.elapsed_ms(invoke_started)
            variant = response.get("InvokedProductionVariant")
            log["variant"] = variant
            out = ('{"predictions":' + predictions(response, rows) + ',"variant":'
                   + json.dumps(variant) + ',"assignment":"' + how + '","inference_id":'
                   + json.dumps(inference_id) + "}")
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
