"""The runtime's edges, function by function: the client's config, every fault's exact answer,
every answer shape the endpoint may send back. No handler: the functions are called directly."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    ProxyConnectionError,
    ReadTimeoutError,
    ResponseStreamingError,
)
from botocore.stub import Stubber

from tests.handler.support import RequestError, ok_response, predictions, streaming

# isort: split
from preprocessing.endpoint import endpoint_error, runtime_client
from preprocessing.settings import Settings

Answer = tuple[int, str, str, int | None]

URL = "https://runtime.sagemaker.eu-west-1.amazonaws.com/endpoints/xgb/invocations"


@pytest.fixture(scope="module")
def session() -> botocore.session.Session:
    session = botocore.session.get_session()
    session.set_config_variable("region", "eu-west-1")
    session.set_credentials("testing", "testing")
    return session


def settings(**overrides: Any) -> Settings:
    return Settings(endpoint_name="xgb", feature_names=("f0",), config_error="", **overrides)


# --------------------------------------------------------------------------- runtime_client

def test_client_takes_the_settings_timeouts_attempts_and_keepalive(session) -> None:
    client = runtime_client(settings(connect_timeout_seconds=3, read_timeout_seconds=7,
                                     max_attempts=4), session=session)
    config = client.meta.config
    assert (config.connect_timeout, config.read_timeout) == (3, 7)
    assert config.retries == {"total_max_attempts": 4, "mode": "standard"}
    assert config.tcp_keepalive is True
    assert client.meta.service_model.service_name == "sagemaker-runtime"
    assert client.meta.region_name == "eu-west-1"
    assert client.meta.endpoint_url == "https://runtime.sagemaker.eu-west-1.amazonaws.com"


def test_client_goes_to_the_given_endpoint_url(session) -> None:
    client = runtime_client(settings(), session=session, endpoint_url="http://127.0.0.1:8080")
    assert client.meta.endpoint_url == "http://127.0.0.1:8080"
    assert (client.meta.config.connect_timeout, client.meta.config.read_timeout) == (1, 10)
    assert client.meta.config.retries == {"total_max_attempts": 2, "mode": "standard"}


# --------------------------------------------------------------------------- endpoint_error

def answer(error: Exception, target_variant: Any = None) -> Answer:
    got = endpoint_error(error, target_variant)
    assert isinstance(got, RequestError) and str(got) == got.message
    assert (got.instance, got.field) == (None, None)
    return got.status, got.code, got.message, got.retry_after


TIMEOUT: Answer = (504, "endpoint_timeout", "the model did not answer in time", None)
UNREACHABLE: Answer = (503, "endpoint_unreachable", "the model endpoint could not be reached", 2)
FAILED: Answer = (502, "upstream_error", "the model endpoint call failed", None)


@pytest.mark.parametrize(("error", "expected"), [
    (ReadTimeoutError(endpoint_url=URL), TIMEOUT),
    (ConnectTimeoutError(endpoint_url=URL), UNREACHABLE),
    (EndpointConnectionError(endpoint_url=URL), UNREACHABLE),
    (ProxyConnectionError(proxy_url="http://proxy:3128", error="refused"), UNREACHABLE),
    # not a connection error: the connection was made, the answer broke off
    (ConnectionClosedError(endpoint_url=URL), FAILED),
    (ResponseStreamingError(error="reset"), FAILED),
    (NoCredentialsError(), FAILED),
    (ParamValidationError(report="Invalid length for parameter EndpointName"), FAILED),
    (RuntimeError("anything else"), FAILED),
], ids=lambda value: type(value).__name__ if isinstance(value, Exception) else "")
def test_transport_and_client_side_faults(error, expected) -> None:
    assert answer(error) == expected
    assert answer(error, "blue") == expected


def client_error(code: str | None, message: str | None = "msg", http: int = 400,
                 **modeled: Any) -> ClientError:
    """A ClientError shaped as botocore's rest-json parser builds it (modeled fields top-level)."""
    fields = {}
    if message is not None:
        fields["Message"] = message
    if code is not None:
        fields["Code"] = code
    response = {"Error": fields, "ResponseMetadata": {
        "HTTPStatusCode": http, "HTTPHeaders": {"x-amzn-errortype": f"{code}:http://internal/"},
        "MaxAttemptsReached": True, "RetryAttempts": 0}, **modeled}
    return ClientError(response, "InvokeEndpoint")


