"""``fit_field``: every option reaches the fitted field, the vocabulary's order, and the errors
fitting raises (the field they name, their code)."""

from __future__ import annotations

import pytest

from contract.encoding import EncodingError, Field, FitOptions, fit_field


def test_categorical_fit_keeps_its_options_and_reads_whole_numbers() -> None:
    field = fit_field("c", "categorical", [3] * 2 + ["x"], FitOptions(min_category_count=1, unseen="reject"))
    assert field == Field("c", "categorical", categories=("3", "x"), unseen="reject")


def test_text_fit_keeps_its_options() -> None:
    options = FitOptions(min_document_count=1, binary=True, stop_words=True, max_chars=100)
    field = fit_field("t", "text", ["the film", "a film, the plot"], options)
    assert field == Field("t", "text", vocabulary=("film", "plot"), binary=True, stop_words=True,
                          max_chars=100)


def test_the_vocabulary_is_most_frequent_first() -> None:
    docs = ["zed apple", "zed", "zed mid", "mid"]
    every = fit_field("t", "text", docs, FitOptions(min_document_count=1))
    assert every.vocabulary == ("zed", "mid", "apple")
    top = fit_field("t", "text", docs, FitOptions(min_document_count=1, vocabulary_size=1))
    assert top.vocabulary == ("zed",)


@pytest.mark.parametrize(("kind", "values", "options", "code"), [
    ("categorical", [1.5], FitOptions(), "wrong_kind"),
    ("text", [5], FitOptions(), "wrong_kind"),
    ("text", ["good film"], FitOptions(max_chars=4), "text_too_long"),
    ("text", ["good film"], FitOptions(min_document_count=2), "empty_vocabulary"),
])
def test_fitting_errors_name_the_field(kind: str, values: list[object], options: FitOptions,
                                       code: str) -> None:
    with pytest.raises(EncodingError) as caught:
        fit_field("f", kind, values, options)
    assert (caught.value.field, caught.value.code) == ("f", code)


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError) as caught:
        fit_field("f", "date", [], FitOptions())
    assert str(caught.value) == "unknown kind 'date'"
