"""The encoder at its edges: the errors a caller gets (field, code, message) in each format,
categories by exact and by normalized value, texts at the length limit, binary CSV bags, tags and
entities in texts, widths, the float32 limit and format ties."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from contract.encoding import (
    FLOAT32_MAX,
    Encoder,
    EncodingError,
    Field,
    InputSpec,
    category_of,
    choose_format,
    column_counts,
    number_of,
)

FORMATS = ("csv", "libsvm")
CATEGORY = Field("c", "categorical", categories=("x",))


def encoder(field: Field, fmt: str) -> Encoder:
    return Encoder(InputSpec((field,), fmt))


def error_of(field: Field, fmt: str, value: Any) -> EncodingError:
    with pytest.raises(EncodingError) as caught:
        encoder(field, fmt).encode({field.name: value}, text=False)
    return caught.value


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("field", "value", "code", "message"), [
    (Field("n"), True, "wrong_kind", "must be a number or null"),
    (Field("n"), 1e39, "out_of_range", "is infinite or outside the float32 range the model reads"),
    (CATEGORY, 1.5, "wrong_kind", "must be a string (a category) or null"),
    (CATEGORY, [1], "wrong_kind", "must be a string (a category) or null"),
    (Field("t", "text", vocabulary=("good",)), 5, "wrong_kind", "must be a string (text) or null"),
    (Field("t", "text", vocabulary=("good",), max_chars=4), "good!", "text_too_long",
     "has 5 characters; at most 4 are accepted"),
])
def test_errors_name_the_field_and_say_why(fmt: str, field: Field, value: Any, code: str,
                                           message: str) -> None:
    error = error_of(field, fmt, value)
    assert (error.field, error.code, error.message) == (field.name, code, message)
    assert str(error) == f"{field.name}: {message}"


def test_the_largest_float32_is_in_range() -> None:
    assert number_of(FLOAT32_MAX, "n", text=False) == FLOAT32_MAX
    assert number_of(-FLOAT32_MAX, "n", text=False) == -FLOAT32_MAX


@pytest.mark.parametrize(("fmt", "line"), [("csv", "1"), ("libsvm", "0:1 1:1 2:1")])
def test_a_text_of_exactly_max_chars_is_accepted(fmt: str, line: str) -> None:
    field = Field("t", "text", vocabulary=("good",), max_chars=4)
    assert encoder(field, fmt).encode({"t": "good"}, text=False) == line


def test_the_unseen_category_message_lists_at_most_ten_categories() -> None:
    categories = tuple(f"c{i}" for i in range(11))
    ten = Field("r", "categorical", categories=categories[:10], unseen="reject")
    assert error_of(ten, "csv", "zz").message == \
        "'zz' is not a category the model knows (c0, c1, c2, c3, c4, c5, c6, c7, c8, c9)"
    eleven = Field("r", "categorical", categories=categories, unseen="reject")
    error = error_of(eleven, "libsvm", "zz")
    assert (error.field, error.code) == ("r", "unseen_category")
    assert error.message == \
        "'zz' is not a category the model knows (c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, ...)"


@pytest.mark.parametrize(("value", "csv_line", "libsvm_line"), [
    (" x ", "1,0,0,0", "0:1 1:1 5:1"),  # stripped
    (3, "0,1,0,0", "0:1 2:1 5:1"),  # a whole number is its text
    (True, "0,0,1,0", "0:1 3:1 5:1"),
    ("NA", ",,,", "0:1 5:1"),  # a missing marker
])
def test_categories_match_by_normalized_value(value: Any, csv_line: str, libsvm_line: str) -> None:
    field = Field("c", "categorical", categories=("x", "3", "true"))
    assert category_of(value, "c") in ("x", "3", "true", None)
    assert encoder(field, "csv").encode({"c": value}, text=False) == csv_line
    assert encoder(field, "libsvm").encode({"c": value}, text=False) == libsvm_line


def test_a_category_the_spec_lists_matches_exactly_even_spelled_as_missing() -> None:
    # fit_field never keeps such a category, but a spec written by hand may list one: the value
    # written exactly as listed is that category, not a missing value nor an unseen one.
    field = Field("c", "categorical", categories=("NA", " x"), unseen="reject")
    assert encoder(field, "csv").encode({"c": "NA"}, text=True) == "1,0,0"
    assert encoder(field, "libsvm").encode({"c": " x"}, text=False) == "0:1 2:1 4:1"


def test_binary_bags_in_csv_are_ones() -> None:
    field = Field("t", "text", vocabulary=("good", "bad"), binary=True)
    assert encoder(field, "csv").encode({"t": "good good bad"}, text=False) == "1,1"
    counts = Field("t", "text", vocabulary=("good", "bad"))
    assert encoder(counts, "csv").encode({"t": "good good bad"}, text=False) == "2,1"


@pytest.mark.parametrize(("text", "found"), [
    ('<i title="good">bad</i>', {1: 1}),  # a tag's words are no tokens
    ("caf&eacute; good", {0: 1, 2: 1}),  # entities are decoded first
    ("café good, bad.", {0: 1, 1: 1, 2: 1}),  # a non-ASCII text still cuts at punctuation
    ("naïve;good", {2: 1}),
])
def test_column_counts_read_tags_entities_and_punctuation(text: str, found: dict[int, int]) -> None:
    assert column_counts(("café", "bad", "good"), 0, False)(text) == Counter(found)


def test_widths_count_the_columns_of_a_line() -> None:
    spec = InputSpec((Field("n"), Field("c", "categorical", categories=("x", "y")),
                      Field("t", "text", vocabulary=("good", "bad"))), "csv")
    assert Encoder(spec).width == 6 == len(spec.column_names())
    assert Encoder(spec).spec == spec
    assert Encoder(InputSpec(spec.fields, "libsvm")).width == 8


def test_a_format_tie_goes_to_csv() -> None:
    fields = (Field("t", "text", vocabulary=("w1", "w2", "w3", "w4")),)
    # "0,0,0,0" and "0:1 5:1": seven characters each
    assert choose_format(fields, [{"t": ""}]) == "csv"
    assert choose_format(fields, []) == "csv"
