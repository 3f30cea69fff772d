"""The raw-fields parser's edges, through its public API: the exact payload, rows and path it
returns and the exact errors (status, code, message, row, field) it raises.

A parser is built per test: the handler fixture's parser is built once per module, so its
constructor would be exercised by one test only.
"""

from __future__ import annotations

from typing import Any

import pytest

from contract.encoding import Field, InputSpec
from tests.handler.support import RequestError

# isort: split
from preprocessing.raw_rows import RawRows

# CSV columns: size, island=Biscoe, island=Dream, island=(other), review:good, review:bad
SPEC = InputSpec((
    Field("size"),
    Field("island", "categorical", categories=("Biscoe", "Dream")),
    Field("review", "text", vocabulary=("good", "bad"), max_chars=4),
), "csv")
ROW = {"size": 1, "island": "Biscoe", "review": "good"}
Refusal = tuple[int, str, str, int | None, str | None]


def parser(*, max_rows: int = 10, nulls_missing: bool = True,
           also_accepted: frozenset[str] = frozenset()) -> RawRows:
    return RawRows(SPEC, max_rows=max_rows, nulls_missing=nulls_missing,
                   also_accepted=also_accepted)


def refusal(call: Any, *args: Any) -> Refusal:
    with pytest.raises(RequestError) as caught:
        call(*args)
    error = caught.value
    return error.status, error.code, error.message, error.instance, error.field


def test_the_parser_keeps_its_spec() -> None:
    assert parser().spec is SPEC  # the service sends parser.spec.content_type


def test_a_json_body_answers_its_payload_metadata_and_the_raw_path() -> None:
    body = ('{"instances": [{"size": 2.5, "island": "Dream", "review": "bad"}], '
            '"target_variant": "b", "inference_id": "id-1", "assignment_key": "k"}')
    assert parser().parse_json(body) == (b"2.5,0,1,0,0,1", 1, "b", "id-1", "k", "raw")


def test_a_non_finite_json_number_is_refused() -> None:
    body = '{"instances": [{"size": NaN, "island": "Dream", "review": "bad"}]}'
    assert refusal(parser().parse_json, body) == (
        400, "non_finite_value", "NaN is not a number JSON allows; send null for a missing value",
        None, None)


def test_a_field_of_another_variant_is_ignored() -> None:
    rows = parser(also_accepted=frozenset({"colour"}))
    assert rows.encode_instances([{**ROW, "colour": "red"}, ROW]) == (
        b"1.0,1,0,0,1,0\n1.0,1,0,0,1,0", 2)


def test_a_field_of_another_variant_does_not_stand_in_for_a_missing_one() -> None:
    rows = parser(also_accepted=frozenset({"colour"}))
    assert refusal(rows.encode_instances, [{"size": 1, "island": "Dream", "colour": "red"}]) == (
        400, "missing_field", 'instances[0]: missing field "review" (send null for a missing value)',
        0, "review")


def test_an_unknown_field_in_place_of_a_known_one_is_refused() -> None:
    assert refusal(parser().encode_instances, [ROW, {"size": 1, "island": "Dream", "bogus": 2}]) == (
        400, "unknown_field",
        "instances[1]: unknown field \"bogus\"; the model's fields: size, island, review", 1, "bogus")


def test_a_long_unknown_field_is_named_by_its_first_64_characters() -> None:
    key = "k" * 70
    error = refusal(parser().encode_instances, [{**ROW, key: 1}])
    assert (error[1], error[3], error[4]) == ("unknown_field", 0, "k" * 64)


def test_a_duplicate_field_is_refused_with_its_row() -> None:
    key = "d" * 70
    body = ('{"instances": [{"size": 1, "island": null, "review": null}, '
            f'{{"size": 1, "{key}": 1, "{key}": 2}}]}}')
    assert refusal(parser().parse_json, body) == (
        400, "duplicate_field", f'instances[1]: field "{"d" * 64}..." appears twice', 1, "d" * 64)


def test_an_instance_that_is_no_object_is_refused() -> None:
    assert refusal(parser().encode_instances, [ROW, [1, "Biscoe", "good"]]) == (
        400, "invalid_instance", "instances[1] must be an object of raw fields (size, island, review)",
        1, None)


def test_the_reject_policy_names_the_missing_value() -> None:
    rows = parser(nulls_missing=False)
    assert refusal(rows.encode_instances, [ROW, {**ROW, "size": None}]) == (
        400, "null_value", "instances[1].size is missing; a value is required (null policy: reject)",
        1, "size")
    assert refusal(rows.parse_csv, "1,Biscoe,good\n2, ,bad") == (
        400, "null_value",
        "row 1, field island is missing; a value is required (null policy: reject)", 1, "island")


def test_a_csv_body_answers_its_payload_rows_and_the_raw_path() -> None:
    assert parser().parse_csv("size, island ,review\n\n1,Biscoe,good\r2,,\r\n") == (
        b"1.0,1,0,0,1,0\n2.0,,,,0,0", 2, "raw")  # \r alone ends a row too


def test_a_line_break_inside_a_quoted_text_is_kept_as_sent() -> None:
    # "a\r\nb" is 4 characters, at most 4 are accepted; read as "a\nb" the next would pass too
    assert parser().parse_csv('1,Dream,"a\r\nb"') == (b"1.0,0,1,0,0,0", 1, "raw")
    assert refusal(parser().parse_csv, '1,Dream,"ab\r\nc"') == (
        400, "text_too_long", "row 0, field review has 5 characters; at most 4 are accepted",
        0, "review")


@pytest.mark.parametrize("body", ["", " \t \n", "\r\n\r\n"])
def test_an_empty_csv_body_is_refused(body: str) -> None:
    assert refusal(parser().parse_csv, body) == (
        400, "empty_body", "the request body is empty", None, None)


def test_malformed_csv_is_refused() -> None:
    assert refusal(parser().parse_csv, '1,Biscoe,"good\n') == (
        400, "malformed_csv", "the CSV body is not valid CSV (check the quoting of texts)", None, None)


def test_a_header_without_rows_is_refused() -> None:
    assert refusal(parser().parse_csv, "size,island,review\n\n") == (
        400, "empty_instances", "the CSV body has a header but no rows", None, None)


def test_the_row_limit_counts_rows_not_the_header() -> None:
    rows = parser(max_rows=2)
    assert rows.parse_csv("size,island,review\n1,,\n2,,") == (b"1.0,,,,0,0\n2.0,,,,0,0", 2, "raw")
    assert refusal(rows.parse_csv, "1,,\n2,,\n3,,") == (
        413, "too_many_rows", "3 rows; at most 2 per request", None, None)


def test_a_csv_row_of_the_wrong_arity_is_refused() -> None:
    assert refusal(parser().parse_csv, "1,Biscoe,good\n1,Biscoe") == (
        400, "wrong_arity", "row 1 has 2 fields; expected 3: size, island, review", 1, None)


def test_a_csv_value_the_spec_cannot_encode_names_its_row() -> None:
    assert refusal(parser().parse_csv, "1,Biscoe,good\nx,Dream,bad") == (
        400, "wrong_kind", "row 1, field size is not a number", 1, "size")
