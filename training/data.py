"""Stream a tabular dataset into the model's input files, in memory that does not grow with its rows
(contract/prepared.py describes the folder written).

Two passes over the source (training/sources.py reads it in chunks):
1. survey: check the labels, settle each column's kind on the first rows, assign every row to
   train, validation or test by a hash of the row (or of a key column), and fit the encodings on
   the train rows as they go by (contract/encoding.py's FieldFitter: bounded counters);
2. write: encode every row with ``contract.encoding.Encoder``, the code the Lambda runs on
   requests, into numbered shards of at most ``--shard-mb`` per split.
A row's split depends only on its own contents and the seed, so the same rows land in the same
split whatever the chunk and shard sizes, and no shuffle in memory is needed.

Column kinds (contract/encoding.py): a column whose values all read as numbers is numeric; a
string column is text when its values average three words or more, categorical otherwise
(booleans are categorical). They are settled on the first ``KIND_SAMPLE_ROWS`` rows; a later row
that contradicts them (text in a numeric column) is an error naming the row and the column.
``ColumnChoices`` overrides the guess or drops columns. The format is CSV for all-numeric data
and otherwise the smaller of CSV and libsvm on the first train rows, unless forced.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import shutil
import statistics
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from contract.encoding import (
    FORMATS,
    KINDS,
    Encoder,
    EncodingError,
    FieldFitter,
    FitOptions,
    InputSpec,
    category_of,
    choose_format,
    number_of,
    raw_cell,
)
from contract.errors import CliError
from contract.prepared import (
    DATASET_FILE,
    SPLITS,
    TEST,
    TEST_LABELS,
    TEST_RAW,
    TRAIN,
    VALIDATION,
    Shard,
    read_dataset_info,
    read_input_spec,
    read_shards,
    shard_file,
)
from training.defaults import DEFAULT_SEED, DEFAULT_SHARD_MB
from training.sources import CHUNK_BYTES, Chunk
from training.sources import Table as Table  # re-exported: prepare's callers read tables here
from training.sources import load_table as load_table

MIN_ROWS = 10  # fewer rows cannot give every split at least one row to learn or score on
TEXT_MIN_MEAN_WORDS = 3  # a string column averaging this many words or more is text
FORMAT_SAMPLE_ROWS = 1000  # train rows encoded both ways to pick the smaller format
KIND_SAMPLE_ROWS = 10_000  # the first rows, on which each column's kind is settled



@dataclass(frozen=True)
class ColumnChoices:
    """``prepare``'s overrides: kinds forced per column, columns dropped, the format, fit limits."""

    kinds: dict[str, str] = field(default_factory=dict)  # column -> numeric | categorical | text
    drop: tuple[str, ...] = ()
    input_format: str = "auto"  # auto | csv | libsvm
    options: FitOptions = field(default_factory=FitOptions)


@dataclass(frozen=True)
class SplitPlan:
    """Which split a row goes to: a keyed hash of the row (or of its ``key`` column) mapped to
    [0, 1), compared with the fractions. Rows with equal contents (or equal keys) share a split."""

    seed: int = DEFAULT_SEED
    validation_fraction: float = 0.2
    test_fraction: float = 0.2
    key: str | None = None  # a column whose equal values must stay together (a user id)

    def __post_init__(self) -> None:
        if not (0 < self.validation_fraction < 1 and 0 < self.test_fraction < 1
                and self.validation_fraction + self.test_fraction < 1):
            raise CliError("validation and test fractions must be in (0, 1) and sum to less than 1",
                           "e.g. --validation-fraction 0.2 --test-fraction 0.2")

    def splits(self, chunk: Chunk, *, text: bool) -> list[str]:
        """The split of each row of ``chunk``; ``text``: its values are CSV text already."""
        salt = str(self.seed).encode()
        test, held_out = self.test_fraction, self.test_fraction + self.validation_fraction
        cells = (lambda values: values) if text else (lambda values: map(raw_cell, values))
        if self.key is not None:
            keys: Any = list(cells(chunk.columns[self.key]))
            for offset, key in enumerate(keys):
                if not key.strip():  # all keyless rows would share one split
                    raise CliError(f"split key column {self.key!r} is empty at data row "
                                   f"{chunk.first_row + offset}", "fill it, or split by whole rows "
                                   "(leave out --split-key)")
        else:
            keys = map("\x1f".join, zip(*map(cells, chunk.columns.values()), strict=True))
        out = []
        for key in keys:
            digest = hashlib.blake2b(key.encode(), digest_size=8, key=salt).digest()
            where = int.from_bytes(digest) / 2**64
            out.append(TEST if where < test else VALIDATION if where < held_out else TRAIN)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"method": "hash", "seed": self.seed, "key": self.key,
                "validation_fraction": self.validation_fraction, "test_fraction": self.test_fraction}


