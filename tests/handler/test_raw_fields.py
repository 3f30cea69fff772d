"""The handler with raw fields: what it sends the endpoint, and the named 400s that send nothing.

The spec is written as the API stack writes it (input_spec.json, named by INPUT_SPEC_FILE) and
read by the real loader; every call goes through a botocore Stubber, so a bad request that
reached the endpoint would fail the test with an unexpected call.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract.encoding import Field, InputSpec
from local.lambda_host import function_environment
from tests.handler.support import BASE_ENV, CONTEXT, call, event, load_handler, ok_response

FIELDS = (
    Field("size"),
    Field("island", "categorical", categories=("Biscoe", "Dream")),
    Field("review", "text", vocabulary=("good", "bad", "café"), max_chars=100),
)
LIBSVM = InputSpec(FIELDS, "libsvm")
CSV = InputSpec(FIELDS, "csv")
REJECTING = InputSpec((FIELDS[0], Field("island", "categorical", categories=("Biscoe",),
                                        unseen="reject")), "csv")


def service_for(spec: InputSpec, directory: Path, **extra: str) -> Any:
    env = {k: v for k, v in BASE_ENV.items() if k != "FEATURE_NAMES"}
    return load_handler(**{**env, **function_environment("xgb-demo-endpoint", spec, directory),
                           **extra})


@pytest.fixture(scope="module")
def libsvm_service(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return service_for(LIBSVM, tmp_path_factory.mktemp("libsvm"))


@pytest.fixture
def stub(libsvm_service: Any) -> Iterator[Stubber]:
    with Stubber(libsvm_service.runtime) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def expect(stubber: Stubber, body: bytes, rows: int, content_type: str = "text/libsvm") -> None:
    stubber.add_response("invoke_endpoint", ok_response("\n".join(["1.5"] * rows)), expected_params={
        "EndpointName": "xgb-demo-endpoint", "Body": body, "ContentType": content_type,
        "Accept": "text/csv", "InferenceId": CONTEXT.aws_request_id})


def test_json_rows_are_encoded_by_the_spec(libsvm_service: Any, stub: Stubber) -> None:
    # columns: 0 constant, 1 size, 2-4 island (Biscoe, Dream, other), 5-7 review, 8 end
    expect(stub, b"0:1 1:3.5 2:1 5:2 6:1 8:1\n0:1 4:1 7:1 8:1\n0:1 1:0.0 8:1", 3)
    status, body, _ = call(libsvm_service, event({"instances": [
        {"size": 3.5, "island": "Biscoe", "review": "<b>Good</b>, good &amp; BAD"},
        {"size": None, "island": "Atlantis", "review": "CAFÉ"},  # unseen -> (other); non-ASCII
        {"size": 0, "island": None, "review": ""},  # zero is a value, null and "" are not
    ]}))
    assert status == 200, body
    assert body["predictions"] == [1.5, 1.5, 1.5]


def test_csv_rows_with_quoted_texts_and_a_header(libsvm_service: Any, stub: Stubber) -> None:
    expect(stub, b"0:1 1:2.0 3:1 5:1 6:1 8:1\n0:1 8:1", 2)
    raw = 'size,island,review\n2,Dream,"good,\n""bad"""\n,,\n'
    status, body, _ = call(libsvm_service, event(raw, "text/csv"))
    assert status == 200, body


def test_the_csv_format_sends_dense_rows(tmp_path: Path) -> None:
    service = service_for(CSV, tmp_path)
    with Stubber(service.runtime) as stubber:
        expect(stubber, b"1.0,0,1,0,0,0,0\n,,,,1,0,0", 2, "text/csv")
        status, body, _ = call(service, event({"instances": [
            {"size": 1, "island": "Dream", "review": None},
            {"size": None, "island": None, "review": "good"},
        ]}))
        stubber.assert_no_pending_responses()
    assert status == 200, body


def bad(service: Any, evt: dict[str, Any]) -> dict[str, Any]:
    with Stubber(service.runtime) as stubber:  # no response queued: any call fails the test
        status, body, _ = call(service, evt)
        stubber.assert_no_pending_responses()
    assert status == 400, body
    return body["error"]  # type: ignore[no-any-return]


ROW = {"size": 1, "island": "Biscoe", "review": "good"}


@pytest.mark.parametrize(("instances", "code", "field", "words"), [
    ([ROW, {**ROW, "size": "1"}], "wrong_kind", "size", "instances[1].size must be a number"),
    ([{**ROW, "size": True}], "wrong_kind", "size", "must be a number"),
    ([{**ROW, "island": 2.5}], "wrong_kind", "island", "must be a string (a category)"),
    ([{**ROW, "review": ["good"]}], "wrong_kind", "review", "must be a string (text)"),
    ([{**ROW, "review": "good " * 30}], "text_too_long", "review", "150 characters; at most 100"),
    ([{**ROW, "size": 1e39}], "out_of_range", "size", "float32"),
    ([{**ROW, "size": 10**400}], "out_of_range", "size", "float32"),
    ([{**ROW, "colour": "red"}], "unknown_field", "colour", 'unknown field "colour"'),
    ([{"size": 1, "island": "Biscoe"}], "missing_field", "review", "send null"),
])
def test_bad_json_rows_are_named_400s(libsvm_service: Any, instances: list[Any], code: str,
                                      field: str, words: str) -> None:
    error = bad(libsvm_service, event({"instances": instances}))
    assert (error["code"], error["field"]) == (code, field)
    assert error["instance"] == len(instances) - 1
    assert words in error["message"]


