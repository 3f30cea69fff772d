"""``make train``: train every variant a deployment config references, locally.

Three examples (``make demo EXAMPLE=...``), each with its config in config/ and its prepared
folder under data/:
  diabetes  sklearn's bundled diabetes table: ten numeric columns (the default, no download)
  penguins  palmerpenguins: body mass from species, island, sex (categorical, some missing) and
            measurements (numeric, some missing)
  reviews   10,605 Rotten Tomatoes snippets rated -4..+4 by people: the rating from the text
            (a bag of words; the challenger reads 8000 tokens, the champion 5000: one API, two
            input specs, each request encoded for the variant it is assigned). Regression on
            the mean rating, not a positive/negative threshold: the ratings are averages of ten
            raters, so a threshold would throw away how strong the sentiment is and make the
            near-zero snippets coin flips; a regression is also scored like the other two
            examples (RMSE), which keeps one report for all three.

The first variant gets the course hyperparameters; the others shallower trees (max_depth 3), so
the example A/B test compares two different models and `make train` stays fast and repeatable.
``xgbapi tune --variant challenger`` replaces a challenger with a tuned one. Afterwards the config
is loaded the way ``cdk synth`` loads it, so a success here means the stacks will find the runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from contract.config import ConfigError, load_config
from contract.encoding import FitOptions
from contract.errors import CliError
from contract.images import DEFAULT_FRAMEWORK_VERSION
from training import data, example_data, hyperparameters, local_runs
from training.defaults import DEFAULT_REGION, DEFAULT_TARGET

CHALLENGER_OVERRIDES = ["max_depth=3"]


@dataclass(frozen=True)
class Example:
    """Where an example's table comes from and what it predicts."""

    fetch: Callable[[], Path] | None  # a CSV path; None: sklearn's bundled diabetes table
    target: str
    choices: data.ColumnChoices = field(default_factory=data.ColumnChoices)  # the guesses are right here
    # The other variants' own preparation, when their input differs from the first variant's
    # (the Lambda encodes each request with the spec of the variant it assigns).
    challenger_choices: data.ColumnChoices | None = None


EXAMPLES = {
    "diabetes": Example(None, DEFAULT_TARGET),
    "penguins": Example(example_data.penguins_csv, "body_mass_g"),
    # The challenger reads a larger vocabulary: an A/B test of two input specs behind one API.
    "reviews": Example(example_data.reviews_csv, "rating", challenger_choices=data.ColumnChoices(
        options=FitOptions(vocabulary_size=8000))),
}


def _variant_runs(config_path: Path) -> list[tuple[str, Path]]:
    """(variant, runs dir) per variant of the config, validated without its (untrained) models."""
    try:
        config = load_config(config_path, resolve_models=False)
    except ConfigError as error:
        raise CliError(" / ".join([str(config_path), *error.problems]), "fix the config") from None
    result = []
    for variant in config.variants:
        name, manifest = variant.name, variant.manifest_path
        if manifest.name != "manifest.json" or manifest.parent.name != "latest" \
                or manifest.parent.parent.name != name:
            raise CliError(f"variant {name!r} manifest {manifest} is not <runs>/{name}/latest/manifest.json",
                           "point the variant at the layout training writes, or train it by hand")
        result.append((name, manifest.parent.parent.parent))
    return result


def challenger_dir(prepared_dir: Path) -> Path:
    """Where the other variants' own preparation goes, beside the first variant's."""
    return Path(prepared_dir).with_name(Path(prepared_dir).name + "-challenger")


def train_examples(config_path: Path, prepared_dir: Path, *, example: str | None = None,
                   data_path: str | None = None, target: str = DEFAULT_TARGET,
                   region: str = DEFAULT_REGION,
                   framework_version: str = DEFAULT_FRAMEWORK_VERSION) -> Iterator[str]:
    """Prepare ``example``'s table (or ``data_path``), then train and evaluate every variant."""
    variants = _variant_runs(config_path)
    choices, challenger_choices = data.ColumnChoices(), None
    if example is not None:
        if example not in EXAMPLES:
            raise CliError(f"--example {example!r} is not one of {', '.join(EXAMPLES)}",
                           "pick one of those, or pass --data and --target for your own table")
        chosen = EXAMPLES[example]
        data_path = str(chosen.fetch()) if chosen.fetch is not None else None
        target, choices, challenger_choices = chosen.target, chosen.choices, chosen.challenger_choices
    table = data.load_table(data_path, target)
    prepared = data.write_prepared(table, prepared_dir, choices=choices)
    yield f"prepared {prepared.directory}"
    yield data.describe(prepared)
    others = prepared
    if challenger_choices is not None and len(variants) > 1:
        # Same split (same seed), another encoding: the held-out rows stay the same rows.
        others = data.write_prepared(table, challenger_dir(prepared_dir), choices=challenger_choices)
        yield f"prepared {others.directory} for the other variants"
        yield data.describe(others)
    for index, (variant, runs_dir) in enumerate(variants):
        overrides = [] if index == 0 else CHALLENGER_OVERRIDES
        own = prepared if index == 0 else others
        run = local_runs.train_run(own, runs_dir, variant, hyperparameters.with_overrides(overrides),
                                   framework_version, region)
        scores = local_runs.evaluate_run(run, own)
        yield f"{variant}: {os.path.relpath(run)} " + " ".join(f"{k}={v:.3f}" for k, v in scores.items())

    try:
        load_config(config_path)
    except ConfigError as error:
        raise CliError(f"the trained runs do not satisfy {config_path}: "
                       + " / ".join(error.problems), "fix the config and train again") from None
    yield f"config {config_path} loads with every variant's model"
