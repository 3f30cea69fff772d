"""The successful path and every endpoint fault, through real botocore with a Stubber."""

from __future__ import annotations

import base64
import json

import pytest
from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError
from botocore.stub import ANY

from tests.handler.support import CONTEXT, ENDPOINT, call, event, load_handler, ok_response

ROWS = {"instances": [{"f0": 1, "f1": 0.25, "f2": None}, [4, -5.5e-3, 6]]}
PAYLOAD = b"1,0.25,\n4,-0.0055,6"


def expect(stub, body: bytes = PAYLOAD, response: dict | None = None, **params) -> None:
    expected = {"EndpointName": ENDPOINT, "Body": body, "ContentType": "text/csv",
                "Accept": "text/csv", "InferenceId": CONTEXT.aws_request_id, **params}
    stub.add_response("invoke_endpoint", response or ok_response("0.5\n0.25\n"), expected)


def test_objects_and_arrays_become_csv_in_feature_order(h, stub):
    raw = '{"instances": [{"f2": null, "f1": 0.25, "f0": 1}, [4, -5.5e-3, 6]]}'
    expect(stub, b"1,0.25,\n4,-5.5e-3,6")  # literals are forwarded as written
    status, body, _ = call(h, event(raw))
    assert status == 200
    assert body == {"predictions": [0.5, 0.25], "variant": "champion",  # VARIANTS unset: SageMaker's
                    "assignment": "endpoint", "inference_id": CONTEXT.aws_request_id}  # weights pick


def test_exact_path_produces_the_same_payload(h, stub):
    # a backslash in a key forces the exact path; the payload must not change
    raw = '{"instances": [{"f2": null, "f1": 0.25, "f0": 1}, [4, -5.5e-3, 6]], "inference_id": "a\\u0062"}'
    expect(stub, b"1,0.25,\n4,-5.5e-3,6", InferenceId="ab")
    status, body, _ = call(h, event(raw))
    assert (status, body["inference_id"]) == (200, "ab")


def test_target_variant_and_inference_id_are_forwarded(h, stub):
    expect(stub, TargetVariant="challenger", InferenceId="client-42",
           response=ok_response("0.1\n0.2", variant="challenger"))
    status, body, _ = call(h, event({**ROWS, "target_variant": "challenger",
                                     "inference_id": "client-42"}))
    assert status == 200
    assert body == {"predictions": [0.1, 0.2], "variant": "challenger", "assignment": "pinned",
                    "inference_id": "client-42"}


def test_base64_body(h, stub):
    expect(stub)
    status, body, _ = call(h, event(ROWS, base64=True))
    assert (status, body["predictions"]) == (200, [0.5, 0.25])


def test_csv_body_with_header_crlf_and_query_parameters(h, stub):
    expect(stub, b"1,0.25,\n4,-0.0055,6", TargetVariant="champion", InferenceId="csv-1")
    status, body, _ = call(h, event("f0,f1,f2\r\n1,0.25,\r\n4,-0.0055,6\r\n", "text/csv; charset=utf-8",
                                    query={"target_variant": "champion", "inference_id": "csv-1"}))
    assert (status, body["predictions"], body["inference_id"]) == (200, [0.5, 0.25], "csv-1")


def test_csv_fields_are_normalised_on_the_exact_path(h, stub):
    expect(stub, b"1,+0.25,\n.5,6.,7")
    status, _, _ = call(h, event(" 1 , +0.25 ,\n.5,6.,7", "text/csv"))
    assert status == 200


def test_content_type_header_is_case_insensitive(h, stub):
    expect(stub)
    evt = event(ROWS, None, headers={"content-type": "Application/JSON"})
    assert call(h, evt)[0] == 200


@pytest.mark.parametrize(("text", "predictions"), [
    ("0.5,0.25", [0.5, 0.25]),                      # one comma-separated line
    ("0.5\r\n0.25\r\n", [0.5, 0.25]),               # CRLF lines
    ("5e-01\n.25", [0.5, 0.25]),                    # not JSON literals: parsed
    ("nan\n0.25", [None, 0.25]),                    # non-finite -> null
    ("0.1,0.9\n0.8,0.2", [[0.1, 0.9], [0.8, 0.2]]),  # one row of class probabilities per line
])
def test_response_formats(h, stub, text, predictions):
    expect(stub, response=ok_response(text))
    status, body, _ = call(h, event(ROWS))
    assert (status, body["predictions"]) == (200, predictions)


