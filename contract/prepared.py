"""The prepared-data folder that ``xgbapi prepare`` writes and training and the demo read.

Files, with ``<fmt>`` the model's input format (``csv`` or ``libsvm``, contract/encoding.py):
  ``dataset.json``            source, target, seed, row counts and the input spec (raw fields,
                              their kinds and fitted encodings, the format)
  ``train/part-NNNNN.<fmt>``, ``validation/part-NNNNN.<fmt>``  label first, then the encoded
                              features: the built-in algorithm's training channels, in shards
                              of a bounded size (S3 key sharding hands each instance whole files)
  ``test/part-NNNNN.<fmt>``   the encoded features only, the way the endpoint receives rows
  dataset.json lists every shard in row order with its rows, bytes and SHA-256.
  ``test_labels.csv``         the test labels, one per line
  ``test_raw.csv``            the test rows as raw fields (header, then one row per test row):
                              what a caller sends the API, for the demo and the parity tests
In CSV an empty field is a missing value; in libsvm an absent entry is.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contract.encoding import InputSpec, parse_spec
from contract.errors import CliError

DEFAULT_PREPARED_DIR = "data/prepared"  # where prepare writes and the demo reads, by default
DATASET_FILE = "dataset.json"
TEST_LABELS, TEST_RAW = "test_labels.csv", "test_raw.csv"
TRAIN, VALIDATION, TEST = "train", "validation", "test"  # split names: folders of shards
SPLITS = (TRAIN, VALIDATION, TEST)


def shard_file(split: str, index: int, input_format: str) -> str:
    """``train``, 3, ``libsvm`` -> ``train/part-00003.libsvm`` (relative to the folder)."""
    return f"{split}/part-{index:05d}.{input_format}"


@dataclass(frozen=True)
class Shard:
    file: str  # relative to the prepared folder
    rows: int
    bytes: int
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "rows": self.rows, "bytes": self.bytes, "sha256": self.sha256}


@dataclass(frozen=True)
class TestSplit:
    """The held-out rows as raw CSV cells (fields in spec order) and their labels."""

    spec: InputSpec
    raw_rows: list[list[str]]
    labels: list[float]


def read_dataset_info(directory: Path | str) -> dict[str, Any]:
    path = Path(directory) / DATASET_FILE
    try:
        info: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CliError(f"{directory} holds no prepared data ({DATASET_FILE} missing)",
                       "run `xgbapi prepare` (or make train) first, or pass --prepared DIR") from None
    except json.JSONDecodeError:
        raise CliError(f"{path} is not valid JSON", "re-run `xgbapi prepare`") from None
    return info


def read_input_spec(directory: Path | str) -> InputSpec:
    info = read_dataset_info(directory)
    try:
        if "input" not in info:  # written before raw fields existed: numeric CSV
            return parse_spec({"format": "csv", "fields": [{"name": n} for n in info["features"]]})
        return parse_spec(info["input"])
    except (ValueError, KeyError) as error:
        raise CliError(f"{Path(directory) / DATASET_FILE} has no usable input spec ({error})",
                       "re-run `xgbapi prepare`") from None


def read_shards(directory: Path | str) -> dict[str, tuple[Shard, ...]]:
    info = read_dataset_info(directory)
    if "shards" not in info:
        raise CliError(f"{Path(directory) / DATASET_FILE} was written by an older prepare (one file "
                       "per split, no shards)", "re-run `xgbapi prepare`")
    try:
        return {split: tuple(Shard(file=str(s["file"]), rows=int(s["rows"]), bytes=int(s["bytes"]),
                                   sha256=str(s["sha256"])) for s in info["shards"][split])
                for split in SPLITS}
    except (KeyError, TypeError, ValueError) as error:
        raise CliError(f"{Path(directory) / DATASET_FILE} has no usable shard list ({error!r})",
                       "re-run `xgbapi prepare`") from None


def read_test_split(directory: Path | str) -> TestSplit:
    spec = read_input_spec(directory)
    rows = _rows(Path(directory) / TEST_RAW)
    if not rows or rows[0] != list(spec.field_names):
        raise CliError(f"{Path(directory) / TEST_RAW} does not start with the header "
                       f"{','.join(spec.field_names)}", "re-run `xgbapi prepare`")
    labels = [float(row[0]) for row in _rows(Path(directory) / TEST_LABELS)]
    return TestSplit(spec=spec, raw_rows=rows[1:], labels=labels)


def _rows(path: Path) -> list[list[str]]:
    if not path.is_file():
        raise CliError(f"prepared file {path} does not exist", "run `xgbapi prepare` first")
    with path.open(encoding="utf-8", newline="") as handle:
        return [row for row in csv.reader(handle) if row]
