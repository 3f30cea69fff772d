"""``make train``: train every variant a deployment config references, locally.

The first variant gets the course hyperparameters; the others shallower trees (max_depth 3), so
the example A/B test compares two different models and `make train` stays fast and repeatable.
``xgbapi tune --variant challenger`` replaces a challenger with a tuned one. Afterwards the config
is loaded the way ``cdk synth`` loads it, so a success here means the stacks will find the runs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from contract.config import ConfigError, load_config
from contract.errors import CliError
from contract.images import DEFAULT_FRAMEWORK_VERSION
from training import data, hyperparameters, local_runs
from training.defaults import DEFAULT_REGION, DEFAULT_TARGET

CHALLENGER_OVERRIDES = ["max_depth=3"]


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


def train_examples(config_path: Path, prepared_dir: Path, *, data_path: str | None = None,
                   target: str = DEFAULT_TARGET, region: str = DEFAULT_REGION,
                   framework_version: str = DEFAULT_FRAMEWORK_VERSION) -> Iterator[str]:
    variants = _variant_runs(config_path)
    table = data.load_table(data_path, target)
    prepared = data.write_prepared(table, prepared_dir)
    yield f"prepared {prepared.directory}"
    for index, (variant, runs_dir) in enumerate(variants):
        overrides = [] if index == 0 else CHALLENGER_OVERRIDES
        run = local_runs.train_run(prepared, runs_dir, variant, hyperparameters.with_overrides(overrides),
                                   framework_version, region)
        scores = local_runs.evaluate_run(run, prepared)
        yield f"{variant}: {os.path.relpath(run)} " + " ".join(f"{k}={v:.3f}" for k, v in scores.items())

    try:
        load_config(config_path)
    except ConfigError as error:
        raise CliError(f"the trained runs do not satisfy {config_path}: "
                       + " / ".join(error.problems), "fix the config and train again") from None
    yield f"config {config_path} loads with every variant's model"
