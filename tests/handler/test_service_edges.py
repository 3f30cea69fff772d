"""The service's whole answer, log line and InvokeEndpoint call, literally, on each path: JSON and
CSV bodies (fast, exact and raw paths), variants with specs of their own (every variant's parser,
pinned and keyed, the weights from the config), each error answer (bad event, misconfigured,
unknown variant, payload over the endpoint's limit, an endpoint fault, a bug), and the live
weights read again after a chosen variant failed.

``perf_counter`` is a fake in the service and the log line: each reading is 1/1024 s after the
last, so every timing field of the log line is a known number.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.stub import Stubber

from contract.encoding import Field, InputSpec
from contract.limits import ENDPOINT_BODY_LIMIT_BYTES
from tests.handler.support import BASE_ENV, CONTEXT, ENDPOINT, PredictionService, event, ok_response

# isort: split
# The asset's modules: importable once local.lambda_host (support.py) has put the asset on sys.path.
from preprocessing import log_line
from preprocessing import service as service_module
from preprocessing.settings import Settings
from preprocessing.weights import LiveWeights

JSON_HEADERS = {"Content-Type": "application/json"}
REQUEST_ID = CONTEXT.aws_request_id
# Timing fields: one, two or three readings of the fake clock apart (1/1024 s each), in ms.
ONE, TWO, THREE = 0.977, 1.953, 2.93


class Clock:
    """``time`` for the service and the log line: perf_counter steps 1/1024 s per reading."""

    def __init__(self) -> None:
        self.now = 1024.0

    def perf_counter(self) -> float:
        value = self.now
        self.now += 1 / 1024
        return value


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(service_module, "time", fake)
    monkeypatch.setattr(log_line, "time", fake)
    return fake


def logged(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1, lines
    return json.loads(lines[0])  # type: ignore[no-any-return]


def log(**fields: Any) -> dict[str, Any]:
    """A whole log line: a request that got nowhere, with ``fields`` set."""
    return {"msg": "predict", "request_id": REQUEST_ID, "api_request_id": "api-req-1", "status": 500,
            "error_code": None, "content_type": None, "rows": 0, "target_variant": None,
            "variant": None, "assignment": None, "key_hash": None, "weights": None, "path": None,
            "validation_ms": None, "invoke_ms": None, "total_ms": None, **fields}


def invoke_params(body: bytes, **params: Any) -> dict[str, Any]:
    return {"EndpointName": ENDPOINT, "Body": body, "ContentType": "text/csv", "Accept": "text/csv",
            "InferenceId": REQUEST_ID, **params}


def answer(status: int, body: str, **headers: str) -> dict[str, Any]:
    return {"statusCode": status, "headers": {**JSON_HEADERS, **headers}, "body": body}


def error_answer(status: int, code: str, message: str, **headers: str) -> dict[str, Any]:
    return answer(status, json.dumps({"error": {"code": code, "message": message}}), **headers)


# --- one spec for every variant: the numeric parsers -------------------------------------------

def test_a_json_request(h: PredictionService, stub: Stubber, clock: Clock,
                        capsys: pytest.CaptureFixture[str]) -> None:
    stub.add_response("invoke_endpoint", ok_response("0.5\n0.25"),
                      invoke_params(b"1,2,3\n4,5,6"))
    result = h.handle(event({"instances": [[1, 2, 3], {"f0": 4, "f1": 5, "f2": 6}]}), CONTEXT)
    assert result == answer(200, '{"predictions":[0.5,0.25],"variant":"champion",'
                                 f'"assignment":"endpoint","inference_id":"{REQUEST_ID}"}}')
    assert logged(capsys) == log(status=200, content_type="application/json", rows=2,
                                 variant="champion", assignment="endpoint", path="fast",
                                 validation_ms=ONE, invoke_ms=ONE, total_ms=THREE, level="INFO")


@pytest.mark.parametrize(("body", "path"), [("1,2,3\n4,5,6\n", "fast"), ("1, 2,3\n4,5,6", "exact")])
def test_a_csv_request_with_its_fields_in_the_query(h: PredictionService, stub: Stubber, clock: Clock,
                                                    capsys: pytest.CaptureFixture[str], body: str,
                                                    path: str) -> None:
    stub.add_response("invoke_endpoint", ok_response("0.5\n0.25", variant="challenger"),
                      invoke_params(b"1,2,3\n4,5,6", TargetVariant="challenger", InferenceId="req-7"))
    evt = event(body, "text/csv", query={"target_variant": "challenger", "inference_id": "req-7"})
    evt["requestContext"] = {"requestId": "r" * 200}
    result = h.handle(evt, CONTEXT)
    assert result == answer(200, '{"predictions":[0.5,0.25],"variant":"challenger",'
                                 '"assignment":"pinned","inference_id":"req-7"}')
    assert logged(capsys) == log(api_request_id="r" * 128, status=200, content_type="text/csv",
                                 rows=2, target_variant="challenger", variant="challenger",
                                 assignment="pinned", path=path, validation_ms=ONE, invoke_ms=ONE,
                                 total_ms=THREE, level="INFO")


def test_an_event_that_is_not_a_proxy_event(h: PredictionService, stub: Stubber, clock: Clock,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert h.handle(["not", "an", "event"], CONTEXT) == error_answer(
        400, "invalid_event", "the event is not an API Gateway proxy event")
    assert logged(capsys) == log(api_request_id=None, status=400, error_code="invalid_event",
                                 validation_ms=ONE, total_ms=TWO, level="WARN")


def test_a_misconfigured_service(h: PredictionService, stub: Stubber, clock: Clock,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(endpoint_name="", feature_names=("f0",), config_error="ENDPOINT_NAME is not set")
    service = PredictionService(settings, h.runtime)
    assert service.handle(event({"instances": [[1]]}), CONTEXT) == error_answer(
        500, "handler_misconfigured", "the prediction service is misconfigured")
    assert logged(capsys) == log(error_code="handler_misconfigured", validation_ms=ONE,
                                 total_ms=TWO, level="ERROR")


def test_the_payload_limit_is_the_endpoints(h: PredictionService, stub: Stubber, clock: Clock,
                                            capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A payload of exactly the endpoint's limit is sent; one byte more is a 413 (a body limit
    above the endpoint's lets the body through)."""
    monkeypatch.setattr(h.settings, "max_body_bytes", ENDPOINT_BODY_LIMIT_BYTES + 100)
    row = "1,2," + "0." + "0" * (ENDPOINT_BODY_LIMIT_BYTES - 7) + "1"  # one long number: exact path
    assert len(row) == ENDPOINT_BODY_LIMIT_BYTES
    stub.add_response("invoke_endpoint", ok_response("0.5"), invoke_params(row.encode()))
    assert h.handle(event(row, "text/csv"), CONTEXT)["statusCode"] == 200
    capsys.readouterr()
    assert h.handle(event(row + "0", "text/csv"), CONTEXT) == error_answer(
        413, "payload_too_large", "the rows serialize to 6291457 bytes; the endpoint accepts at "
                                  "most 6291456")
    assert logged(capsys) == log(status=413, error_code="payload_too_large", content_type="text/csv",
                                 rows=1, assignment="endpoint", path="exact", validation_ms=ONE,
                                 total_ms=TWO, level="WARN")


