"""The prepared-data folder that ``xgbapi prepare`` writes and training and the demo read.

Files: ``dataset.json`` (source, target, feature names, seed, row counts); ``train.csv`` and
``validation.csv`` (label first, no header: the built-in algorithm's CSV channels);
``test.csv`` (features only, the way the endpoint receives rows) with ``test_labels.csv``.
An empty field is a missing value, as in the container.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path

from contract.errors import CliError

DEFAULT_PREPARED_DIR = "data/prepared"  # where prepare writes and the demo reads, by default
DATASET_FILE = "dataset.json"
TRAIN, VALIDATION, TEST, TEST_LABELS = "train.csv", "validation.csv", "test.csv", "test_labels.csv"


@dataclass(frozen=True)
class TestSplit:
    """The held-out rows as plain lists (NaN = missing), for code that does not load numpy."""

    feature_names: tuple[str, ...]
    rows: list[list[float]]
    labels: list[float]


def read_dataset_info(directory: Path | str) -> dict[str, object]:
    path = Path(directory) / DATASET_FILE
    try:
        info: dict[str, object] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CliError(f"{directory} holds no prepared data ({DATASET_FILE} missing)",
                       "run `xgbapi prepare` (or make train) first, or pass --prepared DIR") from None
    except json.JSONDecodeError:
        raise CliError(f"{path} is not valid JSON", "re-run `xgbapi prepare`") from None
    return info


def read_test_split(directory: Path | str) -> TestSplit:
    info = read_dataset_info(directory)
    names = tuple(str(name) for name in info["features"])  # type: ignore[attr-defined]
    rows = [[_number(cell) for cell in row] for row in _rows(Path(directory) / TEST)]
    labels = [_number(row[0]) for row in _rows(Path(directory) / TEST_LABELS)]
    return TestSplit(feature_names=names, rows=rows, labels=labels)


def _rows(path: Path) -> list[list[str]]:
    if not path.is_file():
        raise CliError(f"prepared file {path} does not exist", "run `xgbapi prepare` first")
    with path.open(encoding="utf-8", newline="") as handle:
        return [row for row in csv.reader(handle) if row]


def _number(cell: str) -> float:
    return float(cell) if cell.strip() else math.nan