def model_error(original: Any = None, **more: Any) -> ClientError:
    modeled = {} if original is None else {"OriginalStatusCode": original}
    return client_error("ModelError", "Received client error from primary with message x", 424,
                        OriginalMessage="row 1: 0.777", LogStreamArn="arn:aws:logs:x", **modeled, **more)


MODEL_FAILED: Answer = (502, "model_error", "the model failed to score the request", None)


def rejected(status: int) -> Answer:
    return status, "model_rejected_input", f"the model rejected the input (status {status})", None


@pytest.mark.parametrize(("original", "expected"), [
    (400, rejected(400)), (402, rejected(402)), (404, rejected(404)), (408, rejected(408)),
    (415, rejected(415)), (422, rejected(422)), (499, rejected(499)), ("415", rejected(415)),
    # the model's auth failures are not the caller's fault
    (401, MODEL_FAILED), (403, MODEL_FAILED), (407, MODEL_FAILED),
    (399, MODEL_FAILED), (500, MODEL_FAILED), (503, MODEL_FAILED),
    (None, MODEL_FAILED), ("abc", MODEL_FAILED), ([415], MODEL_FAILED), (0, MODEL_FAILED),
])
def test_model_error_by_original_status(original, expected) -> None:
    assert answer(model_error(original)) == expected
    assert answer(model_error(original), "blue") == expected


def test_model_error_original_status_inside_error() -> None:
    error = ClientError({"Error": {"Code": "ModelError", "Message": "m",
                                   "OriginalStatusCode": 415}}, "InvokeEndpoint")
    assert answer(error) == rejected(415)
    error = ClientError({"Error": {"Code": "ModelError", "OriginalStatusCode": 422},
                         "OriginalStatusCode": 0}, "InvokeEndpoint")
    assert answer(error) == rejected(422)  # the top-level one unset: the inner one counts
    error = ClientError({"Error": {"Code": "ModelError", "OriginalStatusCode": 422},
                         "OriginalStatusCode": 404}, "InvokeEndpoint")
    assert answer(error) == rejected(404)  # top-level first


THROTTLED: Answer = (429, "throttled", "too many requests to the model; retry later", 1)
DENIED: Answer = (502, "endpoint_access_denied", "the service is not allowed to call the model endpoint",
                  None)
MISCONFIGURED: Answer = (502, "endpoint_misconfigured",
                         "the model endpoint rejected the call (service misconfiguration)", None)


@pytest.mark.parametrize(("code", "http", "expected"), [
    ("ThrottlingException", 400, THROTTLED), ("Throttling", 400, THROTTLED),
    ("TooManyRequestsException", 429, THROTTLED), ("RequestLimitExceeded", 400, THROTTLED),
    ("ProvisionedThroughputExceededException", 400, THROTTLED),
    ("ModelNotReadyException", 429,
     (503, "model_not_ready", "the model is not ready yet; retry later", 5)),
    ("ServiceUnavailable", 503,
     (503, "endpoint_unavailable", "the model endpoint is unavailable; retry later", 2)),
    ("InternalFailure", 500,
     (503, "endpoint_internal_failure", "the model endpoint failed internally; retry later", 2)),
    ("InternalDependencyException", 530,
     (503, "endpoint_internal_failure", "the model endpoint failed internally; retry later", 2)),
    ("AccessDeniedException", 400, DENIED), ("AccessDenied", 403, DENIED),
    ("UnrecognizedClientException", 400, DENIED), ("InvalidSignatureException", 403, DENIED),
    ("ExpiredTokenException", 400, DENIED), ("ExpiredToken", 400, DENIED),
    ("SomethingNew", 400, FAILED), ("502", 502, FAILED),  # botocore's code for a bare 502
    ("throttlingexception", 400, FAILED), ("", 400, FAILED), (None, 400, FAILED),
])
def test_client_error_codes(code, http, expected) -> None:
    assert answer(client_error(code, "Rate exceeded for 123456789012", http)) == expected
    assert answer(client_error(code, None, http), "blue") == expected