def test_an_endpoint_fault(h: PredictionService, stub: Stubber, clock: Clock,
                           capsys: pytest.CaptureFixture[str]) -> None:
    """The answer is the fault's; the log line keeps the validation time measured before the call."""
    stub.add_client_error("invoke_endpoint", service_error_code="ThrottlingException",
                          service_message="Rate exceeded", http_status_code=400,
                          expected_params=invoke_params(b"1,2,3"))
    assert h.handle(event({"instances": [[1, 2, 3]]}), CONTEXT) == error_answer(
        429, "throttled", "too many requests to the model; retry later", **{"Retry-After": "1"})
    assert logged(capsys) == log(status=429, error_code="throttled", content_type="application/json",
                                 rows=1, assignment="endpoint", path="fast", validation_ms=ONE,
                                 invoke_ms=ONE, total_ms=THREE, fault="ClientError", level="WARN")


def test_a_bug_answers_internal_error(h: PredictionService, clock: Clock,
                                      capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    def invoke_endpoint(**_: Any) -> dict[str, Any]:
        raise RuntimeError("a bug")

    monkeypatch.setattr(h, "runtime", SimpleNamespace(invoke_endpoint=invoke_endpoint))
    assert h.handle(event({"instances": [[1, 2, 3]]}), CONTEXT) == answer(
        500, '{"error":{"code":"internal_error","message":"internal error"}}')
    assert logged(capsys) == log(error_code="internal_error", content_type="application/json",
                                 rows=1, assignment="endpoint", path="fast", validation_ms=ONE,
                                 invoke_ms=ONE, total_ms=THREE, fault="RuntimeError", level="ERROR")


def test_a_fault_of_a_chosen_variant_reads_the_weights_again(h: PredictionService, stub: Stubber) -> None:
    lookups: list[int] = []

    def fetch() -> dict[str, float]:
        lookups.append(1)
        return {"champion": 1.0, "challenger": 0.0}

    variants = [{"name": "champion", "weight": 0.5}, {"name": "challenger", "weight": 0.5}]
    service = PredictionService(
        Settings.from_environ({**BASE_ENV, "VARIANTS": json.dumps(variants)}), h.runtime,
        weights=LiveWeights({"champion": 0.5, "challenger": 0.5}, fetch, ttl_seconds=30,
                            clock=lambda: 0.0))

    def send(doc: dict[str, Any], variant: str, *, fault: bool) -> None:
        params = invoke_params(b"1,2,3", TargetVariant=variant)
        if fault:
            stub.add_client_error("invoke_endpoint", service_error_code="ModelNotReadyException",
                                  http_status_code=429, expected_params=params)
        else:
            stub.add_response("invoke_endpoint", ok_response("0.5", variant=variant), params)
        assert service.handle(event(doc), CONTEXT)["statusCode"] == (503 if fault else 200)

    rows: dict[str, Any] = {"instances": [[1, 2, 3]]}
    send(rows, "champion", fault=True)  # random: the weights read, then expired by the fault
    assert len(lookups) == 1
    send(rows, "champion", fault=False)  # read again, within the TTL
    assert len(lookups) == 2
    send({**rows, "target_variant": "challenger"}, "challenger", fault=True)  # pinned: no expiry
    send(rows, "champion", fault=False)  # within the TTL: not read
    assert len(lookups) == 2


# --- variants with specs of their own ------------------------------------------------------------

CHAMPION = InputSpec((Field("size"), Field("island", "categorical", categories=("Biscoe", "Dream"))),
                     "csv")
CHALLENGER = InputSpec((Field("size"), Field("colour", "categorical", categories=("red",))), "libsvm")
# Keys and the variant each is assigned by the config weights below (rendezvous hashing).
KEY_TO_SHADOW, KEY_TO_CHALLENGER = "dave", "alice"


def variant_service(runtime: Any, folder: Path, **env: str) -> PredictionService:
    """champion and challenger with specs of their own, shadow with FEATURE_NAMES; built without
    live weights, so the config's weights assign."""
    (folder / "a.json").write_text(CHAMPION.to_json(), encoding="utf-8")
    (folder / "b.json").write_text(CHALLENGER.to_json(), encoding="utf-8")
    variants = [{"name": "champion", "weight": 0.5, "spec": "a.json"},
                {"name": "challenger", "weight": 0.3, "spec": "b.json"},
                {"name": "shadow", "weight": 0.2}]
    settings = Settings.from_environ({**BASE_ENV, "VARIANTS": json.dumps(variants),
                                      "INPUT_SPEC_DIR": str(folder), **env})
    assert settings.config_error == ""
    return PredictionService(settings, runtime)


@pytest.fixture
def vs(h: PredictionService, tmp_path: Path) -> PredictionService:
    """The variant service on h's runtime (the ``stub`` fixture stubs it). Built per test: each
    test then reaches ``__init__`` (mutmut runs a mutant of it only with the tests that call it)."""
    return variant_service(h.runtime, tmp_path)


EVERY_FIELD = {"size": 1.5, "island": "Dream", "colour": "red", "f0": 1, "f1": 2, "f2": 3}
NULLS = {"size": None, "island": "Biscoe", "colour": "blue", "f0": None, "f1": None, "f2": None}


def test_json_rows_pinned_to_a_variant_with_its_own_spec(vs: PredictionService, stub: Stubber,
                                                         clock: Clock,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """A row may carry every variant's fields; nulls are missing values (the default policy)."""
    stub.add_response("invoke_endpoint", ok_response("0.5\n0.25", variant="challenger"),
                      invoke_params(b"0:1 1:1.5 2:1 4:1\n0:1 3:1 4:1", ContentType="text/libsvm",
                                    TargetVariant="challenger"))
    doc = {"instances": [EVERY_FIELD, NULLS], "target_variant": "challenger"}
    assert vs.handle(event(doc), CONTEXT) == answer(
        200, '{"predictions":[0.5,0.25],"variant":"challenger","assignment":"pinned",'
             f'"inference_id":"{REQUEST_ID}"}}')
    assert logged(capsys) == log(status=200, content_type="application/json", rows=2,
                                 target_variant="challenger", variant="challenger",
                                 assignment="pinned", path="raw", validation_ms=ONE, invoke_ms=ONE,
                                 total_ms=THREE, level="INFO")


def test_json_rows_keyed_to_the_variant_without_a_spec(vs: PredictionService, stub: Stubber,
                                                       clock: Clock,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    stub.add_response("invoke_endpoint", ok_response("0.5", variant="shadow"),
                      invoke_params(b"1.0,2.0,3.0", TargetVariant="shadow", InferenceId="q1"))
    doc = {"instances": [EVERY_FIELD], "assignment_key": KEY_TO_SHADOW, "inference_id": "q1"}
    assert vs.handle(event(doc), CONTEXT) == answer(
        200, '{"predictions":[0.5],"variant":"shadow","assignment":"keyed","inference_id":"q1"}')
    assert logged(capsys) == log(status=200, content_type="application/json", rows=1,
                                 variant="shadow", assignment="keyed", key_hash="172ecad9f2c8a796",
                                 weights="config", path="raw", validation_ms=ONE, invoke_ms=ONE,
                                 total_ms=THREE, level="INFO")


def test_csv_rows_pinned_to_a_variant_with_its_own_spec(vs: PredictionService, stub: Stubber,
                                                        clock: Clock,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    stub.add_response("invoke_endpoint", ok_response("0.5\n0.25"),
                      invoke_params(b"1.5,0,1,0\n,1,0,0", TargetVariant="champion"))
    evt = event("size,island\n1.5,Dream\n,Biscoe\n", "text/csv", query={"target_variant": "champion"})
    assert vs.handle(evt, CONTEXT) == answer(
        200, '{"predictions":[0.5,0.25],"variant":"champion","assignment":"pinned",'
             f'"inference_id":"{REQUEST_ID}"}}')
    assert logged(capsys) == log(status=200, content_type="text/csv", rows=2,
                                 target_variant="champion", variant="champion", assignment="pinned",
                                 path="raw", validation_ms=ONE, invoke_ms=ONE, total_ms=THREE,
                                 level="INFO")


def test_csv_rows_keyed_to_a_variant_with_its_own_spec(vs: PredictionService, stub: Stubber,
                                                       clock: Clock,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    stub.add_response("invoke_endpoint", ok_response("0.5", variant="challenger"),
                      invoke_params(b"0:1 1:1.5 2:1 4:1", ContentType="text/libsvm",
                                    TargetVariant="challenger"))
    evt = event("1.5,red", "text/csv", query={"assignment_key": KEY_TO_CHALLENGER})
    assert vs.handle(evt, CONTEXT) == answer(
        200, f'{{"predictions":[0.5],"variant":"challenger","assignment":"keyed",'
             f'"inference_id":"{REQUEST_ID}"}}')
    assert logged(capsys) == log(status=200, content_type="text/csv", rows=1, variant="challenger",
                                 assignment="keyed", key_hash="93cf7446fda43246", weights="config",
                                 path="raw", validation_ms=ONE, invoke_ms=ONE, total_ms=THREE,
                                 level="INFO")


def test_a_target_variant_the_endpoint_does_not_have(vs: PredictionService, stub: Stubber,
                                                     clock: Clock,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    doc = {"instances": [EVERY_FIELD], "target_variant": "nope"}
    assert vs.handle(event(doc), CONTEXT) == error_answer(
        400, "unknown_target_variant", "target_variant does not name a variant of this endpoint")
    assert logged(capsys) == log(status=400, error_code="unknown_target_variant",
                                 content_type="application/json", validation_ms=ONE, total_ms=TWO,
                                 level="WARN")


def test_each_variants_parser_keeps_the_row_limit(h: PredictionService, stub: Stubber,
                                                  tmp_path: Path) -> None:
    service = variant_service(h.runtime, tmp_path, MAX_ROWS="1")
    for target, body in (("champion", "1.5,Dream\n2,Biscoe"), ("challenger", "1.5,red\n2,red"),
                         ("shadow", "1,2,3\n4,5,6")):
        evt = event(body, "text/csv", query={"target_variant": target})
        assert service.handle(evt, CONTEXT) == error_answer(
            413, "too_many_rows", "2 rows; at most 1 per request")