@dataclass(frozen=True)
class Prepared:
    directory: Path
    target: str
    spec: InputSpec
    shards: dict[str, tuple[Shard, ...]]  # split -> its shards, in row order

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self.spec.field_names

    @property
    def input_format(self) -> str:
        return self.spec.format

    def rows(self, split: str) -> int:
        return sum(shard.rows for shard in self.shards[split])

    def shard_paths(self, split: str) -> list[Path]:
        return [self.directory / shard.file for shard in self.shards[split]]

    def fingerprint(self) -> str:
        """16 hex digits of a SHA-256 over the target, the input spec and every shard's SHA-256
        (not the source's path): equal prepared data get the same S3 folder, wherever it came from."""
        meta = read_dataset_info(self.directory)
        content = {name: meta[name] for name in ("target", "input", "shards")}
        return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:16]

    def read_shard(self, path: Path, *, labelled: bool) -> tuple[Any, np.ndarray]:
        """One shard read back the way the container reads it: a dense float matrix (CSV, empty
        = NaN) or a scipy CSR matrix (libsvm, absent = missing, ``j:0`` = zero), and labels."""
        return _read_split(path, self.spec, labelled=labelled)

    def load_xy(self, split: str) -> tuple[Any, np.ndarray]:
        """A whole label-first split in memory (small data: tests and parity checks)."""
        return _stack([self.read_shard(path, labelled=True) for path in self.shard_paths(split)])

    def load_test(self) -> tuple[Any, np.ndarray]:
        features, _ = _stack([self.read_shard(path, labelled=False) for path in self.shard_paths(TEST)])
        return features, np.concatenate(list(test_label_batches(self)))


def test_label_batches(prepared: Prepared) -> Iterator[np.ndarray]:
    """The test labels in batches of the test shards' sizes, read a batch at a time."""
    with (prepared.directory / TEST_LABELS).open(encoding="utf-8") as handle:
        for shard in prepared.shards[TEST]:
            try:
                batch = np.array([float(line) for line in islice(handle, shard.rows)])
            except ValueError:
                raise CliError(f"{prepared.directory / TEST_LABELS} holds a line that is not a number",
                               "re-run `xgbapi prepare`") from None
            if batch.size != shard.rows:
                raise CliError(f"{prepared.directory / TEST_LABELS} ends before the test shards do",
                               "re-run `xgbapi prepare`")
            yield batch


def _stack(parts: list[tuple[Any, np.ndarray]]) -> tuple[Any, np.ndarray]:
    from scipy.sparse import issparse, vstack

    matrices = [m for m, _ in parts]
    matrix = vstack(matrices, format="csr") if issparse(matrices[0]) else np.vstack(matrices)
    return matrix, np.concatenate([labels for _, labels in parts])


