"""Every rejected request: status, code, message (naming instance and field), no endpoint call."""

from __future__ import annotations

import base64
import json

import pytest

from tests.handler.support import call, event, load_handler

OK_ROW = {"f0": 1, "f1": 2.5, "f2": -3}

CASES = [
    # id, event kwargs, status, code, message fragment, instance, field
    ("no content type", dict(body={"instances": [OK_ROW]}, content_type=None),
     415, "unsupported_media_type", "Content-Type is required", None, None),
    ("xml", dict(body="<x/>", content_type="application/xml"),
     415, "unsupported_media_type", "application/json or text/csv", None, None),
    ("latin-1 charset", dict(body={"instances": [OK_ROW]}, content_type="application/json; charset=latin-1"),
     415, "unsupported_media_type", "utf-8", None, None),
    ("empty body", dict(body=""), 400, "empty_body", "empty", None, None),
    ("whitespace body", dict(body="  \n"), 400, "empty_body", "empty", None, None),
    ("malformed json", dict(body='{"instances": [1,'), 400, "malformed_json", "not valid JSON", None, None),
    ("top-level array", dict(body=[OK_ROW]), 400, "invalid_body", "JSON object", None, None),
    ("top-level number", dict(body="3"), 400, "invalid_body", "JSON object", None, None),
    ("unknown top-level field", dict(body={"instances": [OK_ROW], "target_varient": "champion"}),
     400, "unknown_field", '"target_varient"', None, "target_varient"),
    ("duplicate top-level field", dict(body='{"instances": [[1,2,3]], "instances": [[1,2,3]]}'),
     400, "duplicate_field", '"instances" appears twice', None, None),
    ("missing instances", dict(body={"target_variant": "champion"}),
     400, "missing_instances", '"instances"', None, None),
    ("instances not array", dict(body={"instances": {"f0": 1}}),
     400, "invalid_instances", "must be an array", None, None),
    ("empty instances", dict(body={"instances": []}),
     400, "empty_instances", "must not be empty", None, None),
    ("target variant not string", dict(body={"instances": [OK_ROW], "target_variant": 5}),
     400, "invalid_target_variant", "variant name", None, None),
    ("target variant bad name", dict(body={"instances": [OK_ROW], "target_variant": "champ ion"}),
     400, "invalid_target_variant", "variant name", None, None),
    ("inference id not string", dict(body={"instances": [OK_ROW], "inference_id": 7}),
     400, "invalid_inference_id", "printable ASCII", None, None),
    ("inference id too long", dict(body={"instances": [OK_ROW], "inference_id": "x" * 65}),
     400, "invalid_inference_id", "printable ASCII", None, None),
    ("inference id leading space", dict(body={"instances": [OK_ROW], "inference_id": " a"}),
     400, "invalid_inference_id", "printable ASCII", None, None),
    ("instance is a number", dict(body={"instances": [OK_ROW, 5]}),
     422, "invalid_instance", "instances[1] must be an object", 1, None),
    ("unknown feature", dict(body={"instances": [OK_ROW, {**OK_ROW, "f9": 1}]}),
     422, "unknown_feature", 'instances[1]: unknown feature "f9"', 1, "f9"),
    ("missing feature", dict(body={"instances": [{"f0": 1, "f2": 3}]}),
     422, "missing_feature", 'instances[0]: missing feature "f1"', 0, "f1"),
    ("duplicate feature", dict(body='{"instances": [{"f0": 1, "f1": 2, "f2": 3, "f1": 4}]}'),
     422, "duplicate_feature", 'instances[0]: feature "f1" appears twice', 0, "f1"),
    ("too few values", dict(body={"instances": [[1, 2]]}),
     422, "wrong_arity", "instances[0] has 2 values; expected 3", 0, None),
    ("too many values", dict(body={"instances": [[1, 2, 3], [1, 2, 3, 4]]}),
     422, "wrong_arity", "instances[1] has 4 values; expected 3", 1, None),
    ("string value", dict(body={"instances": [OK_ROW, {**OK_ROW, "f2": "3"}]}),
     422, "non_numeric_value", "instances[1].f2 is a string", 1, "f2"),
    ("string value in array", dict(body={"instances": [[1, "abc", 3]]}),
     422, "non_numeric_value", "instances[0][1] (f1) is a string", 0, "f1"),
    ("boolean value", dict(body={"instances": [{**OK_ROW, "f0": True}]}),
     422, "boolean_value", "instances[0].f0 is a boolean", 0, "f0"),
    ("boolean in array", dict(body={"instances": [[1, 2, False]]}),
     422, "boolean_value", "instances[0][2] (f2) is a boolean", 0, "f2"),
    ("NaN", dict(body='{"instances": [{"f0": NaN, "f1": 1, "f2": 2}]}'),
     422, "non_finite_value", "instances[0].f0 is NaN", 0, "f0"),
    ("Infinity", dict(body='{"instances": [[1, Infinity, 2]]}'),
     422, "non_finite_value", "instances[0][1] (f1) is Infinity", 0, "f1"),
    ("-Infinity", dict(body='{"instances": [[1, 2, -Infinity]]}'),
     422, "non_finite_value", "is -Infinity", 0, "f2"),
    ("overflowing literal", dict(body='{"instances": [[1, 2, 1e400]]}'),
     422, "out_of_range", "instances[0][2] (f2) is outside the float32 range", 0, "f2"),
    ("beyond float32", dict(body='{"instances": [{"f0": 1, "f1": -3.5e38, "f2": 0}]}'),
     422, "out_of_range", "instances[0].f1", 0, "f1"),
    ("nested array", dict(body={"instances": [{**OK_ROW, "f1": [1]}]}),
     422, "nested_value", "instances[0].f1 is an array", 0, "f1"),
    ("nested object", dict(body={"instances": [[1, {"a": 1}, 3]]}),
     422, "nested_value", "instances[0][1] (f1) is an object", 0, "f1"),
    ("deeply nested", dict(body='{"instances": ' + "[" * 100000 + "]" * 100000 + "}"),
     400, "malformed_json", "not valid JSON", None, None),
    ("csv bad value", dict(body="1,2,3\n4,x,6\n", content_type="text/csv"),
     422, "non_numeric_value", "row 1, column 1 (f1) is not a number", 1, "f1"),
    ("csv wrong arity", dict(body="1,2,3\n4,5\n", content_type="text/csv"),
     422, "wrong_arity", "row 1 has 2 fields; expected 3", 1, None),
    ("csv nan", dict(body="1,nan,3", content_type="text/csv"),
     422, "non_finite_value", "row 0, column 1 (f1) is not finite", 0, "f1"),
    # inf / Infinity in any case and sign: the non-finite code, as for NaN (docs/api.md)
    *[(f"csv {text}", dict(body=f"1,2,{text}", content_type="text/csv"),
       422, "non_finite_value", "row 0, column 2 (f2) is not finite", 0, "f2")
      for text in ("inf", "-inf", "+Infinity", "INF", "-Infinity", "NaN")],
    ("csv boolean", dict(body="1,2,true", content_type="text/csv"),
     422, "boolean_value", "row 0, column 2 (f2) is a boolean", 0, "f2"),
    ("csv overflow", dict(body="1,2,1e39", content_type="text/csv"),
     422, "out_of_range", "row 0, column 2 (f2)", 0, "f2"),
    ("csv empty", dict(body="\n", content_type="text/csv"), 400, "empty_body", "empty", None, None),
    ("csv non-ASCII digit", dict(body="1,2,3\n\u0661,2,3", content_type="text/csv"),
     422, "non_numeric_value", "row 1, column 0 (f0) is not a number", 1, "f0"),
    ("csv full-width digit", dict(body="1,\uff12,3", content_type="text/csv"),
     422, "non_numeric_value", "row 0, column 1 (f1)", 0, "f1"),
    ("csv header only", dict(body="f0,f1,f2\n", content_type="text/csv"),
     400, "empty_instances", "header but no rows", None, None),
    ("csv bad target variant", dict(body="1,2,3", content_type="text/csv", query={"target_variant": "a b"}),
     400, "invalid_target_variant", "variant name", None, None),
]