def test_json_response_when_asked():
    module = load_handler(ENDPOINT_ACCEPT="application/json")
    from botocore.stub import Stubber

    with Stubber(module.runtime) as stub:
        stub.add_response("invoke_endpoint", ok_response(
            '{"predictions": [{"score": 0.5}, {"score": 0.25}]}', content_type="application/json"),
            {"EndpointName": ENDPOINT, "Body": PAYLOAD, "ContentType": "text/csv",
             "Accept": "application/json", "InferenceId": ANY})
        status, body, _ = call(module, event(ROWS))
    assert (status, body["predictions"]) == (200, [0.5, 0.25])


@pytest.mark.parametrize("text", ["0.5", "0.5\n0.25\n0.125", "", "abc\ndef", "\xff", "\u0661\n2"])
def test_unreadable_model_output(h, stub, text):
    expect(stub, response=ok_response(text.encode("utf-8") if text.isascii() or "\u0661" in text
                                      else text.encode("latin-1")))
    status, body, _ = call(h, event(ROWS))
    assert (status, body["error"]["code"]) == (502, "invalid_model_output")


FAULTS = [
    # error code, http status, modeled fields, message -> status, code, retry-after
    ("ModelError", 424, {"OriginalStatusCode": 500, "OriginalMessage": "boom f0=1"},
     "Received server error (500) from primary", 502, "model_error", None),
    ("ModelError", 424, {"OriginalStatusCode": 415, "OriginalMessage": "bad type"},
     "Received client error (415) from model", 415, "model_rejected_input", None),
    ("ModelError", 424, {"OriginalStatusCode": 400, "OriginalMessage": "bad row 3"},
     "Received client error (400) from x", 400, "model_rejected_input", None),
    ("ModelError", 424, {}, "no original status", 502, "model_error", None),
    ("ThrottlingException", 400, {}, "Rate exceeded for acct", 429, "throttled", "1"),
    ("ModelNotReadyException", 429, {}, "Model xgb not ready zz", 503, "model_not_ready", "5"),
    ("ServiceUnavailable", 503, {}, "Service is down in az-1", 503, "endpoint_unavailable", "2"),
    ("InternalFailure", 500, {}, "Internal failure qq7", 503, "endpoint_internal_failure", "2"),
    ("InternalDependencyException", 530, {}, "Dependency failed qq8", 503, "endpoint_internal_failure", "2"),
    ("ValidationError", 400, {}, "Endpoint xgb-demo-endpoint of account 123456789012 not found.",
     502, "endpoint_not_found", None),
    ("ValidationError", 400, {}, "Inference Component Name header is required", 502,
     "endpoint_misconfigured", None),
    ("AccessDeniedException", 400, {}, "User arn:aws:sts::123:assumed-role/x is not authorized", 502,
     "endpoint_access_denied", None),
    ("SomethingNew", 400, {}, "surprise qq9", 502, "upstream_error", None),
]


@pytest.mark.parametrize(("error_code", "http", "fields", "message", "status", "code", "retry"), FAULTS,
                         ids=[f"{f[0]}-{f[5]}" for f in FAULTS])
def test_endpoint_faults(h, stub, capsys, error_code, http, fields, message, status, code, retry):
    stub.add_client_error("invoke_endpoint", service_error_code=error_code, service_message=message,
                          http_status_code=http, modeled_fields=fields or None)
    got, body, headers = call(h, event(ROWS))
    assert (got, body["error"]["code"]) == (status, code)
    assert headers.get("Retry-After") == retry
    text = json.dumps(body) + capsys.readouterr().out
    for secret in ("123456789012", "arn:aws", "boom", "bad row", message):
        assert secret not in text  # nothing from the service's message reaches caller or log