def test_client_error_without_error_fields() -> None:
    assert answer(ClientError({"ResponseMetadata": {"HTTPStatusCode": 500}}, "InvokeEndpoint")) == FAILED
    assert answer(ClientError({}, "InvokeEndpoint"), "blue") == FAILED


NOT_FOUND: Answer = (502, "endpoint_not_found", "the configured model endpoint does not exist", None)
UNKNOWN_VARIANT: Answer = (400, "unknown_target_variant",
                           "target_variant does not name a variant of this endpoint", None)


@pytest.mark.parametrize(("message", "target_variant", "expected"), [
    ("Endpoint xgb-demo-endpoint of account 123456789012 not found.", None, NOT_FOUND),
    ("Endpoint xgb-demo-endpoint of account 123456789012 not found.", "blue", NOT_FOUND),
    ("Could not find endpoint x (variant blue): not found", "blue", NOT_FOUND),  # not found first
    ("ENDPOINT x\nNOT FOUND", None, NOT_FOUND),
    ("Endpoint x was not found", None, NOT_FOUND),
    ("endpoints not found", None, MISCONFIGURED),  # whole words only
    ("Endpoint x: notfound", None, MISCONFIGURED),
    ("The variant blue does not exist for endpoint x", "blue", UNKNOWN_VARIANT),
    ("Target VARIANT blue is not valid", "blue", UNKNOWN_VARIANT),
    ("The variant blue does not exist for endpoint x", None, MISCONFIGURED),  # the caller named none
    ("The variant blue does not exist for endpoint x", "", MISCONFIGURED),
    ("Inference Component Name header is required", "blue", MISCONFIGURED),
    ("Inference Component Name header is required", None, MISCONFIGURED),
    (None, "blue", MISCONFIGURED), (None, None, MISCONFIGURED), ("", "blue", MISCONFIGURED),
])
def test_validation_errors(message, target_variant, expected) -> None:
    assert answer(client_error("ValidationError", message), target_variant) == expected


def test_client_error_through_a_stubbed_client(session) -> None:
    client = runtime_client(settings(), session=session)
    with Stubber(client) as stub:
        stub.add_client_error("invoke_endpoint", service_error_code="ModelError",
                              service_message="Received client error (415)", http_status_code=424,
                              modeled_fields={"OriginalStatusCode": 415, "OriginalMessage": "x"},
                              response_meta={"RequestId": "r-1"})
        stub.add_client_error("invoke_endpoint", service_error_code="ValidationError",
                              service_message="The variant blue does not exist", http_status_code=400)
        errors = []
        for _ in range(2):
            with pytest.raises(ClientError) as caught:
                client.invoke_endpoint(EndpointName="xgb", Body=b"1")
            errors.append(caught.value)
    assert answer(errors[0]) == rejected(415)
    assert answer(errors[1], "blue") == UNKNOWN_VARIANT


# --------------------------------------------------------------------------- predictions

def parsed(text: str | bytes, rows: int, content_type: str | None = "text/csv") -> str:
    response = ok_response(text)
    if content_type is None:
        del response["ContentType"]
    else:
        response["ContentType"] = content_type
    return predictions(response, rows)


