"""The CSV body parser's edges, through its public API: the rows it forwards, the path it takes
(logged: "fast" when the regex proves the body clean, "exact" otherwise) and its exact errors.

A parser is built per test: the handler fixture's parser is built once per module, so its
constructor would be exercised by one test only.
"""

from __future__ import annotations

import pytest

from tests.handler.support import RequestError

# isort: split
from preprocessing.csv_rows import CsvRows

FEATURES = ("f0", "f1", "f2")


def parser(features: tuple[str, ...] = FEATURES, *, max_rows: int = 10,
           nulls_missing: bool = True) -> CsvRows:
    return CsvRows(features, max_rows=max_rows, nulls_missing=nulls_missing)


def refusal(rows: CsvRows, body: str) -> tuple[int, str, str, int | None, str | None]:
    with pytest.raises(RequestError) as caught:
        rows.parse(body)
    error = caught.value
    return error.status, error.code, error.message, error.instance, error.field


@pytest.mark.parametrize(("features", "nulls_missing", "body"), [
    (FEATURES, False, "1,2,3\n4,5,6"),
    (FEATURES, True, "1,,3\n,5,"),
    (("f0",), False, "1\n2"),
    (("f0",), True, "1\n\n3"),
])
def test_a_clean_body_takes_the_fast_path_unchanged(features: tuple[str, ...], nulls_missing: bool,
                                                    body: str) -> None:
    assert parser(features, nulls_missing=nulls_missing).parse(body) == (
        body.encode(), body.count("\n") + 1, "fast")


def test_a_row_with_one_field_too_few_is_refused() -> None:
    assert refusal(parser(), "1,2,3\n4,5") == (
        422, "wrong_arity", "row 1 has 2 fields; expected 3 in feature order", 1, None)


def test_fields_to_normalise_take_the_exact_path() -> None:
    assert parser().parse(" 1,,3\n4,5,6") == (b"1,,3\n4,5,6", 2, "exact")


def test_risky_numbers_within_float32_are_forwarded() -> None:
    body = "1e10,3.4028234663852886e38,-3.4028234663852886e38\n" + "1" * 30 + ",0,0"
    assert parser().parse(body) == (body.encode(), 2, "exact")


def test_an_empty_field_is_refused_when_nulls_are_rejected() -> None:
    assert refusal(parser(nulls_missing=False), "1,2,3\n4,,6") == (
        422, "null_value", "row 1, column 1 (f1) is empty; a number is required", 1, "f1")


@pytest.mark.parametrize("text", ["false", "False", "TRUE"])
def test_booleans_in_any_case_are_named(text: str) -> None:
    assert refusal(parser(), f"1,2,3\n1,{text},3") == (
        422, "boolean_value", "row 1, column 1 (f1) is a boolean; a number is required", 1, "f1")


@pytest.mark.parametrize("digit", ["\u0661", "\uff12", "\u00b2"])
def test_non_ascii_digits_are_not_numbers(digit: str) -> None:
    assert refusal(parser(), f"1,2,3\n1,2,{digit}") == (
        422, "non_numeric_value", "row 1, column 2 (f2) is not a number", 1, "f2")


@pytest.mark.parametrize("body", ["", "\n", " \r\n"])
def test_an_empty_body_is_refused(body: str) -> None:
    assert refusal(parser(), body) == (400, "empty_body", "the request body is empty", None, None)


@pytest.mark.parametrize("body", ["f0,f1,f2\n1,2,3\n4,5,6", "f0,f1,f2  \r\n1,2,3\r\n4,5,6\r\n"])
def test_a_header_line_is_dropped_and_not_counted(body: str) -> None:
    assert parser(max_rows=2).parse(body) == (b"1,2,3\n4,5,6", 2, "fast")


@pytest.mark.parametrize(("body", "message"), [
    ("f0,f1,f2 x\n1,2,3", "row 0, column 0 (f0) is not a number"),
    (" f0,f1,f2\n1,2,3", "row 0, column 0 (f0) is not a number"),
    ("f0,f1,f2,\n1,2,3", "row 0 has 4 fields; expected 3 in feature order"),
])
def test_a_first_line_that_is_not_exactly_the_header_is_a_row(body: str, message: str) -> None:
    assert refusal(parser(), body)[2:4] == (message, 0)


def test_a_header_without_rows_is_refused() -> None:
    assert refusal(parser(), "f0,f1,f2\n") == (
        400, "empty_instances", "the CSV body has a header but no rows", None, None)


def test_feature_names_that_read_as_numbers_are_a_row_not_a_header() -> None:
    assert parser(("1", "2", "3")).parse("1,2,3\n4,5,6") == (b"1,2,3\n4,5,6", 2, "fast")


@pytest.mark.parametrize("first", ["", "XXXX", "f0"])
def test_no_first_line_is_a_header_when_a_feature_name_reads_as_a_number(first: str) -> None:
    assert refusal(parser(("f0", "1", "f2")), f"{first}\n1,2,3") == (
        422, "wrong_arity", "row 0 has 1 fields; expected 3 in feature order", 0, None)


def test_the_row_limit_is_inclusive() -> None:
    assert parser(max_rows=2).parse("1,2,3\n4,5,6\n") == (b"1,2,3\n4,5,6", 2, "fast")
    assert refusal(parser(max_rows=2), "1,2,3\n4,5,6\n7,8,9") == (
        413, "too_many_rows", "3 rows; at most 2 per request", None, None)
