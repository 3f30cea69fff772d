"""Read a tabular dataset, split it, and write the built-in XGBoost algorithm's CSV format.

A prepared directory holds:
  train.csv, validation.csv  label first, then the features; no header, no index
  test.csv                   the features only (what batch transform and the endpoint receive)
  test_labels.csv            the test labels, one per line, kept aside for scoring
  dataset.json               target, feature names in column order, seed and row counts
Empty CSV fields are missing values, which is what the container reads them as.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from contract.errors import CliError
from contract.prepared import DATASET_FILE, TEST, TEST_LABELS, read_dataset_info
from training.defaults import DEFAULT_SEED, DEFAULT_TARGET

MIN_ROWS = 10  # fewer rows cannot give every split at least one row to learn or score on
# Same rule as the manifest's feature names: the names travel into JSON, CSV and env variables.
_FEATURE_NAME = re.compile(r"^[^\s,\"'\x00-\x1f]{1,128}$")


@dataclass(frozen=True)
class Table:
    """A numeric table: ``features`` rows x columns (NaN = missing), ``labels`` one per row."""

    source: str
    target: str
    feature_names: tuple[str, ...]
    features: np.ndarray
    labels: np.ndarray


@dataclass(frozen=True)
class Prepared:
    directory: Path
    target: str
    feature_names: tuple[str, ...]

    def path(self, name: str) -> Path:
        return self.directory / name

    def load_xy(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Read a label-first split back the way the container does."""
        matrix = _read_matrix(self.path(name))
        return matrix[:, 1:], matrix[:, 0]

    def load_test(self) -> tuple[np.ndarray, np.ndarray]:
        features = _read_matrix(self.path(TEST))
        labels = _read_matrix(self.path(TEST_LABELS))[:, 0]
        return features, labels


def load_table(path: str | None, target: str = DEFAULT_TARGET) -> Table:
    """The default demo data (sklearn's bundled diabetes set, no download), a CSV or a Parquet file."""
    if path is None:
        return _diabetes(target)
    file = Path(path)
    if not file.is_file():
        raise CliError(f"data file {path} does not exist",
                       "pass an existing CSV or Parquet file with --data, or omit --data for the demo data")
    columns = _read_parquet(file) if file.suffix.lower() in {".parquet", ".pq"} else _read_csv(file)
    return _to_table(str(file), columns, target)


def _diabetes(target: str) -> Table:
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes()
    columns: dict[str, list[object]] = {name: list(bunch.data[:, i]) for i, name in
                                        enumerate(bunch.feature_names)}
    columns[DEFAULT_TARGET] = list(bunch.target)
    return _to_table("sklearn diabetes", columns, target)


def _read_csv(file: Path) -> dict[str, list[object]]:
    try:
        # utf-8-sig: spreadsheet exports often start with a byte-order mark.
        with file.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except UnicodeDecodeError:
        raise CliError(f"data file {file} is not UTF-8 text", "save it as UTF-8 CSV, or as Parquet") from None
    except csv.Error as error:
        raise CliError(f"data file {file} is not valid CSV ({error})",
                       "fix the file or export it again") from None
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise CliError(f"data file {file} is empty", "give a CSV with a header row and data rows")
    header = [name.strip() for name in rows[0]]
    columns: dict[str, list[object]] = {name: [] for name in header}
    if len(columns) != len(header):
        raise CliError(f"data file {file} has duplicate column names", "rename the columns so each is unique")
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue  # blank line
        if len(row) != len(header):
            raise CliError(f"{file} line {number} has {len(row)} fields, the header has {len(header)}",
                           "fix the row or the header")
        for name, cell in zip(header, row, strict=True):
            columns[name].append(cell)
    return columns


def _read_parquet(file: Path) -> dict[str, list[object]]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(file)
    except Exception as error:  # pyarrow raises several types for a bad file
        raise CliError(f"data file {file} is not readable Parquet ({type(error).__name__})",
                       "check the file, or export it as CSV") from None
    return {name: table.column(name).to_pylist() for name in table.column_names}


def _number(value: object) -> float | None:
    """A float, NaN for a missing value, or None when the value is not a number."""
    if value is None:
        return math.nan
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if text == "" or text.lower() in {"nan", "na"}:
            return math.nan
        try:
            return float(text)
        except ValueError:
            return None
    return None


