"""Read a tabular dataset, settle each column's kind, split it, fit the encodings on the train
split and write the model's input files (contract/prepared.py describes the folder).

Column kinds (contract/encoding.py): a column whose values all read as numbers is numeric; a
string column is text when its values average three words or more, categorical otherwise
(booleans are categorical). ``ColumnChoices`` overrides the guess or drops columns. Encodings are
fitted on the train split only, and every split is encoded by ``contract.encoding.Encoder``, the
code the Lambda runs on requests. The format is CSV for all-numeric data (as before raw fields
existed) and otherwise the smaller of CSV and libsvm on the train split, unless forced.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import statistics
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.model_selection import train_test_split

from contract.encoding import (
    FORMATS,
    KINDS,
    Encoder,
    EncodingError,
    FitOptions,
    InputSpec,
    category_of,
    choose_format,
    fit_field,
    number_of,
    raw_cell,
)
from contract.errors import CliError
from contract.manifest import FEATURE_NAME  # the names travel into JSON, CSV and env variables
from contract.prepared import (
    DATASET_FILE,
    TEST,
    TEST_LABELS,
    TEST_RAW,
    TRAIN,
    VALIDATION,
    read_dataset_info,
    read_input_spec,
    split_file,
)
from training.defaults import DEFAULT_SEED, DEFAULT_TARGET

MIN_ROWS = 10  # fewer rows cannot give every split at least one row to learn or score on
TEXT_MIN_MEAN_WORDS = 3  # a string column averaging this many words or more is text
FORMAT_SAMPLE_ROWS = 1000  # train rows encoded both ways to pick the smaller format


@dataclass(frozen=True)
class Table:
    """Raw feature columns (CSV text, or typed values from Parquet/sklearn) and numeric labels."""

    source: str
    target: str
    columns: dict[str, list[Any]]
    labels: np.ndarray
    from_text: bool  # the values are CSV text (numbers still to parse)

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(self.columns)

    def row(self, index: int) -> dict[str, Any]:
        return {name: values[index] for name, values in self.columns.items()}


@dataclass(frozen=True)
class ColumnChoices:
    """``prepare``'s overrides: kinds forced per column, columns dropped, the format, fit limits."""

    kinds: dict[str, str] = field(default_factory=dict)  # column -> numeric | categorical | text
    drop: tuple[str, ...] = ()
    input_format: str = "auto"  # auto | csv | libsvm
    options: FitOptions = field(default_factory=FitOptions)


@dataclass(frozen=True)
class Prepared:
    directory: Path
    target: str
    spec: InputSpec

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self.spec.field_names

    @property
    def input_format(self) -> str:
        return self.spec.format

    def path(self, split: str) -> Path:
        """A split's file (``train`` -> ``train.csv`` or ``train.libsvm``), or any other file."""
        if split in (TRAIN, VALIDATION, TEST):
            return self.directory / split_file(split, self.spec.format)
        return self.directory / split

    def load_xy(self, split: str) -> tuple[Any, np.ndarray]:
        """A label-first split read back the way the container reads it: a dense float matrix
        (CSV, empty = NaN) or a scipy CSR matrix (libsvm, absent = missing, ``j:0`` = zero)."""
        return _read_split(self.path(split), self.spec, labelled=True)

    def load_test(self) -> tuple[Any, np.ndarray]:
        features, _ = _read_split(self.path(TEST), self.spec, labelled=False)
        labels = _read_split(self.directory / TEST_LABELS, None, labelled=False)[0][:, 0]
        return features, labels


def load_table(path: str | None, target: str = DEFAULT_TARGET) -> Table:
    """The default demo data (sklearn's bundled diabetes set, no download), a CSV or a Parquet file."""
    if path is None:
        return _diabetes(target)
    file = Path(path)
    if not file.is_file():
        raise CliError(f"data file {path} does not exist",
                       "pass an existing CSV or Parquet file with --data, or omit --data for the demo data")
    if file.suffix.lower() in {".parquet", ".pq"}:
        return _to_table(str(file), _read_parquet(file), target, from_text=False)
    return _to_table(str(file), _read_csv(file), target, from_text=True)


def _diabetes(target: str) -> Table:
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes()
    columns: dict[str, list[object]] = {name: [float(v) for v in bunch.data[:, i]] for i, name in
                                        enumerate(bunch.feature_names)}
    columns[DEFAULT_TARGET] = [float(v) for v in bunch.target]
    return _to_table("sklearn diabetes", columns, target, from_text=False)


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