@pytest.mark.parametrize(("kwargs", "status", "code", "fragment", "instance", "field"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rejected_before_the_endpoint(h, stub, kwargs, status, code, fragment, instance, field):
    got_status, body, headers = call(h, event(**kwargs))  # stub has no responses: any call fails
    assert (got_status, body["error"]["code"]) == (status, code)
    assert fragment in body["error"]["message"]
    assert body["error"].get("instance") == instance
    assert body["error"].get("field") == field
    assert headers["Content-Type"] == "application/json"


def test_invalid_base64(h, stub):
    evt = event({"instances": [OK_ROW]})
    evt["body"], evt["isBase64Encoded"] = "not base64!!", True
    status, body, _ = call(h, evt)
    assert (status, body["error"]["code"]) == (400, "invalid_base64")


def test_base64_not_utf8(h, stub):
    evt = event({"instances": [OK_ROW]})
    evt["body"], evt["isBase64Encoded"] = base64.b64encode(b"\xff\xfe{}").decode(), True
    status, body, _ = call(h, evt)
    assert (status, body["error"]["code"]) == (400, "invalid_encoding")


def test_not_an_event(h, stub):
    result = h.handle("hello", None)
    assert result["statusCode"] == 400
    assert json.loads(result["body"])["error"]["code"] == "invalid_event"


def test_too_many_rows():
    module = load_handler(MAX_ROWS="2")
    status, body, _ = call(module, event({"instances": [OK_ROW] * 3}))
    assert (status, body["error"]["code"]) == (413, "too_many_rows")
    assert "3 instances; at most 2" in body["error"]["message"]
    status, body, _ = call(module, event("1,2,3\n" * 3, "text/csv"))
    assert (status, body["error"]["code"]) == (413, "too_many_rows")


def test_body_too_large():
    module = load_handler(MAX_BODY_BYTES="100")
    big = {"instances": [OK_ROW] * 10}
    status, body, _ = call(module, event(big))
    assert (status, body["error"]["code"]) == (413, "body_too_large")
    assert "100 bytes" in body["error"]["message"]
    status, body, _ = call(module, event(big, base64=True))
    assert (status, body["error"]["code"]) == (413, "body_too_large")
    # multi-byte characters count as bytes, not characters
    status, body, _ = call(module, event('{"instances": [], "x": "' + "é" * 60 + '"}'))
    assert (status, body["error"]["code"]) == (413, "body_too_large")


def test_serialized_payload_too_large():
    module = load_handler(MAX_BODY_BYTES=str(20_000_000), MAX_ROWS="1000000")
    row = "1.00000000000000000000001," * 2 + "1.00000000000000000000001\n"
    status, body, _ = call(module, event(row * (6291456 // len(row) + 1), "text/csv"))
    assert (status, body["error"]["code"]) == (413, "payload_too_large")


def test_null_rejected_when_configured():
    module = load_handler(NULL_POLICY="reject")
    status, body, _ = call(module, event({"instances": [{"f0": 1, "f1": None, "f2": 3}]}))
    assert (status, body["error"]["code"]) == (422, "null_value")
    assert body["error"]["message"].startswith("instances[0].f1 is null")
    status, body, _ = call(module, event("1,,3", "text/csv"))
    assert (status, body["error"]["code"], body["error"]["field"]) == (422, "null_value", "f1")


def test_misconfigured_handler():
    module = load_handler(FEATURE_NAMES="not json")
    status, body, _ = call(module, event({"instances": [OK_ROW]}))
    assert (status, body["error"]["code"]) == (500, "handler_misconfigured")
    assert "FEATURE" not in body["error"]["message"]