@pytest.mark.parametrize(("raw", "code", "words"), [
    ("1,Biscoe,good\nx,Dream,bad\n", "wrong_kind", "row 1, field size is not a number"),
    ("1,Biscoe\n", "wrong_arity", "row 0 has 2 fields; expected 3"),
    ('1,Biscoe,"good\n', "malformed_csv", "quoting"),
    ("size,island,review\n", "empty_instances", "header but no rows"),
])
def test_bad_csv_rows_are_named_400s(libsvm_service: Any, raw: str, code: str, words: str) -> None:
    error = bad(libsvm_service, event(raw, "text/csv"))
    assert error["code"] == code
    assert words in error["message"]


def test_bad_json_bodies(libsvm_service: Any) -> None:
    assert bad(libsvm_service, event('{"instances": [{"size": NaN}]}'))["code"] == "non_finite_value"
    assert bad(libsvm_service, event('{"instances": [{"size": 1, "size": 2}]}'))["code"] == \
        "duplicate_field"
    assert bad(libsvm_service, event({"instances": [[1, "Biscoe", "good"]]}))["code"] == \
        "invalid_instance"
    assert bad(libsvm_service, event({"rows": []}))["code"] == "unknown_field"
    # the same top-level checks as the numeric parser (preprocessing.request.check_document)
    assert bad(libsvm_service, event({"inference_id": "x"}))["code"] == "missing_instances"
    assert bad(libsvm_service, event({"instances": {}}))["code"] == "invalid_instances"


def test_unseen_category_under_the_reject_policy(tmp_path: Path) -> None:
    service = service_for(REJECTING, tmp_path)
    error = bad(service, event({"instances": [{"size": 1, "island": "Dream"}]}))
    assert (error["code"], error["field"], error["instance"]) == ("unseen_category", "island", 0)
    assert "'Dream' is not a category the model knows (Biscoe)" in error["message"]


def test_null_policy_reject_refuses_missing_values_but_not_empty_text(tmp_path: Path) -> None:
    service = service_for(LIBSVM, tmp_path, NULL_POLICY="reject")
    error = bad(service, event({"instances": [{"size": 1, "island": None, "review": "x"}]}))
    assert (error["code"], error["field"]) == ("null_value", "island")
    error = bad(service, event(",Biscoe,good", "text/csv"))
    assert (error["code"], error["field"]) == ("null_value", "size")
    with Stubber(service.runtime) as stubber:
        expect(stubber, b"0:1 1:1.0 2:1 8:1", 1)
        status, body, _ = call(service, event({"instances": [{"size": 1, "island": "Biscoe",
                                                              "review": None}]}))
    assert status == 200, body


def test_an_unreadable_spec_file_answers_500_misconfigured(tmp_path: Path) -> None:
    (tmp_path / "input_spec.json").write_text('{"format": "csv", "fields": []}')
    env = {k: v for k, v in BASE_ENV.items() if k != "FEATURE_NAMES"}
    service = load_handler(**{**env, "INPUT_SPEC_FILE": str(tmp_path / "input_spec.json")})
    assert "not a usable input spec" in service.settings.config_error
    status, body, _ = call(service, event({"instances": [ROW]}))
    assert (status, body["error"]["code"]) == (500, "handler_misconfigured")
    missing = load_handler(**{**env, "INPUT_SPEC_FILE": str(tmp_path / "nope.json")})
    assert "cannot be read" in missing.settings.config_error


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(instances=st.lists(st.dictionaries(
    st.sampled_from(["size", "island", "review", "other", ""]),
    st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20)),
                 lambda inner: st.lists(inner, max_size=3), max_leaves=4), max_size=4),
    min_size=1, max_size=4), as_csv=st.booleans())
def test_any_body_gets_a_named_answer_never_a_500(libsvm_service: Any, instances: list[dict],
                                                  as_csv: bool) -> None:
    if as_csv:
        instances = [row for row in instances if row] or [{"size": 1}]  # no blank lines: one row each
        evt = event("\n".join(",".join(str(v) for v in row.values()) for row in instances), "text/csv")
    else:
        evt = event({"instances": instances})
    with Stubber(libsvm_service.runtime) as stubber:
        stubber.add_response("invoke_endpoint", ok_response("\n".join(["1"] * len(instances))))
        status, body, _ = call(libsvm_service, evt)
    assert status in (200, 400), body
    if status == 400:
        assert body["error"]["code"] and body["error"]["message"]
