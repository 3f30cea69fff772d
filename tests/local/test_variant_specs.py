"""Two variants with different input specs behind one Lambda, through the local stack.

The champion reads three raw fields with a small vocabulary (CSV); the challenger reads a fourth
column too, with a larger vocabulary (libsvm). A client sends one kind of row; the handler
assigns the variant, encodes with that variant's spec, and each served prediction equals the
variant's own model on its own encoding.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xgboost as xgb

from contract.artifact import read_model_archive
from contract.config import AppConfig, load_config
from contract.encoding import Encoder, FitOptions
from local.client import ApiClient
from local.stack import running
from training import data, hyperparameters, local_runs
from training.defaults import DEFAULT_REGION

WORDS = ["good", "bad", "plot", "acting", "music", "long", "short", "dull", "witty", "moving",
         "slow", "fun", "sad"]


def _table(path: Path, rows: int = 240) -> None:
    rng = np.random.default_rng(5)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["x", "colour", "note", "extra", "y"])
        for _ in range(rows):
            x, extra = rng.normal(), rng.normal()
            colour = rng.choice(["red", "green", "blue"])
            note = " ".join(rng.choice(WORDS, size=int(rng.integers(3, 9))))
            y = 2 * x + (colour == "red") + note.count("good") - note.count("bad") + 3 * extra
            writer.writerow([x, colour, note, extra, y])


CONFIG = """
[project]
prefix = "xgb-specs"

[[variants]]
name = "champion"
manifest = "{runs}/champion/latest/manifest.json"
weight = 0.5

[[variants]]
name = "challenger"
manifest = "{runs}/challenger/latest/manifest.json"
weight = 0.5
"""


@pytest.fixture(scope="module")
def two_specs(tmp_path_factory: pytest.TempPathFactory) -> tuple[AppConfig, dict[str, Any]]:
    root = tmp_path_factory.mktemp("two-specs")
    _table(root / "table.csv")
    table = data.load_table(str(root / "table.csv"), "y")
    choices = {
        "champion": data.ColumnChoices(drop=("extra",), input_format="csv",
                                       options=FitOptions(vocabulary_size=4, min_category_count=1)),
        "challenger": data.ColumnChoices(input_format="libsvm",
                                         options=FitOptions(vocabulary_size=12, min_category_count=1)),
    }
    boosters = {}
    for variant, choice in choices.items():
        prepared = data.write_prepared(table, root / f"prepared-{variant}", choices=choice)
        run = local_runs.train_run(prepared, root / "runs", variant,
                                   hyperparameters.with_overrides(["num_round=30"]), "3.0-5",
                                   DEFAULT_REGION)
        booster = xgb.Booster()
        booster.load_model(bytearray(read_model_archive(run / "model.tar.gz")))
        boosters[variant] = booster
    (root / "config.toml").write_text(CONFIG.format(runs=root / "runs"))
    return load_config(root / "config.toml"), boosters


def own_prediction(config: AppConfig, boosters: dict[str, Any], variant: str,
                   row: dict[str, Any]) -> float:
    spec = next(spec for name, _, spec in config.handler_variants if name == variant)
    line = Encoder(spec).encode(row, text=False)
    if spec.format == "csv":
        matrix: Any = np.array([[float(v) if v else np.nan for v in line.split(",")]])
    else:
        from scipy.sparse import csr_matrix

        entries = [item.split(":") for item in line.split()]
        matrix = csr_matrix(([float(v) for _, v in entries], ([0] * len(entries),
                            [int(j) for j, _ in entries])), shape=(1, Encoder(spec).width))
    return float(boosters[variant].predict(xgb.DMatrix(matrix))[0])


def test_each_variant_serves_its_own_encoding(two_specs: tuple[AppConfig, dict[str, Any]]) -> None:
    config, boosters = two_specs
    specs = {name: spec for name, _, spec in config.handler_variants}
    assert specs["champion"] != specs["challenger"]
    assert "extra" in specs["challenger"].field_names and "extra" not in specs["champion"].field_names
    rows = [{"x": 0.1 * i, "colour": ["red", "green", "blue", "violet"][i % 4],
             "note": " ".join(WORDS[i % 7:i % 7 + 4]) + " <br/>", "extra": -0.2 * i}
            for i in range(40)]
    served: Counter[str] = Counter()
    with running(config, seed=1) as stack:
        client = ApiClient(stack.api_url)
        try:
            for i, row in enumerate(rows):
                status, _, body, _ = client.predict({"instances": [row], "assignment_key": f"u{i}"})
                assert status == 200, body
                assert body["assignment"] == "keyed"
                variant = body["variant"]
                served[variant] += 1
                assert abs(body["predictions"][0] - own_prediction(config, boosters, variant, row)) \
                    <= 1e-5 * max(1.0, abs(body["predictions"][0]))
            # A row without the challenger's extra column is fine for the champion only.
            champion_only = {k: v for k, v in rows[0].items() if k != "extra"}
            status, _, body, _ = client.predict({"instances": [champion_only],
                                                 "target_variant": "champion"})
            assert status == 200 and body["variant"] == "champion"
            status, _, body, _ = client.predict({"instances": [champion_only],
                                                 "target_variant": "challenger"})
            assert (status, body["error"]["code"], body["error"]["field"]) == (
                400, "missing_field", "extra")
        finally:
            client.close()
    assert served["champion"] > 5 and served["challenger"] > 5
