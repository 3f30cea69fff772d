"""contract/encoding.py on its own: the tokenizer's pinned behaviour, fitting, each kind in each
format, and the spec's JSON form."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contract.encoding import (
    END,
    TOKENIZER_VERSION,
    Encoder,
    EncodingError,
    Field,
    FitOptions,
    InputSpec,
    choose_format,
    column_counts,
    fit_field,
    parse_spec,
    raw_cell,
    tokenize,
)


def test_the_tokenizer_is_pinned_to_its_version() -> None:
    # Changing any of these outputs changes what deployed models read: bump TOKENIZER_VERSION.
    assert TOKENIZER_VERSION == "words-1"
    text = ("<br /><br />This movie's <i>GREAT</i>&nbsp;&amp; naïve—Café 2019, 9/10 a x_y "
            "素晴らしい映画 &lt;b&gt;")
    assert tokenize(text) == ["this", "movie", "great", "naïve", "café", "2019", "10", "x_y",
                              "素晴らしい映画"]
    assert tokenize("The film is not bad at all", stop_words=True) == ["film", "not", "bad"]
    assert tokenize("") == [] and tokenize("a I ! .") == []


def test_categorical_fit_keeps_frequent_categories_in_a_stable_order() -> None:
    values = ["b"] * 5 + ["a"] * 5 + ["c"] * 7 + ["rare"] * 2 + [None, "", " NA ", True] * 6
    field = fit_field("f", "categorical", values, FitOptions(max_categories=3, min_category_count=5))
    assert field.categories == ("c", "true", "a")  # by count, ties by name; NA and "" are missing
    narrower = fit_field("f", "categorical", values, FitOptions(max_categories=2))
    assert narrower.categories == ("c", "true")


def test_text_fit_ranks_tokens_by_document_frequency() -> None:
    docs = ["good good good film", "good plot", "bad film", "odd", None, "bad bad movie"]
    field = fit_field("t", "text", docs, FitOptions(vocabulary_size=3, min_document_count=2))
    assert field.vocabulary == ("bad", "film", "good")  # each in 2 documents; counts don't rank
    with pytest.raises(EncodingError, match="no token appears in 9 or more training rows"):
        fit_field("t", "text", docs, FitOptions(min_document_count=9))


SPEC_FIELDS = (Field("n"), Field("c", "categorical", categories=("x", "y")),
               Field("t", "text", vocabulary=("good", "bad")))


@pytest.mark.parametrize(("row", "csv_line", "libsvm_line"), [
    ({"n": 1.5, "c": "x", "t": "good good bad"}, "1.5,1,0,0,2,1", "0:1 1:1.5 2:1 5:2 6:1 7:1"),
    ({"n": 0, "c": "y", "t": "nothing"}, "0.0,0,1,0,0,0", "0:1 1:0.0 3:1 7:1"),
    ({"n": None, "c": None, "t": None}, ",,,,0,0", "0:1 7:1"),
    ({"c": "zzz", "t": ""}, ",0,0,1,0,0", "0:1 4:1 7:1"),  # absent key = missing; unseen -> other
])
def test_each_kind_in_each_format(row: dict, csv_line: str, libsvm_line: str) -> None:
    assert Encoder(InputSpec(SPEC_FIELDS, "csv")).encode(row, text=False) == csv_line
    assert Encoder(InputSpec(SPEC_FIELDS, "libsvm")).encode(row, text=False) == libsvm_line


def test_text_values_and_json_values_encode_alike() -> None:
    encoder = Encoder(InputSpec(SPEC_FIELDS, "libsvm"))
    for json_value, text_value in [(2.5, " 2.5 "), (None, "NA"), (None, ""), (-0.0, "-0")]:
        assert encoder.encode({"n": json_value}, text=False) == \
            encoder.encode({"n": text_value}, text=True)
        assert raw_cell(json_value) in ("", "2.5", "-0.0")
    with pytest.raises(EncodingError) as caught:
        encoder.encode({"n": "2.5"}, text=False)  # JSON: a string is not a number
    assert (caught.value.field, caught.value.code) == ("n", "wrong_kind")


def test_the_spec_round_trips_through_its_json() -> None:
    spec = InputSpec((*SPEC_FIELDS, Field("r", "categorical", categories=("a",), unseen="reject")),
                     "libsvm")
    assert parse_spec(json.loads(spec.to_json())) == spec
    assert spec.column_names()[0] == "(constant)" and spec.column_names()[-1] == END
    assert spec.column_names()[1:5] == ["n", "c=x", "c=y", "c=(other)"]
    assert Encoder(spec).width == len(spec.column_names())


def test_choose_format_picks_the_smaller() -> None:
    wide = (Field("t", "text", vocabulary=tuple(f"w{i}" for i in range(500))),)
    narrow = (Field("n"), Field("c", "categorical", categories=("x", "y")))
    assert choose_format(wide, [{"t": "w1 w2"}] * 5) == "libsvm"
    assert choose_format(narrow, [{"n": "1", "c": "x"}] * 5) == "csv"


VOCABULARY = ("good", "bad", "the", "café", "naïve", "素晴らしい映画", "x_y", "10", "Good", "a",
              "two words", "ß", "ss", "straße", "σας", "ǆ", "i̇")
texts = st.one_of(st.text(max_size=80), st.lists(st.sampled_from(
    [*VOCABULARY, "GOOD", "<br />", "&amp;", "&eacute;", "—", "\u00a0", "İ", "Σ", ",", "'s", "\n"]),
    max_size=15).map(" ".join))


@settings(max_examples=500, deadline=None)
@given(text=texts, stop_words=st.booleans(), binary=st.booleans())
def test_the_fast_column_counts_equal_tokenize_then_lookup(text: str, stop_words: bool,
                                                           binary: bool) -> None:
    reference = Counter(7 + VOCABULARY.index(t) for t in tokenize(text, stop_words)
                        if t in VOCABULARY)
    assert column_counts(VOCABULARY, 7, stop_words)(text) == reference
    spec = InputSpec((Field("t", "text", vocabulary=VOCABULARY, stop_words=stop_words,
                            binary=binary),), "libsvm")
    line = Encoder(spec).encode({"t": text}, text=False)
    entries = [f"{j - 6}:{1 if binary else reference[j]}" for j in sorted(reference)]
    assert line == " ".join(["0:1", *entries, f"{len(VOCABULARY) + 1}:1"])


def test_raw_cells_and_json_rows_round_trip_a_prepared_row() -> None:
    from contract.encoding import json_row, numeric_spec

    assert [raw_cell(v) for v in (None, True, False, float("nan"), 1.5, 7, "Dream")] == [
        "", "true", "false", "", "1.5", "7", "Dream"]
    spec = InputSpec((Field("size"), Field("island", "categorical", categories=("Biscoe", "Dream")),
                      Field("review", "text", vocabulary=("good",))), "csv")
    assert json_row(spec, ["1.5", "Dream", "good film"]) == {"size": 1.5, "island": "Dream",
                                                             "review": "good film"}
    assert json_row(spec, ["", "", ""]) == {"size": None, "island": None, "review": ""}
    with pytest.raises(ValueError):
        json_row(spec, ["1.5", "Dream"])  # one cell per field
    with pytest.raises(EncodingError) as caught:
        json_row(spec, ["x", "Dream", ""])
    assert (caught.value.field, caught.value.code) == ("size", "wrong_kind")
    plain = numeric_spec(["a", "b"])
    assert plain == InputSpec((Field("a"), Field("b")), "csv") and plain.plain_numeric