def infer_kind(name: str, values: Sequence[Any], *, from_text: bool) -> str:
    """numeric when every value reads as a number, else text (long strings) or categorical."""
    present = [v for v in values if category_of(v, name) is not None] if from_text else \
        [v for v in values if v is not None and not (isinstance(v, float) and v != v)]
    if not present:
        raise CliError(f"column {name!r} has no values in its first {KIND_SAMPLE_ROWS} rows",
                       f"drop it with --drop {name}, or name its kind (--numeric, --categorical, --text)")
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


def check_choices(table: Table, choices: ColumnChoices) -> list[str]:
    """The kept feature columns, after checking the overrides name real columns and kinds."""
    for name in (*choices.kinds, *choices.drop):
        if name not in table.feature_names:
            raise CliError(f"column {name!r} named in an override is not a feature of {table.source}",
                           f"use one of: {', '.join(table.feature_names)}")
    for name, kind in choices.kinds.items():
        if kind not in KINDS:
            raise CliError(f"kind {kind!r} for column {name!r} is not one of {', '.join(KINDS)}",
                           "use --numeric, --categorical or --text")
    kept = [name for name in table.feature_names if name not in choices.drop]
    if not kept:
        raise CliError("every feature column is dropped", "keep at least one column")
    if choices.input_format not in ("auto", *FORMATS):
        raise CliError(f"--format {choices.input_format!r} is not auto, csv or libsvm", "pass --format auto")
    return kept


def settle_kinds(table: Table, choices: ColumnChoices, kept: list[str],
                 sample: dict[str, list[Any]]) -> dict[str, str]:
    """Each kept column's kind: the override, else the guess on ``sample`` (the first rows)."""
    return {name: choices.kinds.get(name) or infer_kind(name, sample[name], from_text=table.from_text)
            for name in kept}


def _fix_for(error: EncodingError, name: str) -> str:
    if error.code == "wrong_kind":
        return f"fix the value, or give the column another kind (--categorical {name} / --text {name})"
    if error.code == "out_of_range":
        return "replace it with a finite number or leave the field empty (missing)"
    if error.code == "text_too_long":
        return "raise --max-text-chars or shorten the text"
    return f"drop the column (--drop {name}) or change its kind"


def _row_error(table: Table, row: int, error: EncodingError) -> CliError:
    return CliError(f"{table.source} data row {row}, column {error.field!r}: {error.message}",
                    _fix_for(error, error.field))


def _labels(table: Table, chunk: Chunk) -> list[float]:
    """The chunk's labels; NaN for a missing one (counted by the survey, which refuses them)."""
    labels = []
    for offset, value in enumerate(chunk.columns[table.target]):
        try:
            number = number_of(value, table.target, text=True)
        except EncodingError as error:
            row = chunk.first_row + offset
            if error.code == "out_of_range":
                raise CliError(f"target column {table.target!r} has infinite values (e.g. {value!r} "
                               f"at data row {row})", "drop or fix those rows") from None
            raise CliError(f"target column {table.target!r} in {table.source} is not numeric "
                           f"(e.g. {value!r} at data row {row})",
                           "predict a numeric target (encode classes as 0, 1, ...)") from None
        labels.append(float("nan") if number is None else number)
    return labels


def _refused(fitter: FieldFitter, value: Any) -> bool:
    try:
        FieldFitter(fitter.name, fitter.kind, fitter.options).add_all([value])
    except EncodingError:
        return True
    return False


@dataclass(frozen=True)
class Survey:
    """What the first pass learns: the rows per split and the fitted input spec."""

    rows: dict[str, int]
    spec: InputSpec


