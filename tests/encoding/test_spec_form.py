"""The input spec's JSON form: what ``parse_spec`` accepts (and its defaults), what it refuses and
how it says so, the exact bytes of ``to_json`` and the model's column names per format."""

from __future__ import annotations

from typing import Any

import pytest

from contract.encoding import DEFAULT_MAX_CHARS, Field, InputSpec, numeric_spec, parse_spec

TEXT: dict[str, Any] = {"name": "t", "type": "text", "tokenizer": "words-1", "vocabulary": ["good"]}


def test_the_smallest_json_form_takes_the_defaults() -> None:
    spec = parse_spec({"fields": [{"name": "n"}, {"name": "c", "type": "categorical", "categories": ["x"]},
                                  TEXT]})
    assert spec == InputSpec((Field("n"), Field("c", "categorical", categories=("x",), unseen="other"),
                              Field("t", "text", vocabulary=("good",), binary=False, stop_words=False,
                                    max_chars=DEFAULT_MAX_CHARS)), "csv")
    assert spec.format == "csv"


@pytest.mark.parametrize("max_chars", [1, 20000])
def test_any_positive_max_chars_is_accepted(max_chars: int) -> None:
    (field,) = parse_spec({"fields": [{**TEXT, "max_chars": max_chars}]}).fields
    assert field.max_chars == max_chars


@pytest.mark.parametrize(("fields", "message"), [
    ([{"name": ""}], 'input.fields[0]: must be an object like {"name": ..., "type": "numeric"}'),
    ([{"name": 5}], 'input.fields[0]: must be an object like {"name": ..., "type": "numeric"}'),
    ([{"name": "c", "type": "categorical"}],
     "input.fields[0].categories: must be a list of unique non-empty strings"),
    ([{"name": "c", "type": "categorical", "categories": "xy"}],
     "input.fields[0].categories: must be a list of unique non-empty strings"),
    ([{"name": "c", "type": "categorical", "categories": [""]}],
     "input.fields[0].categories: must be a list of unique non-empty strings"),
    ([{**TEXT, "vocabulary": ["good", "good"]}],
     "input.fields[0].vocabulary: must be a non-empty list of unique tokens"),
    ([{**TEXT, "vocabulary": [""]}], "input.fields[0].vocabulary: must be a non-empty list of unique tokens"),
    ([{**TEXT, "max_chars": True}], "input.fields[0].max_chars: must be a positive integer"),
    ([{**TEXT, "max_chars": "10"}], "input.fields[0].max_chars: must be a positive integer"),
    ([{**TEXT, "max_chars": 0}], "input.fields[0].max_chars: must be a positive integer"),
])
def test_refused_fields_name_the_item_and_key(fields: list[Any], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_spec({"fields": fields})
    assert str(caught.value) == message


@pytest.mark.parametrize(("data", "message"), [
    ([], "input: must be an object with format and fields"),
    ({"format": "parquet", "fields": [{"name": "n"}]}, "input.format: 'parquet' is not one of csv, libsvm"),
])
def test_refused_specs_say_why(data: Any, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_spec(data)
    assert str(caught.value) == message


def test_to_json_is_compact_utf8_with_a_newline() -> None:
    spec = InputSpec((Field("n"), Field("c", "categorical", categories=("x", "y"), unseen="reject"),
                      Field("t", "text", vocabulary=("café", "good"), binary=True, stop_words=True,
                            max_chars=9)), "csv")
    assert spec.to_json() == (
        '{"format":"csv","fields":[{"name":"n","type":"numeric"},'
        '{"name":"c","type":"categorical","categories":["x","y"],"unseen":"reject"},'
        '{"name":"t","type":"text","tokenizer":"words-1","values":"binary","stop_words":true,'
        '"max_chars":9,"vocabulary":["café","good"]}]}\n')


def test_csv_columns_have_no_constant_or_end() -> None:
    spec = InputSpec((Field("n"), Field("c", "categorical", categories=("x", "y")),
                      Field("t", "text", vocabulary=("good",))), "csv")
    assert spec.column_names() == ["n", "c=x", "c=y", "c=(other)", "t:good"]
    assert numeric_spec(["a"]).column_names() == ["a"]