@pytest.mark.parametrize(("text", "rows", "expected"), [
    # JSON-number lines or one row: the literals are copied as written
    ("0.50\n0.25", 2, "[0.50,0.25]"),
    ("0.50\n0.25\n", 2, "[0.50,0.25]"),
    ("0.5", 1, "[0.5]"),
    ("-1e-3\n2E+2\n0", 3, "[-1e-3,2E+2,0]"),
    ("0.50,0.25", 2, "[0.50,0.25]"),
    ("1,2,3", 3, "[1,2,3]"),
    # anything else is parsed and re-formatted
    ("5e-01\n.25", 2, "[0.5, 0.25]"),
    ("0.5\r\n0.25\r\n", 2, "[0.5, 0.25]"),
    ("5e-01,.25", 2, "[0.5, 0.25]"),
    ("+1,2", 2, "[1.0, 2.0]"),
    ("0.1,0.9\n0.8,0.2", 2, "[[0.1, 0.9], [0.8, 0.2]]"),
    ("0.1,0.9", 1, "[[0.1, 0.9]]"),
    ("0.1,0.9\n0.8", 2, "[[0.1, 0.9], 0.8]"),
    ("nan\ninf", 2, "[null, null]"),
    ("-inf,1", 2, "[null, 1.0]"),
    (" 0.5 ", 1, "[0.5]"),
])
def test_csv_answers(text, rows, expected) -> None:
    assert parsed(text, rows) == expected


@pytest.mark.parametrize(("text", "rows", "content_type", "expected"), [
    ('{"predictions": [{"score": 0.5}, {"score": 0.25}]}', 2, "application/json", "[0.5, 0.25]"),
    ('{"predictions": [0.5, 0.25]}', 2, "application/json", "[0.5, 0.25]"),
    ('{"predictions": [{"score": 0.5}, 0.25, {"other": 1}]}', 3, "application/json",
     "[0.5, 0.25, null]"),
    ("[0.5, 0.25]", 2, "application/json", "[0.5, 0.25]"),
    ('[{"score": [0.1, 0.9]}]', 1, "application/json", "[[0.1, 0.9]]"),
    ("[]", 0, "application/json", "[]"),
    ('{"predictions": [1]}', 1, "Application/JSON; charset=utf-8", "[1]"),
    ('{"predictions": [1]}', 1, "application/jsonlines", "[1]"),
    # not JSON by its content type: read as CSV
    ("0.5\n0.25", 2, None, "[0.5,0.25]"),
    ("0.5", 1, "text/plain", "[0.5]"),
])
def test_json_answers(text, rows, content_type, expected) -> None:
    assert parsed(text, rows, content_type) == expected


UNREADABLE = (502, "invalid_model_output", "the model returned an unreadable response", None)


@pytest.mark.parametrize(("text", "rows", "content_type"), [
    ('{"predictions": [0.5]}', 2, "application/json"),
    ('{"predictions": "ab"}', 2, "application/json"),
    ('{"predictions": {"a": 1, "b": 2}}', 2, "application/json"),
    ('{"scores": [0.5, 0.25]}', 2, "application/json"),
    ('"ab"', 2, "application/json"),
    ("[0.5, 0.25]", 3, "application/json"),
    ("0.5\n0.25", 2, "application/json"),
    ("[0.5]", 1, "text/csv"),
    ("[0.5]", 1, None),
    ("0.5", 2, "text/csv"),
    ("0.5\n0.25\n0.125", 2, "text/csv"),
    ("0.5,0.25,0.125", 2, "text/csv"),
    ("", 1, "text/csv"),
    ("abc\ndef", 2, "text/csv"),
    ("0.1,,0.2", 1, "text/csv"),
    ("a,b", 2, "text/csv"),
    ("\u0661\n2", 2, "text/csv"),  # Arabic-Indic one: float() would read it
    ("\u0661,2", 2, "text/csv"),
    (b"\xff\n1", 2, "text/csv"),
])
def test_unreadable_answers(text, rows, content_type) -> None:
    with pytest.raises(RequestError) as caught:
        parsed(text, rows, content_type)
    error = caught.value
    assert (error.status, error.code, error.message, error.retry_after) == UNREADABLE
    assert error.__cause__ is None  # nothing of the answer's text is chained


def test_unreadable_body() -> None:
    with pytest.raises(RequestError) as caught:
        predictions({"Body": None, "ContentType": "text/csv"}, 1)
    assert (caught.value.code, caught.value.message) == UNREADABLE[1:3]
    with pytest.raises(RequestError):
        predictions({"Body": streaming(b"[1]"), "ContentType": 7}, 1)  # "7": not JSON, CSV fails