def survey(table: Table, plan: SplitPlan, choices: ColumnChoices,
           chunk_bytes: int = CHUNK_BYTES) -> Survey:
    """Pass 1: labels checked, kinds settled on the first rows, encodings fitted on train rows."""
    if plan.key is not None and plan.key not in (*table.feature_names, table.target):
        raise CliError(f"split key {plan.key!r} is not a column of {table.source}",
                       f"use one of: {', '.join(table.feature_names)}")
    kept = check_choices(table, choices)
    rows = dict.fromkeys(SPLITS, 0)
    missing_labels, first_missing = 0, 0
    pending: list[tuple[Chunk, list[str]]] = []  # chunks read before the kinds are settled
    sample_rows = 0
    kinds: dict[str, str] | None = None
    fitters: dict[str, FieldFitter] = {}
    format_sample: list[tuple[int, dict[str, str]]] = []  # (data row, raw text row)

    def fit(chunk: Chunk, splits: list[str]) -> None:
        train = [i for i, s in enumerate(splits) if s == TRAIN]
        for name, fitter in fitters.items():
            values = chunk.columns[name]
            try:
                fitter.add_all(values[i] for i in train)
            except EncodingError as error:  # name the row: the first train row the field refuses
                row = next(chunk.first_row + i for i in train if _refused(fitter, values[i]))
                raise _row_error(table, row, error) from None
        room = FORMAT_SAMPLE_ROWS - len(format_sample)
        for i in train[:max(room, 0)]:
            format_sample.append((chunk.first_row + i,
                                  {name: raw_cell(chunk.columns[name][i]) for name in fitters}))

    def settle(chunks: list[tuple[Chunk, list[str]]]) -> dict[str, str]:
        sample = {name: [v for chunk, _ in chunks for v in chunk.columns[name]][:KIND_SAMPLE_ROWS]
                  for name in kept}
        settled = settle_kinds(table, choices, kept, sample)
        fitters.update({name: FieldFitter(name, kind, choices.options) for name, kind in settled.items()})
        return settled

    try:
        for chunk in table.chunks(chunk_bytes):
            for offset, label in enumerate(_labels(table, chunk)):
                if label != label:
                    missing_labels += 1
                    first_missing = first_missing or chunk.first_row + offset
            splits = plan.splits(chunk, text=table.from_text)
            for split in splits:
                rows[split] += 1
            if kinds is None:
                pending.append((chunk, splits))
                sample_rows += len(chunk)
                if sample_rows < KIND_SAMPLE_ROWS:
                    continue
                kinds = settle(pending)
                for earlier in pending:
                    fit(*earlier)
                pending = []
            else:
                fit(chunk, splits)
        if kinds is None:
            total = sum(rows.values())
            if total < MIN_ROWS:
                raise CliError(f"{table.source} has {total} data rows, at least {MIN_ROWS} are needed "
                               "to split train/validation/test", "use a larger dataset")
            kinds = settle(pending)
            for earlier in pending:
                fit(*earlier)
        fields = tuple(fitter.field() for fitter in fitters.values())
    except EncodingError as error:
        raise CliError(f"column {error.field!r}: {error.message}", _fix_for(error, error.field)) from None
    if missing_labels:
        raise CliError(f"target column {table.target!r} has {missing_labels} empty or NaN values "
                       f"(the first at data row {first_missing})", "drop or fill those rows before training")
    for split, count in rows.items():
        if count == 0:
            raise CliError(f"the {split} split of {table.source} got none of its {sum(rows.values())} "
                           "rows (splits are drawn by a hash of each row)",
                           "use more rows or a larger --validation-fraction / --test-fraction")
    fmt = choices.input_format
    if fmt == "auto" and all(f.kind == "numeric" for f in fields):
        fmt = "csv"
    elif fmt == "auto":
        check = Encoder(InputSpec(fields, "csv")).encode
        for number, row in format_sample:  # a bad value here is named by its row, as in pass 2
            try:
                check(row, text=True)
            except EncodingError as error:
                raise _row_error(table, number, error) from None
        fmt = choose_format(fields, [row for _, row in format_sample])
    return Survey(rows=rows, spec=InputSpec(fields, fmt))