def _to_table(source: str, columns: dict[str, list[object]], target: str) -> Table:
    if target not in columns:
        raise CliError(f"target column {target!r} is not in {source} (columns: {', '.join(columns)})",
                       "name the label column with --target")
    feature_names = tuple(name for name in columns if name != target)
    if not feature_names:
        raise CliError(f"{source} has no feature columns besides {target!r}", "add feature columns")
    for name in feature_names:
        if not _FEATURE_NAME.match(name):
            raise CliError(f"feature column {name!r} is not a usable name",
                           "rename it to 1-128 characters without spaces, commas or quotes")
    rows = len(columns[target])
    if rows < MIN_ROWS:
        raise CliError(f"{source} has {rows} data rows, at least {MIN_ROWS} are needed to split "
                       "train/validation/test", "use a larger dataset")
    labels = _numeric_column(source, target, columns[target], "target")
    missing = int(np.isnan(labels).sum())
    if missing:
        raise CliError(f"target column {target!r} has {missing} empty or NaN values",
                       "drop or fill those rows before training")
    if not np.isfinite(labels).all():
        raise CliError(f"target column {target!r} has infinite values", "drop or fix those rows")
    features = np.column_stack([_numeric_column(source, name, columns[name], "feature")
                                for name in feature_names])
    infinite = [name for name, column in zip(feature_names, features.T, strict=True)
                if np.isinf(column).any()]
    if infinite:
        # xgboost refuses inf; only an empty field (NaN) means "missing" to the container.
        raise CliError(f"feature column {infinite[0]!r} has infinite values",
                       "replace them with a number or leave the field empty (missing)")
    return Table(source=source, target=target, feature_names=feature_names, features=features,
                 labels=labels)


def _numeric_column(source: str, name: str, values: list[object], role: str) -> np.ndarray:
    numbers = [_number(v) for v in values]
    bad = [values[i] for i, n in enumerate(numbers) if n is None]
    if bad:
        raise CliError(f"{role} column {name!r} in {source} is not numeric (e.g. {bad[0]!r})",
                       "encode it as numbers (the built-in XGBoost algorithm reads numbers only) or drop it")
    return np.array(numbers, dtype=np.float64)


def split(table: Table, seed: int = DEFAULT_SEED, validation_fraction: float = 0.2,
          test_fraction: float = 0.2) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Fixed-seed train / validation / test split (fractions of the whole table)."""
    if not (0 < validation_fraction < 1 and 0 < test_fraction < 1
            and validation_fraction + test_fraction < 1):
        raise CliError("validation and test fractions must be in (0, 1) and sum to less than 1",
                       "e.g. --validation-fraction 0.2 --test-fraction 0.2")
    x_rest, x_test, y_rest, y_test = train_test_split(
        table.features, table.labels, test_size=test_fraction, random_state=seed)
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=validation_fraction / (1 - test_fraction), random_state=seed)
    return {"train": (x_train, y_train), "validation": (x_val, y_val), "test": (x_test, y_test)}


def _cell(value: float) -> str:
    # repr round-trips a float exactly; empty is the container's missing value.
    return "" if math.isnan(value) else repr(float(value))


def _write_rows(path: Path, rows: np.ndarray) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        for row in rows:
            handle.write(",".join(_cell(v) for v in row) + "\n")


def _read_matrix(path: Path) -> np.ndarray:
    if not path.is_file():
        raise CliError(f"prepared file {path} does not exist", "run `xgbapi prepare` first")
    matrix = np.genfromtxt(path, delimiter=",", dtype=np.float64, ndmin=2, filling_values=np.nan)
    return matrix


def write_prepared(table: Table, out: Path, seed: int = DEFAULT_SEED, validation_fraction: float = 0.2,
                   test_fraction: float = 0.2) -> Prepared:
    """Write the splits into ``out``, replacing an earlier preparation only once all files exist."""
    splits = split(table, seed, validation_fraction, test_fraction)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}-"))
    try:
        for name, (x, y) in (("train", splits["train"]), ("validation", splits["validation"])):
            _write_rows(staging / f"{name}.csv", np.column_stack([y, x]))
        x_test, y_test = splits["test"]
        _write_rows(staging / TEST, x_test)
        _write_rows(staging / TEST_LABELS, y_test.reshape(-1, 1))
        meta = {"source": table.source, "target": table.target,
                "features": list(table.feature_names), "seed": seed,
                "rows": {name: len(y) for name, (_, y) in splits.items()}}
        (staging / DATASET_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        staging.chmod(0o755)
        _replace_directory(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Prepared(out, table.target, table.feature_names)


def _replace_directory(staging: Path, out: Path) -> None:
    # os.replace cannot swap a non-empty directory: move the old one aside first, then drop it.
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}-old-"))
        os.replace(out, old / "previous")
    os.replace(staging, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def load_prepared(directory: Path | str) -> Prepared:
    meta = read_dataset_info(directory)
    return Prepared(Path(directory), str(meta["target"]), tuple(meta["features"]))  # type: ignore[arg-type]