def test_unknown_target_variant(h, stub):
    stub.add_client_error("invoke_endpoint", service_error_code="ValidationError",
                          service_message="The variant blue does not exist for endpoint x",
                          http_status_code=400)
    status, body, _ = call(h, event({**ROWS, "target_variant": "blue"}))
    assert (status, body["error"]["code"]) == (400, "unknown_target_variant")


def _raise(exc):
    def handler(**kwargs):
        calls.append(1)
        raise exc

    calls: list[int] = []
    handler.calls = calls  # type: ignore[attr-defined]
    return handler


@pytest.mark.parametrize(("exc", "status", "code"), [
    (ReadTimeoutError(endpoint_url="https://runtime.sagemaker"), 504, "endpoint_timeout"),
    (ConnectTimeoutError(endpoint_url="https://runtime.sagemaker"), 503, "endpoint_unreachable"),
    (EndpointConnectionError(endpoint_url="https://runtime.sagemaker"), 503, "endpoint_unreachable"),
])
def test_transport_faults_are_retried_once_then_mapped(monkeypatch, exc, status, code):
    module = load_handler()
    monkeypatch.setattr("botocore.endpoint.time.sleep", lambda seconds: None)
    raiser = _raise(exc)
    module.runtime.meta.events.register("before-send.sagemaker-runtime.InvokeEndpoint", raiser)
    got, body, _ = call(module, event(ROWS))
    assert (got, body["error"]["code"]) == (status, code)
    assert len(raiser.calls) == 2  # MAX_ATTEMPTS = 2: one retry, bounded
    assert "runtime.sagemaker" not in json.dumps(body)


def test_client_timeouts_fit_under_the_api_limit(h):
    config = h.runtime.meta.config
    assert config.connect_timeout == 1 and config.read_timeout == 10
    attempts = config.retries["total_max_attempts"]
    assert attempts * (config.connect_timeout + config.read_timeout) + 1 < 25 < 29


def test_log_line(h, stub, capsys):
    secret_rows = {"instances": [{"f0": 987654.321, "f1": 0.25, "f2": None}, [4, -5.5e-3, 6]],
                   "target_variant": "challenger"}
    expect(stub, b"987654.321,0.25,\n4,-0.0055,6", TargetVariant="challenger",
           response=ok_response("0.123456\n0.654321", variant="challenger"))
    status, _, _ = call(h, event(secret_rows, base64=True))
    assert status == 200
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    log = json.loads(lines[0])
    assert log["request_id"] == CONTEXT.aws_request_id and log["api_request_id"] == "api-req-1"
    assert (log["status"], log["error_code"], log["rows"]) == (200, None, 2)
    assert (log["variant"], log["target_variant"]) == ("challenger", "challenger")
    assert log["validation_ms"] >= 0 and log["invoke_ms"] >= 0 and log["level"] == "INFO"
    for value in ("987654", "0.123456", "0.654321", "5.5e-3", "-0.0055"):
        assert value not in lines[0]


def test_log_line_on_rejection(h, stub, capsys):
    call(h, event({"instances": [{"f0": "secret-value", "f1": 1, "f2": 2}]}))
    line = capsys.readouterr().out.strip()
    log = json.loads(line)
    assert (log["status"], log["error_code"], log["level"]) == (422, "non_numeric_value", "WARN")
    assert "secret-value" not in line and log["invoke_ms"] is None


def test_model_4xx_message_is_not_echoed(h, stub):
    stub.add_client_error("invoke_endpoint", service_error_code="ModelError", http_status_code=424,
                          service_message="x", modeled_fields={"OriginalStatusCode": 400,
                                                               "OriginalMessage": "row 1: 0.777"})
    status, body, _ = call(h, event(ROWS))
    assert status == 400 and "0.777" not in json.dumps(body)


def test_base64_roundtrip_of_csv(h, stub):
    expect(stub, b"1,2,3", response=ok_response("0.5"))
    evt = event(None, "text/csv")
    evt["body"], evt["isBase64Encoded"] = base64.b64encode(b"1,2,3\n").decode(), True
    assert call(h, evt)[0] == 200