def _to_table(source: str, columns: dict[str, list[Any]], target: str, *, from_text: bool) -> Table:
    if target not in columns:
        raise CliError(f"target column {target!r} is not in {source} (columns: {', '.join(columns)})",
                       "name the label column with --target")
    features = {name: values for name, values in columns.items() if name != target}
    if not features:
        raise CliError(f"{source} has no feature columns besides {target!r}", "add feature columns")
    for name in features:
        if not FEATURE_NAME.match(name):
            raise CliError(f"feature column {name!r} is not a usable name",
                           "rename it to 1-128 characters without spaces, commas or quotes")
    rows = len(columns[target])
    if rows < MIN_ROWS:
        raise CliError(f"{source} has {rows} data rows, at least {MIN_ROWS} are needed to split "
                       "train/validation/test", "use a larger dataset")
    labels = []
    for value in columns[target]:
        try:
            number = number_of(value, target, text=True)
        except EncodingError as error:
            if error.code == "out_of_range":
                raise CliError(f"target column {target!r} has infinite values (e.g. {value!r})",
                               "drop or fix those rows") from None
            raise CliError(f"target column {target!r} in {source} is not numeric (e.g. {value!r})",
                           "predict a numeric target (encode classes as 0, 1, ...)") from None
        labels.append(float("nan") if number is None else number)
    label_array = np.array(labels, dtype=np.float64)
    missing = int(np.isnan(label_array).sum())
    if missing:
        raise CliError(f"target column {target!r} has {missing} empty or NaN values",
                       "drop or fill those rows before training")
    return Table(source=source, target=target, columns=features, labels=label_array,
                 from_text=from_text)


def infer_kind(name: str, values: Sequence[Any], *, from_text: bool) -> str:
    """numeric when every value reads as a number, else text (long strings) or categorical."""
    present = [v for v in values if category_of(v, name) is not None] if from_text else \
        [v for v in values if v is not None and not (isinstance(v, float) and v != v)]
    if not present:
        raise CliError(f"column {name!r} has no values", f"drop it with --drop {name}")
    if not any(isinstance(v, bool) for v in present):
        try:
            for value in present:
                number_of(value, name, text=True)
            return "numeric"
        except EncodingError as error:
            if error.code == "out_of_range":  # a number all the same: encoding names the row
                return "numeric"
    if all(isinstance(v, str) for v in present):
        words = statistics.fmean(len(v.split()) for v in present)
        if words >= TEXT_MIN_MEAN_WORDS:
            return "text"
    return "categorical"


def settle_kinds(table: Table, choices: ColumnChoices) -> dict[str, str]:
    """Each kept column's kind: the override, else the guess."""
    for name in (*choices.kinds, *choices.drop):
        if name not in table.columns:
            raise CliError(f"column {name!r} named in an override is not a feature of {table.source}",
                           f"use one of: {', '.join(table.columns)}")
    for name, kind in choices.kinds.items():
        if kind not in KINDS:
            raise CliError(f"kind {kind!r} for column {name!r} is not one of {', '.join(KINDS)}",
                           "use --numeric, --categorical or --text")
    kept = [name for name in table.columns if name not in choices.drop]
    if not kept:
        raise CliError("every feature column is dropped", "keep at least one column")
    return {name: choices.kinds.get(name) or infer_kind(name, table.columns[name],
                                                         from_text=table.from_text)
            for name in kept}


def split_indices(rows: int, seed: int = DEFAULT_SEED, validation_fraction: float = 0.2,
                  test_fraction: float = 0.2) -> dict[str, np.ndarray]:
    """Fixed-seed train / validation / test row numbers (fractions of the whole table)."""
    if not (0 < validation_fraction < 1 and 0 < test_fraction < 1
            and validation_fraction + test_fraction < 1):
        raise CliError("validation and test fractions must be in (0, 1) and sum to less than 1",
                       "e.g. --validation-fraction 0.2 --test-fraction 0.2")
    rest, test = train_test_split(np.arange(rows), test_size=test_fraction, random_state=seed)
    train, validation = train_test_split(rest, test_size=validation_fraction / (1 - test_fraction),
                                         random_state=seed)
    return {TRAIN: train, VALIDATION: validation, TEST: test}


def fit_spec(table: Table, kinds: dict[str, str], train_rows: np.ndarray,
             choices: ColumnChoices) -> InputSpec:
    """The fields' encodings fitted on the train rows, and the format."""
    fields = []
    for name, kind in kinds.items():
        values = [table.columns[name][i] for i in train_rows]
        try:
            fields.append(fit_field(name, kind, values, choices.options))
        except EncodingError as error:
            raise CliError(f"column {name!r}: {error.message}", _fix_for(error, name)) from None
    fmt = choices.input_format
    if fmt == "auto":
        if all(f.kind == "numeric" for f in fields):
            fmt = "csv"
        else:
            sample = [_text_row(table, kinds, i) for i in train_rows[:FORMAT_SAMPLE_ROWS]]
            fmt = choose_format(tuple(fields), sample)
    elif fmt not in FORMATS:
        raise CliError(f"--format {fmt!r} is not auto, csv or libsvm", "pass --format auto")
    return InputSpec(tuple(fields), fmt)


def _fix_for(error: EncodingError, name: str) -> str:
    if error.code == "wrong_kind":
        return f"fix the value, or give the column another kind (--categorical {name} / --text {name})"
    if error.code == "out_of_range":
        return "replace it with a finite number or leave the field empty (missing)"
    if error.code == "text_too_long":
        return "raise --max-text-chars or shorten the text"
    return f"drop the column (--drop {name}) or change its kind"


