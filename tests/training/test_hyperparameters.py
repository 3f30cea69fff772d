"""Hyperparameter overrides and search ranges: SageMaker's string form, clear refusals."""

from __future__ import annotations

import pytest

from contract.errors import CliError
from training.hyperparameters import DEFAULT_RANGES, DEFAULTS, Range, parse_ranges, with_overrides


def test_the_defaults_are_the_course_values() -> None:
    # Literal values: the course's hyperparameters are the contract, not whatever DEFAULTS holds.
    assert DEFAULTS == {
        "max_depth": "5", "eta": "0.2", "gamma": "4", "min_child_weight": "6", "subsample": "0.8",
        "objective": "reg:squarederror", "eval_metric": "rmse", "early_stopping_rounds": "10",
        "num_round": "200",
    }
    assert with_overrides([]) == DEFAULTS


def test_overrides_keep_strings_and_the_rest_of_the_defaults() -> None:
    result = with_overrides(["max_depth=3", "eta = 0.1"])
    assert result == {**DEFAULTS, "max_depth": "3", "eta": "0.1"}
    assert DEFAULTS["max_depth"] == "5"  # the defaults themselves are untouched


@pytest.mark.parametrize("bad", ["max_depth", "=3", "num_round=0", "early_stopping_rounds=x"])
def test_bad_overrides_are_refused(bad: str) -> None:
    with pytest.raises(CliError):
        with_overrides([bad])


def test_range_overrides_keep_the_kind_and_add_new_names() -> None:
    ranges = {r.name: r for r in parse_ranges(["max_depth=2:6", "alpha=0:1.5"])}
    assert ranges["max_depth"] == Range("max_depth", 2, 6, integer=True)
    assert ranges["alpha"] == Range("alpha", 0, 1.5, integer=False)
    assert len(ranges) == len(DEFAULT_RANGES) + 1


@pytest.mark.parametrize("bad", ["eta", "eta=0.5:0.1", "eta=a:b", "eta=0.1"])
def test_bad_ranges_are_refused(bad: str) -> None:
    with pytest.raises(CliError):
        parse_ranges([bad])


def test_range_clips_and_formats() -> None:
    depth = Range("max_depth", 3, 12, integer=True)
    assert depth.clip(12.7) == 12 and depth.clip(4.4) == 4 and depth.format(4.0) == "4"
    assert Range("eta", 0.05, 0.5).format(0.05) == "0.05"
