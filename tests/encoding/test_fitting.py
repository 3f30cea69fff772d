"""``fit_field`` and the streaming ``FieldFitter``: every option reaches the fitted field, the
vocabulary's order, the errors fitting raises (the field they name, their code), and the bounded
counter (``TopCounter``) that keeps a column's most frequent values in bounded memory."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from contract.encoding import EncodingError, Field, FieldFitter, FitOptions, TopCounter, fit_field


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


def test_counts_are_exact_until_twice_the_capacity() -> None:
    counter = TopCounter(capacity=5)
    keys = [f"k{i}" for i in range(10) for _ in range(i + 1)]
    random.Random(1).shuffle(keys)
    counter.update(keys)
    assert counter.pruned is False and counter.counts == {f"k{i}": i + 1 for i in range(10)}
    assert counter.ranked(minimum=3, limit=4) == ["k9", "k8", "k7", "k6"]


def test_memory_stays_bounded_and_frequent_keys_survive_beyond_the_capacity() -> None:
    rng = random.Random(2)
    frequent = [f"top{i}" for i in range(5)]
    counter = TopCounter(capacity=50)
    truth: Counter[str] = Counter()
    for step in range(20_000):
        batch = [rng.choice(frequent) if rng.random() < 0.3 else f"rare{step}-{j}" for j in range(3)]
        truth.update(batch)
        counter.update(batch)
        assert len(counter.counts) <= 100
    assert counter.pruned
    n = sum(truth.values())
    assert set(counter.ranked(minimum=1, limit=5)) == set(frequent)
    for key in frequent:  # Misra-Gries: low by at most n / (capacity + 1)
        assert truth[key] - n / 51 <= counter.counts[key] <= truth[key]


@pytest.mark.parametrize("kind", ["categorical", "text"])
def test_fitting_in_chunks_keeps_the_most_frequent_values(kind: str) -> None:
    rng = random.Random(3)
    words = ["good", "bad", "plot", "film", "acting", "music", "long", "short", "dull", "fun"]
    values = [rng.choice(["red", "green", "blue", "teal", ""]) if kind == "categorical" else
              " ".join(rng.choice(words) for _ in range(rng.randint(3, 7))) for _ in range(500)]
    options = FitOptions(min_category_count=2, min_document_count=2, vocabulary_size=6, max_categories=3)
    fitter = FieldFitter("f", kind, options)
    for start in range(0, len(values), 17):
        fitter.add_all(values[start:start + 17])
    # The reference, counted here: categories per row, tokens once per row (document counts).
    counts = Counter(v for v in values if v) if kind == "categorical" else \
        Counter(t for v in values for t in set(v.split()))
    ranked = [k for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if n >= 2]
    field = fitter.field()
    kept = field.categories if kind == "categorical" else field.vocabulary
    assert kept == tuple(ranked[:3 if kind == "categorical" else 6])


def test_the_counters_capacity_grows_with_the_kept_sizes() -> None:
    """Ten times what is kept, at least COUNTER_CAPACITY: a large vocabulary is still exact."""
    assert FieldFitter("t", "text", FitOptions()).counter.capacity == 50_000
    assert FieldFitter("t", "text", FitOptions(vocabulary_size=7000)).counter.capacity == 70_000
    assert FieldFitter("c", "categorical", FitOptions(max_categories=6000)).counter.capacity == 60_000
    assert FieldFitter("c", "categorical", FitOptions(), capacity=9).counter.capacity == 50_000
