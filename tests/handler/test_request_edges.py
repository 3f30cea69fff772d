"""The proxy event's reading (preprocessing.request), function by function, at its edges:
headers in either map and any case, the media type and its charset, the body (base64, the size
limit at its exact boundary, UTF-8), the metadata fields' limits, the JSON document's checks,
``quoted`` and ``risky``. Every refusal is compared whole: status, code, message, instance,
field.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.handler.support import RequestError

# isort: split
from preprocessing.request import (
    Num,
    body_text,
    check_document,
    check_meta,
    decode_document,
    header,
    media_type,
    pairs_hook,
    quoted,
    risky,
)

Refusal = tuple[int, str, str, int | None, str | None]


def refusal(call: Callable[[], Any]) -> Refusal:
    with pytest.raises(RequestError) as caught:
        call()
    error = caught.value
    return error.status, error.code, error.message, error.instance, error.field


def test_a_request_error_carries_its_message_as_the_exception_text() -> None:
    error = RequestError(429, "throttled", "slow down", instance=2, field="f0", retry_after=5)
    assert (str(error), error.args) == ("slow down", ("slow down",))
    assert (error.status, error.code, error.message, error.instance, error.field,
            error.retry_after) == (429, "throttled", "slow down", 2, "f0", 5)


# --------------------------------------------------------------------------- quoted

@pytest.mark.parametrize(("value", "expected"), [
    ("", '""'),
    ('say "hi"', '"say \\"hi\\""'),
    ("a" * 64, '"' + "a" * 64 + '"'),
    ("a" * 63 + "b", '"' + "a" * 63 + 'b"'),
    ("a" * 64 + "b", '"' + "a" * 64 + '..."'),
    ("a" * 66, '"' + "a" * 64 + '..."'),
])
def test_quoted_escapes_and_cuts_at_64_characters(value: str, expected: str) -> None:
    assert quoted(value) == expected


# --------------------------------------------------------------------------- risky

@pytest.mark.parametrize(("payload", "expected"), [
    (b"", False),
    (b"1,2\n3", False),
    (b"1e5,2E9", False),  # one-digit exponents cannot overflow
    (b"1e-10,1E-99", False),  # negative exponents cannot overflow
    (b"1e10", True),
    (b"1E10", True),
    (b"1E+010", True),
    (b"1e10,1E10", True),
    (b"1E-1,1e10", True),
    (b"1e-1,1E10", True),
    (b"1" * 29, False),
    (b"1" * 29 + b",1" + b"\n" + b"2" * 29, False),
    (b"1" * 30, True),
    (b"1,2\n" + b"3" * 30, True),
])
def test_risky_flags_big_exponents_and_long_cells(payload: bytes, expected: bool) -> None:
    assert risky(payload) is expected


# --------------------------------------------------------------------------- headers

@pytest.mark.parametrize(("event", "expected"), [
    ({}, None),
    ({"headers": None, "multiValueHeaders": None}, None),
    ({"headers": {"Content-Type": "text/csv"}}, "text/csv"),
    ({"headers": {"X-A": "1", "content-type": "b"}}, "b"),
    ({"headers": {"X-A": "1"}}, None),
    ({"headers": {"CONTENT-TYPE": "h"}, "multiValueHeaders": {"content-type": ["m"]}}, "h"),
    ({"headers": {"content-type": 5}, "multiValueHeaders": {"CONTENT-TYPE": ["m"]}}, "m"),
    ({"multiValueHeaders": {"X-Other": ["a"], "Content-Type": ["b", "c"]}}, "b"),
    ({"multiValueHeaders": {"X-Other": ["a"]}}, None),
    ({"multiValueHeaders": {"Content-Type": []}}, None),
    ({"multiValueHeaders": {"Content-Type": [5]}}, None),
    ({"multiValueHeaders": {"Content-Type": "text/csv"}}, None),
])
def test_header_reads_either_map_in_any_case(event: dict[str, Any], expected: str | None) -> None:
    assert header(event, "content-type") == expected


# --------------------------------------------------------------------------- media type

@pytest.mark.parametrize(("content_type", "expected"), [
    ("application/json", "application/json"),
    (" Application/JSON ; charset=UTF-8", "application/json"),
    ('text/csv; charset="utf-8"', "text/csv"),
    ("text/csv; charset=utf8", "text/csv"),
    ("text/csv; charset=UTF8", "text/csv"),
    ("text/csv; charset=us-ascii", "text/csv"),
    ("text/csv; charset=US-ASCII", "text/csv"),
    ("text/csv; header=present", "text/csv"),
])
def test_media_type_accepts_json_and_csv_in_utf8(content_type: str, expected: str) -> None:
    assert media_type({"headers": {"Content-Type": content_type}}) == expected


CHARSET = (415, "unsupported_media_type", "only the utf-8 charset is supported", None, None)
MEDIA = (415, "unsupported_media_type", "Content-Type must be application/json or text/csv",
         None, None)


@pytest.mark.parametrize(("headers", "expected"), [
    ({}, (415, "unsupported_media_type",
          "Content-Type is required: application/json or text/csv", None, None)),
    ({"Content-Type": "text/csv; charset=latin1"}, CHARSET),
    ({"Content-Type": "text/csv; foo=bar;charset=latin1"}, CHARSET),
    ({"Content-Type": "text/csv; charset=latin1=utf-8"}, CHARSET),
    ({"Content-Type": "text/csv; charset=Xutf-8X"}, CHARSET),
    ({"Content-Type": "text/plain"}, MEDIA),
    ({"Content-Type": "text/plain; charset=utf-8"}, MEDIA),
])
def test_media_type_refusals(headers: dict[str, str], expected: Refusal) -> None:
    assert refusal(lambda: media_type({"headers": headers})) == expected


# --------------------------------------------------------------------------- body

def too_large(max_bytes: int) -> Refusal:
    return 413, "body_too_large", f"the body exceeds {max_bytes} bytes", None, None


@pytest.mark.parametrize(("event", "max_bytes", "expected"), [
    ({}, 10, ""),
    ({"body": None}, 10, ""),
    ({"body": "abc"}, 3, "abc"),
    ({"body": "éé"}, 4, "éé"),  # 2 characters, exactly 4 bytes
    ({"body": "YWJj", "isBase64Encoded": "true"}, 4, "YWJj"),  # only True means base64
    ({"body": "YWJj", "isBase64Encoded": True}, 3, "abc"),
    ({"body": "YWJjZGVm", "isBase64Encoded": True}, 6, "abcdef"),
    ({"body": "w6nDqQ==", "isBase64Encoded": True}, 4, "éé"),
    ({"body": "", "isBase64Encoded": True}, 0, ""),
])
def test_body_text_returns_the_text_up_to_max_bytes(event: dict[str, Any], max_bytes: int,
                                                    expected: str) -> None:
    assert body_text(event, max_bytes) == expected


INVALID_BASE64 = (400, "invalid_base64", "the body is not valid base64", None, None)


@pytest.mark.parametrize(("event", "max_bytes", "expected"), [
    ({"body": 5}, 10, (400, "invalid_body", "the request body must be text", None, None)),
    ({"body": "abcd"}, 3, too_large(3)),
    ({"body": "ééa"}, 4, too_large(4)),  # 3 characters, 5 bytes
    ({"body": "\ud800"}, 2, too_large(2)),  # a lone surrogate counts its 3 bytes
    # base64: at most max_bytes * 4 // 3 + 4 characters (8 for 3 bytes) are decoded at all
    ({"body": "!" * 8, "isBase64Encoded": True}, 3, INVALID_BASE64),
    ({"body": "!" * 9, "isBase64Encoded": True}, 3, too_large(3)),
    ({"body": "YWJjZA==", "isBase64Encoded": True}, 3, too_large(3)),  # 8 characters, 4 bytes
    ({"body": "YWJj!", "isBase64Encoded": True}, 10, INVALID_BASE64),
    ({"body": "YW Jj", "isBase64Encoded": True}, 10, INVALID_BASE64),
    ({"body": "YWJ", "isBase64Encoded": True}, 10, INVALID_BASE64),
    ({"body": "é", "isBase64Encoded": True}, 10, INVALID_BASE64),
    ({"body": "/w==", "isBase64Encoded": True}, 10,
     (400, "invalid_encoding", "the body is not valid UTF-8", None, None)),
])
def test_body_text_refusals(event: dict[str, Any], max_bytes: int, expected: Refusal) -> None:
    assert refusal(lambda: body_text(event, max_bytes)) == expected


# --------------------------------------------------------------------------- metadata fields

VARIANT = (400, "invalid_target_variant", "target_variant must be a production variant name "
           "(letters, digits and hyphens, at most 63 characters)", None, None)
INFERENCE = (400, "invalid_inference_id", "inference_id must be 1-64 printable ASCII "
             "characters, not starting with a space", None, None)
KEY = (400, "invalid_assignment_key", "assignment_key must be a string of 1-256 characters "
       "(a user id, for example)", None, None)


@pytest.mark.parametrize("meta", [
    (None, None, None),
    ("a" * 63, "i" * 64, "k" * 256),
    ("a" + "-" * 61 + "b", "! x", "k"),
])
def test_check_meta_accepts_values_at_their_limits(meta: tuple[Any, Any, Any]) -> None:
    assert check_meta(*meta) is None


@pytest.mark.parametrize(("meta", "expected"), [
    (("a" * 64, None, None), VARIANT),
    (("a" + "-" * 62 + "b", None, None), VARIANT),  # 64 characters the pattern would match
    (("-a", None, None), VARIANT),
    ((5, None, None), VARIANT),
    ((Num("12"), None, None), VARIANT),
    ((None, "i" * 65, None), INFERENCE),
    ((None, " x", None), INFERENCE),
    ((None, "", None), INFERENCE),
    ((None, Num("12"), None), INFERENCE),
    ((None, None, ""), KEY),
    ((None, None, "k" * 257), KEY),
    ((None, None, 5), KEY),
    ((None, None, Num("12")), KEY),
])
def test_check_meta_refusals(meta: tuple[Any, Any, Any], expected: Refusal) -> None:
    assert refusal(lambda: check_meta(*meta)) == expected


# --------------------------------------------------------------------------- the JSON document

DECODER = json.JSONDecoder(object_pairs_hook=pairs_hook)


def test_check_document_returns_instances_and_every_metadata_field() -> None:
    doc = {"instances": [[1], [2]], "target_variant": "v-1", "inference_id": "id",
           "assignment_key": "user-7"}
    assert check_document(doc, 2) == ([[1], [2]], "v-1", "id", "user-7")
    assert check_document({"instances": [[1]]}, 1) == ([[1]], None, None, None)


def test_decode_document_decodes_then_checks() -> None:
    assert decode_document(' {"instances": [[1]], "assignment_key": "k"} ', DECODER, 1) == (
        [[1]], None, None, "k")


@pytest.mark.parametrize(("doc", "expected"), [
    ({"instances": [[1]], "assignment_key": ""}, KEY),
    ({"instances": [[1]], "assignment_key": 5}, KEY),
    ({"instances": [[1], [2], [3]]}, (413, "too_many_rows", "3 instances; at most 2 per request",
                                      None, None)),
    ({"instances": [[1]], "k" * 70: 1}, (
        400, "unknown_field", f'unknown field "{"k" * 64}..."; allowed: instances, '
        "target_variant, inference_id, assignment_key", None, "k" * 64)),
])
def test_check_document_refusals(doc: dict[str, Any], expected: Refusal) -> None:
    assert refusal(lambda: check_document(doc, 2)) == expected


@pytest.mark.parametrize(("raw", "expected"), [
    (" \n ", (400, "empty_body", "the request body is empty", None, None)),
    ('{"instances": ', (400, "malformed_json", "the request body is not valid JSON", None, None)),
    ('{"instances": [[1]], "instances": [[2]]}', (
        400, "duplicate_field", 'field "instances" appears twice', None, None)),
])
def test_decode_document_refusals(raw: str, expected: Refusal) -> None:
    assert refusal(lambda: decode_document(raw, DECODER, 2)) == expected
