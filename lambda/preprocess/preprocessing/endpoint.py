"""The SageMaker runtime: its client, the mapping of its faults, the predictions it returns."""

from __future__ import annotations

import json
import re
from typing import Any

import botocore.session
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ReadTimeoutError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

from contract.request import TARGET_VARIANT
from preprocessing.request import JSON_NUMBER, RequestError
from preprocessing.settings import Settings

_PREDICTION_LINES = re.compile(rf"{JSON_NUMBER}(?:\n{JSON_NUMBER})*", re.ASCII)
_PREDICTION_ROW = re.compile(rf"{JSON_NUMBER}(?:,{JSON_NUMBER})*", re.ASCII)
_ENDPOINT_NOT_FOUND = re.compile(r"endpoint\b.*\bnot found", re.IGNORECASE | re.DOTALL)
_THROTTLING = frozenset(("ThrottlingException", "Throttling", "TooManyRequestsException",
                         "RequestLimitExceeded", "ProvisionedThroughputExceededException"))
_ACCESS = frozenset(("AccessDeniedException", "AccessDenied", "UnrecognizedClientException",
                     "InvalidSignatureException", "ExpiredTokenException", "ExpiredToken"))


def runtime_client(settings: Settings, *, session: botocore.session.Session | None = None,
                   endpoint_url: str | None = None) -> Any:
    """A sagemaker-runtime client with the settings' timeouts and bounded retries.

    Worst case MAX_ATTEMPTS * (connect + read) + one backoff (<= 1 s) = 23 s with the defaults:
    under the Lambda timeout (25 s), which is under API Gateway's 29 s integration timeout.
    ``session`` defaults to a new botocore session (Lambda's credentials and region). botocore
    directly, not boto3: the handler needs a low-level client only, and skipping boto3's session
    layer takes about 10 ms off every cold start.
    """
    config = Config(connect_timeout=settings.connect_timeout_seconds,
                    read_timeout=settings.read_timeout_seconds,
                    retries={"total_max_attempts": settings.max_attempts, "mode": "standard"},
                    tcp_keepalive=True)
    session = session or botocore.session.get_session()
    return session.create_client("sagemaker-runtime", config=config, endpoint_url=endpoint_url)


def endpoint_error(error: Exception, target_variant: Any) -> RequestError:
    """Map a runtime fault to a caller-safe error; exception text is never echoed."""
    if isinstance(error, ReadTimeoutError):
        return RequestError(504, "endpoint_timeout", "the model did not answer in time")
    if isinstance(error, BotoConnectionError):
        return RequestError(503, "endpoint_unreachable", "the model endpoint could not be reached",
                            retry_after=2)
    if not isinstance(error, ClientError):
        return RequestError(502, "upstream_error", "the model endpoint call failed")
    response = error.response
    fields = response.get("Error", {})
    code = fields.get("Code")  # absent: None, which names no fault below
    if code == "ModelError":
        original = response.get("OriginalStatusCode") or fields.get("OriginalStatusCode")
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
        message = str(fields.get("Message", ""))
        if _ENDPOINT_NOT_FOUND.search(message):
            return RequestError(502, "endpoint_not_found",
                                "the configured model endpoint does not exist")
        if target_variant and "variant" in message.lower():
            return RequestError(400, "unknown_target_variant",
                                f"{TARGET_VARIANT} does not name a variant of this endpoint")
        return RequestError(502, "endpoint_misconfigured",
                            "the model endpoint rejected the call (service misconfiguration)")
    if code in _ACCESS:
        return RequestError(502, "endpoint_access_denied",
                            "the service is not allowed to call the model endpoint")
    return RequestError(502, "upstream_error", "the model endpoint call failed")


def _score(value: str) -> Any:
    if not value.isascii():  # float() would read other scripts' digits
        raise ValueError  # predictions answers invalid_model_output, whatever the value
    number = float(value)
    return number if number - number == 0 else None  # NaN/inf -> null


def predictions(response: dict[str, Any], rows: int) -> str:
    """The predictions as JSON text; number literals are copied, not re-formatted."""
    bad = RequestError(502, "invalid_model_output", "the model returned an unreadable response")
    try:
        text: str = response["Body"].read().decode().strip()  # UTF-8
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
