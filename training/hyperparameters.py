"""Hyperparameters in SageMaker's form (name -> string) and the tuning search space.

Both backends use exactly these strings: the SageMaker backend sends them to the built-in
container, the local backend hands them unchanged to the same xgboost release, so a local run
and a SageMaker run with the same settings train the same model.
"""

from __future__ import annotations

from dataclasses import dataclass

from contract.errors import CliError

# The course values. eval_metric is set so that early_stopping_rounds really acts: without a
# metric (or a tuning objective) the container ignores early stopping.
DEFAULTS: dict[str, str] = {
    "max_depth": "5",
    "eta": "0.2",
    "gamma": "4",
    "min_child_weight": "6",
    "subsample": "0.8",
    "objective": "reg:squarederror",
    "eval_metric": "rmse",
    "early_stopping_rounds": "10",
    "num_round": "200",
}

# Container-only settings; everything else is an xgboost booster parameter.
NUM_ROUND = "num_round"
EARLY_STOPPING_ROUNDS = "early_stopping_rounds"

OBJECTIVE_METRIC = "validation:rmse"  # tuning objective, minimized


@dataclass(frozen=True)
class Range:
    name: str
    low: float
    high: float
    integer: bool = False

    def clip(self, value: float) -> float:
        value = min(max(value, self.low), self.high)
        return float(round(value)) if self.integer else value

    def format(self, value: float) -> str:
        return str(round(value)) if self.integer else f"{value:.6g}"


DEFAULT_RANGES: tuple[Range, ...] = (
    Range("max_depth", 3, 12, integer=True),
    Range("eta", 0.05, 0.5),
    Range("min_child_weight", 2, 8),
    Range("subsample", 0.5, 0.9),
    Range("gamma", 0, 10),
)


def with_overrides(overrides: list[str] | None, base: dict[str, str] | None = None) -> dict[str, str]:
    """Apply ``name=value`` overrides to the defaults (values stay strings, as SageMaker wants)."""
    result = dict(DEFAULTS if base is None else base)
    for item in overrides or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise CliError(f"hyperparameter {item!r} is not name=value",
                           "write it like --hp max_depth=3")
        result[name.strip()] = value.strip()
    for name in (NUM_ROUND, EARLY_STOPPING_ROUNDS):
        try:
            if int(result[name]) < 1:
                raise ValueError
        except (KeyError, ValueError):
            raise CliError(f"hyperparameter {name}={result.get(name)!r} is not a whole number >= 1",
                           f"pass e.g. --hp {name}={DEFAULTS[name]}") from None
    return result


def parse_ranges(overrides: list[str] | None) -> tuple[Range, ...]:
    """Apply ``name=low:high`` overrides to the default search space."""
    ranges = {r.name: r for r in DEFAULT_RANGES}
    for item in overrides or []:
        name, _, bounds = item.partition("=")
        low_text, sep, high_text = bounds.partition(":")
        try:
            if not sep:
                raise ValueError
            low, high = float(low_text), float(high_text)
            if not low < high:
                raise ValueError
        except ValueError:
            raise CliError(f"range {item!r} is not name=low:high with low < high",
                           "write it like --range max_depth=3:12") from None
        integer = ranges[name].integer if name in ranges else low.is_integer() and high.is_integer()
        ranges[name] = Range(name, low, high, integer=integer)
    return tuple(ranges.values())
