"""Tabular sources read in chunks: a CSV file, a Parquet file, or the bundled demo data.

``prepare`` reads its source twice (fit, then encode) and holds a chunk at a time (and the
first rows, whose kinds it settles), so its memory does not grow with the number of rows. CSV
goes through pyarrow's streaming reader with every column read as text: the values reach the
encoder exactly as written (``"007"`` stays ``"007"`` for a categorical; numbers are parsed by
contract/encoding.py, the Lambda's code) and no type guessed from the first block can break on
a later one. Parquet is read batch by batch with its own types; the demo data are lists
already in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contract.errors import CliError
from contract.manifest import FEATURE_NAME  # the names travel into JSON, CSV and env variables
from training.defaults import DEFAULT_TARGET

CHUNK_BYTES = 4 * 1024**2  # CSV text per chunk: ~25,000 rows of 150 bytes, ~30 MB as Python values
NOT_UTF8_FIX = "save it as UTF-8 CSV, or as Parquet"


@dataclass(frozen=True)
class Chunk:
    """Consecutive data rows: ``first_row`` is the 1-based data row number of the first one
    (blank rows are not counted)."""

    first_row: int
    columns: dict[str, list[Any]]  # every column of the source, target included

    def __len__(self) -> int:
        return len(next(iter(self.columns.values())))


@dataclass(frozen=True)
class Table:
    """A source with its columns known (header read) and its rows still on disk."""

    source: str
    target: str
    feature_names: tuple[str, ...]
    from_text: bool  # the values are CSV text (numbers still to parse)
    read: Callable[[int], Iterator[Chunk]]  # chunk size in bytes -> the rows, in order

    def chunks(self, chunk_bytes: int = CHUNK_BYTES) -> Iterator[Chunk]:
        return self.read(chunk_bytes)


def load_table(path: str | None, target: str = DEFAULT_TARGET) -> Table:
    """The default demo data (sklearn's bundled diabetes set, no download), a CSV or a Parquet file."""
    if path is None:
        return _diabetes(target)
    file = Path(path)
    if not file.is_file():
        raise CliError(f"data file {path} does not exist",
                       "pass an existing CSV or Parquet file with --data, or omit --data for the demo data")
    if file.suffix.lower() in {".parquet", ".pq"}:
        return _parquet(file, target)
    return _csv(file, target)


def _table(source: str, columns: list[str], target: str, *, from_text: bool,
           read: Callable[[int], Iterator[Chunk]]) -> Table:
    if len(set(columns)) != len(columns):
        raise CliError(f"data file {source} has duplicate column names",
                       "rename the columns so each is unique")
    if target not in columns:
        raise CliError(f"target column {target!r} is not in {source} (columns: {', '.join(columns)})",
                       "name the label column with --target")
    features = tuple(name for name in columns if name != target)
    if not features:
        raise CliError(f"{source} has no feature columns besides {target!r}", "add feature columns")
    for name in features:
        if not FEATURE_NAME.match(name):
            raise CliError(f"feature column {name!r} is not a usable name",
                           "rename it to 1-128 characters without spaces, commas or quotes")
    return Table(source=source, target=target, feature_names=features, from_text=from_text, read=read)


def _diabetes(target: str) -> Table:
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes()
    columns: dict[str, list[Any]] = {name: [float(v) for v in bunch.data[:, i]]
                                     for i, name in enumerate(bunch.feature_names)}
    columns[DEFAULT_TARGET] = [float(v) for v in bunch.target]
    rows = len(bunch.target)

    def read(chunk_bytes: int) -> Iterator[Chunk]:
        step = max(1, chunk_bytes // 200)  # about the size of a CSV row of these ten numbers
        for start in range(0, rows, step):
            yield Chunk(start + 1, {name: values[start:start + step] for name, values in columns.items()})

    return _table("sklearn diabetes", list(columns), target, from_text=False, read=read)


def _csv_header(file: Path) -> list[str]:
    import csv

    try:
        # utf-8-sig: spreadsheet exports often start with a byte-order mark.
        with file.open(newline="", encoding="utf-8-sig") as handle:
            header = next(csv.reader(handle), [])
    except UnicodeDecodeError:
        raise CliError(f"data file {file} is not UTF-8 text", NOT_UTF8_FIX) from None
    except csv.Error as error:
        raise CliError(f"data file {file} is not valid CSV ({error})",
                       "fix the file or export it again") from None
    if not any(cell.strip() for cell in header):
        raise CliError(f"data file {file} is empty", "give a CSV with a header row and data rows")
    return [name.strip() for name in header]


def _csv(file: Path, target: str) -> Table:
    header = _csv_header(file)

    def read(chunk_bytes: int) -> Iterator[Chunk]:
        import pyarrow as pa
        import pyarrow.csv as pacsv

        bad_rows: list[Any] = []

        def invalid(row: Any) -> str:
            if not row.text.replace(",", "").strip():
                return "skip"  # a blank row (spaces, or only commas): skipped, as spreadsheets export them
            bad_rows.append(row)
            return "error"

        # One thread: pyarrow then knows each bad row's number (parallel parsing does not).
        # Empty lines are rows (of empty cells, dropped below), so that the numbers count them.
        # Quoted cells may hold line breaks (review texts do).
        read_options = pacsv.ReadOptions(block_size=chunk_bytes, use_threads=False, skip_rows=1,
                                          column_names=header)
        parse_options = pacsv.ParseOptions(invalid_row_handler=invalid, newlines_in_values=True,
                                           ignore_empty_lines=False)
        convert = pacsv.ConvertOptions(column_types={name: pa.string() for name in header},
                                       strings_can_be_null=False, quoted_strings_can_be_null=False)
        row = 1
        try:
            with pacsv.open_csv(file, read_options=read_options, convert_options=convert,
                                parse_options=parse_options) as reader:
                for batch in reader:
                    columns = {name: batch.column(i).to_pylist() for i, name in enumerate(header)}
                    chunk = _without_blank_rows(Chunk(row, columns))
                    row += len(chunk)  # data rows are numbered without the blank ones
                    if len(chunk):
                        yield chunk
        except pa.ArrowInvalid as error:
            if bad_rows:
                bad = bad_rows[0]
                # pyarrow counts records: a line unless a quoted cell holds line breaks.
                where = f" row {bad.number} (the header is row 1)" if bad.number is not None else ""
                raise CliError(f"{file}{where} has {bad.actual_columns} fields, the header has "
                               f"{bad.expected_columns}", "fix the row or the header") from None
            message = str(error).splitlines()[0]
            if "UTF8" in message or "utf8" in message.lower():
                raise CliError(f"data file {file} is not UTF-8 text", NOT_UTF8_FIX) from None
            raise CliError(f"data file {file} is not valid CSV ({message})",
                           "fix the file or export it again") from None

    return _table(str(file), header, target, from_text=True, read=read)


def _without_blank_rows(chunk: Chunk) -> Chunk:
    """Rows whose every cell is blank are skipped, as spreadsheets export trailing empty rows."""
    columns = list(chunk.columns.values())
    keep = [i for i, cells in enumerate(zip(*columns, strict=True)) if any(c.strip() for c in cells)]
    if len(keep) == len(chunk):
        return chunk
    return Chunk(chunk.first_row, {name: [values[i] for i in keep] for name, values in chunk.columns.items()})


def _parquet(file: Path, target: str) -> Table:
    import pyarrow.parquet as pq

    try:
        with pq.ParquetFile(file) as parquet:
            names = list(parquet.schema_arrow.names)
    except Exception as error:  # pyarrow raises several types for a bad file
        raise CliError(f"data file {file} is not readable Parquet ({type(error).__name__})",
                       "check the file, or export it as CSV") from None

    def read(chunk_bytes: int) -> Iterator[Chunk]:
        row = 1
        try:
            with pq.ParquetFile(file, buffer_size=chunk_bytes) as parquet:
                meta = parquet.metadata
                data_bytes = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
                # Batches of about chunk_bytes of (uncompressed) data, as CSV chunks are of text.
                rows = max(1, chunk_bytes * max(1, meta.num_rows) // max(1, data_bytes))
                for batch in parquet.iter_batches(batch_size=rows):
                    yield Chunk(row, {name: batch.column(i).to_pylist() for i, name in enumerate(names)})
                    row += batch.num_rows
        except OSError as error:
            raise CliError(f"data file {file} is not readable Parquet ({error})",
                           "check the file, or export it as CSV") from None

    return _table(str(file), names, target, from_text=False, read=read)