def _text_row(table: Table, kinds: dict[str, str], index: int) -> dict[str, str]:
    """Row ``index`` as raw CSV text (what test_raw.csv holds and a CSV caller sends)."""
    return {name: raw_cell(table.columns[name][index]) for name in kinds}


def encoded_lines(table: Table, spec: InputSpec, rows: np.ndarray, *,
                  labelled: bool) -> Iterator[str]:
    """The split's lines, each row encoded by the encoder the Lambda runs."""
    encoder = Encoder(spec)
    sep = " " if spec.format == "libsvm" else ","
    names = spec.field_names
    for i in rows:
        row = {name: table.columns[name][i] for name in names}
        try:
            line = encoder.encode(row, text=table.from_text)
        except EncodingError as error:
            raise CliError(f"{table.source} data row {int(i) + 1}, column {error.field!r}: "
                           f"{error.message}", _fix_for(error, error.field)) from None
        yield f"{float(table.labels[i])!r}{sep}{line}" if labelled else line


def write_prepared(table: Table, out: Path, seed: int = DEFAULT_SEED, validation_fraction: float = 0.2,
                   test_fraction: float = 0.2, choices: ColumnChoices | None = None) -> Prepared:
    """Write the splits into ``out``, replacing an earlier preparation only once all files exist."""
    choices = choices or ColumnChoices()
    splits = split_indices(len(table.labels), seed, validation_fraction, test_fraction)
    kinds = settle_kinds(table, choices)
    spec = fit_spec(table, kinds, splits[TRAIN], choices)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}-"))
    try:
        for name in (TRAIN, VALIDATION):
            _write_lines(staging / split_file(name, spec.format),
                         encoded_lines(table, spec, splits[name], labelled=True))
        test = splits[TEST]
        _write_lines(staging / split_file(TEST, spec.format),
                     encoded_lines(table, spec, test, labelled=False))
        _write_lines(staging / TEST_LABELS, (f"{float(table.labels[i])!r}" for i in test))
        with (staging / TEST_RAW).open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(spec.field_names)
            writer.writerows([_text_row(table, kinds, i)[name] for name in spec.field_names]
                             for i in test)
        meta = {"source": table.source, "target": table.target, "features": list(spec.field_names),
                "seed": seed, "rows": {name: len(rows) for name, rows in splits.items()},
                "columns": len(spec.column_names()), "input": spec.to_dict()}
        (staging / DATASET_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        staging.chmod(0o755)
        _replace_directory(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Prepared(out, table.target, spec)


def describe(prepared: Prepared) -> str:
    """The schema prepare settled on, one line per field (what ``xgbapi prepare`` prints)."""
    lines = [f"input format {prepared.spec.format}, {len(prepared.spec.column_names())} model columns"]
    for f in prepared.spec.fields:
        if f.kind == "categorical":
            detail = f"{len(f.categories)} categories + (other): {', '.join(f.categories[:8])}" + \
                (", ..." if len(f.categories) > 8 else "") + f"; unseen -> {f.unseen}"
        elif f.kind == "text":
            detail = (f"{len(f.vocabulary)} tokens ({'binary' if f.binary else 'counts'}, "
                      f"tokenizer {f.tokenizer}{', stop words' if f.stop_words else ''}, "
                      f"at most {f.max_chars} characters)")
        else:
            detail = "as is, missing stays missing"
        lines.append(f"  {f.name:<24} {f.kind:<12} {detail}")
    return "\n".join(lines)


def _write_lines(path: Path, lines: Iterator[str]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        for line in lines:
            handle.write(line + "\n")


def _read_split(path: Path, spec: InputSpec | None, *, labelled: bool) -> tuple[Any, np.ndarray]:
    if not path.is_file():
        raise CliError(f"prepared file {path} does not exist", "run `xgbapi prepare` first")
    if spec is not None and spec.format == "libsvm":
        return _read_libsvm(path, Encoder(spec).width, labelled=labelled)
    matrix = np.genfromtxt(path, delimiter=",", dtype=np.float64, ndmin=2, filling_values=np.nan)
    if labelled:
        return matrix[:, 1:], matrix[:, 0]
    return matrix, np.empty(0)


def _read_libsvm(path: Path, width: int, *, labelled: bool) -> tuple[Any, np.ndarray]:
    """libsvm lines -> (CSR matrix of ``width`` columns, labels); stored zeros stay stored (zero),
    absent entries are missing to xgboost."""
    from scipy.sparse import csr_matrix

    labels, data, indices, indptr = [], [], [], [0]
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            items = line.split()
            if labelled:
                labels.append(float(items[0]))
                items = items[1:]
            for item in items:
                j, _, value = item.partition(":")
                indices.append(int(j))
                data.append(float(value))
            indptr.append(len(indices))
    matrix = csr_matrix((np.array(data, dtype=np.float32), np.array(indices, dtype=np.int64),
                         np.array(indptr, dtype=np.int64)), shape=(len(indptr) - 1, width))
    return matrix, np.array(labels, dtype=np.float64)


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
    return Prepared(Path(directory), str(meta["target"]), read_input_spec(directory))