class ShardWriter:
    """One split's lines into ``<split>/part-NNNNN.<fmt>`` files of at most ``max_bytes`` each
    (a line longer than that gets a shard to itself), with each shard's size and SHA-256."""

    def __init__(self, root: Path, split: str, fmt: str, max_bytes: int) -> None:
        self.root, self.split, self.fmt, self.max_bytes = root, split, fmt, max_bytes
        (root / split).mkdir()
        self.done: list[Shard] = []
        self._handle: Any = None

    def write(self, lines: list[str]) -> None:
        for line in lines:
            data = (line + "\n").encode()  # encoded lines are numbers: ASCII
            if self._handle is None or (self._bytes and self._bytes + len(data) > self.max_bytes):
                self._next()
            self._handle.write(data)
            self._hash.update(data)
            self._bytes += len(data)
            self._rows += 1

    def _next(self) -> None:
        self._finish()
        self._file = shard_file(self.split, len(self.done), self.fmt)
        self._handle = (self.root / self._file).open("wb")
        self._hash, self._bytes, self._rows = hashlib.sha256(), 0, 0

    def _finish(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self.done.append(Shard(file=self._file, rows=self._rows, bytes=self._bytes,
                                   sha256=self._hash.hexdigest()))
            self._handle = None

    def close(self) -> tuple[Shard, ...]:
        self._finish()
        return tuple(self.done)


def encoded_lines(table: Table, spec: InputSpec, chunk_bytes: int = CHUNK_BYTES) -> Iterator[str]:
    """Every row of ``table`` in order, encoded by the encoder the Lambda runs (parity tests)."""
    encoder = Encoder(spec)
    for chunk in table.chunks(chunk_bytes):
        yield from _encode(table, encoder, chunk)


def _encode(table: Table, encoder: Encoder, chunk: Chunk) -> list[str]:
    encode, names, text = encoder.encode, encoder.spec.field_names, table.from_text
    lines = []
    for offset, values in enumerate(zip(*(chunk.columns[name] for name in names), strict=True)):
        try:
            lines.append(encode(dict(zip(names, values, strict=True)), text=text))
        except EncodingError as error:
            raise _row_error(table, chunk.first_row + offset, error) from None
    return lines


def write_prepared(table: Table, out: Path, seed: int = DEFAULT_SEED, validation_fraction: float = 0.2,
                   test_fraction: float = 0.2, choices: ColumnChoices | None = None, *,
                   split_key: str | None = None, shard_mb: float = DEFAULT_SHARD_MB,
                   chunk_bytes: int = CHUNK_BYTES) -> Prepared:
    """Write the splits into ``out``, replacing an earlier preparation only once all files exist."""
    choices = choices or ColumnChoices()
    plan = SplitPlan(seed, validation_fraction, test_fraction, split_key)
    if not (math.isfinite(shard_mb) and shard_mb > 0):
        raise CliError(f"--shard-mb {shard_mb} must be a number more than 0", "e.g. --shard-mb 64")
    surveyed = survey(table, plan, choices, chunk_bytes)
    spec = surveyed.spec
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}-"))
    writers: dict[str, ShardWriter] = {}
    try:
        max_bytes = max(1, int(shard_mb * 1024**2))
        writers = {split: ShardWriter(staging, split, spec.format, max_bytes) for split in SPLITS}
        encoder = Encoder(spec)
        names = spec.field_names
        sep = " " if spec.format == "libsvm" else ","
        with (staging / TEST_LABELS).open("w", encoding="utf-8") as labels_file, \
                (staging / TEST_RAW).open("w", encoding="utf-8", newline="") as raw_file:
            raw = csv.writer(raw_file, lineterminator="\n")
            raw.writerow(names)
            for chunk in table.chunks(chunk_bytes):
                labels = _labels(table, chunk)
                splits = plan.splits(chunk, text=table.from_text)
                lines = _encode(table, encoder, chunk)
                for split in (TRAIN, VALIDATION):  # the built-in algorithm's channels: label first
                    writers[split].write([f"{labels[i]!r}{sep}{line}" for i, line in enumerate(lines)
                                          if splits[i] == split])
                test = [i for i, s in enumerate(splits) if s == TEST]
                writers[TEST].write([lines[i] for i in test])
                labels_file.writelines(f"{labels[i]!r}\n" for i in test)
                raw.writerows([raw_cell(chunk.columns[name][i]) for name in names] for i in test)
        shards = {split: writer.close() for split, writer in writers.items()}
        written = {split: sum(s.rows for s in parts) for split, parts in shards.items()}
        if written != surveyed.rows:  # fitted on other rows than encoded: the file changed
            raise CliError(f"{table.source} changed while it was read (rows per split {surveyed.rows} "
                           f"in the first pass, {written} in the second)", "run prepare again")
        meta = {"source": table.source, "target": table.target, "features": list(names),
                "split": plan.to_dict(), "rows": written, "columns": len(spec.column_names()),
                "input": spec.to_dict(),
                "shards": {split: [s.to_dict() for s in parts] for split, parts in shards.items()}}
        (staging / DATASET_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        for directory in (staging, *(staging / split for split in SPLITS)):
            directory.chmod(0o755)
        _replace_directory(staging, out)
    except BaseException:
        for writer in writers.values():
            writer.close()
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Prepared(out, table.target, spec, shards)


def describe(prepared: Prepared) -> str:
    """The schema prepare settled on, one line per field (what ``xgbapi prepare`` prints)."""
    counts = ", ".join(f"{split} {prepared.rows(split)} ({len(prepared.shards[split])} shard"
                       f"{'s' if len(prepared.shards[split]) != 1 else ''})" for split in SPLITS)
    lines = [f"input format {prepared.spec.format}, {len(prepared.spec.column_names())} model columns; "
             f"rows: {counts}"]
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


def _read_split(path: Path, spec: InputSpec, *, labelled: bool) -> tuple[Any, np.ndarray]:
    if not path.is_file():
        raise CliError(f"prepared file {path} does not exist", "run `xgbapi prepare` again")
    if spec.format == "libsvm":
        return _read_libsvm(path, Encoder(spec).width, labelled=labelled)
    import pyarrow as pa
    import pyarrow.csv as pacsv

    width = len(spec.column_names()) + (1 if labelled else 0)
    names = [str(i) for i in range(width)]
    # pyarrow parses in C (np.genfromtxt: in Python, 20x slower); an empty field is null -> NaN,
    # and so is an empty line: the row of a one-field model whose value is missing.
    table = pacsv.read_csv(path, read_options=pacsv.ReadOptions(column_names=names),
                           parse_options=pacsv.ParseOptions(ignore_empty_lines=False),
                           convert_options=pacsv.ConvertOptions(
                               column_types=dict.fromkeys(names, pa.float64())))
    matrix = np.column_stack([table.column(i).to_numpy(zero_copy_only=False) for i in range(width)]) \
        if table.num_rows else np.empty((0, width))
    if labelled:
        return matrix[:, 1:], matrix[:, 0]
    return matrix, np.empty(0)


def _read_libsvm(path: Path, width: int, *, labelled: bool) -> tuple[Any, np.ndarray]:
    """libsvm lines -> (CSR matrix of ``width`` columns, labels); stored zeros stay stored (zero),
    absent entries are missing to xgboost. scikit-learn's parser (compiled) reads a 64 MB shard
    in seconds and about its own size in memory; indices are 0-based as prepare writes them."""
    import io

    from sklearn.datasets import load_svmlight_file

    source: Any = str(path)
    if not labelled:  # the parser wants a label first: give every line a 0
        source = io.BytesIO(b"".join(b"0 " + line for line in path.read_bytes().splitlines(keepends=True)))
    matrix, labels = load_svmlight_file(source, n_features=width, zero_based=True, dtype=np.float32)
    return matrix, (np.asarray(labels, dtype=np.float64) if labelled else np.empty(0))


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
    return Prepared(Path(directory), str(meta["target"]), read_input_spec(directory),
                    read_shards(directory))
