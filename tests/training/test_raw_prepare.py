"""``xgbapi prepare`` on raw columns: the kinds it settles, the overrides, encodings fitted on
the train split only, the files and the schema it prints."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cli.main import main
from contract.encoding import FitOptions
from contract.prepared import read_input_spec, read_test_split
from training import data
from training.sources import Chunk

WriteCsv = Callable[[Path, list[str], list[list[object]]], Path]
WORDS = ["good", "bad", "plot", "film", "acting", "music", "long", "short"]


def _rows(n: int) -> list[list[object]]:
    rows: list[list[object]] = []
    for i in range(n):
        review = " ".join(WORDS[(i + k) % len(WORDS)] for k in range(4 + i % 3))
        colour = "" if i % 10 == 0 else ["red", "green", "blue"][i % 3]
        rows.append([i * 0.5 if i % 7 else "", colour, review, "yes" if i % 2 else "no", i % 5])
    return rows


HEADER = ["size", "colour", "review", "flag", "y"]


def test_kinds_are_guessed_and_printed(tmp_path: Path, write_csv: WriteCsv,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    source = write_csv(tmp_path / "in.csv", HEADER, _rows(60))
    assert main(["prepare", "--data", str(source), "--target", "y", "--out", str(tmp_path / "p"),
                 "--min-category-count", "1"]) == 0
    out = capsys.readouterr().out
    assert "input format libsvm" in out or "input format csv" in out
    for line in ("size                     numeric", "colour                   categorical",
                 "review                   text", "flag                     categorical"):
        assert line in out, out
    spec = read_input_spec(tmp_path / "p")
    assert [(f.name, f.kind) for f in spec.fields] == [
        ("size", "numeric"), ("colour", "categorical"), ("review", "text"), ("flag", "categorical")]
    colour = spec.fields[1]
    assert set(colour.categories) == {"red", "green", "blue"}  # "" is missing, not a category
    files = sorted(p.relative_to(tmp_path / "p").as_posix() for p in (tmp_path / "p").rglob("*")
                   if p.is_file())
    assert files == ["dataset.json", f"test/part-00000.{spec.format}", "test_labels.csv", "test_raw.csv",
                     f"train/part-00000.{spec.format}", f"validation/part-00000.{spec.format}"]
    test = read_test_split(tmp_path / "p")
    rows = json.loads((tmp_path / "p" / "dataset.json").read_text())["rows"]
    assert len(test.raw_rows) == len(test.labels) == rows["test"] > 0


def test_overrides_drop_and_force_kinds(tmp_path: Path, write_csv: WriteCsv) -> None:
    source = write_csv(tmp_path / "in.csv", HEADER, _rows(60))
    assert main(["prepare", "--data", str(source), "--target", "y", "--out", str(tmp_path / "p"),
                 "--drop", "flag", "--categorical", "size", "--text", "colour",
                 "--min-document-count", "1", "--format", "csv", "--binary", "--stop-words"]) == 0
    spec = read_input_spec(tmp_path / "p")
    assert [(f.name, f.kind) for f in spec.fields] == [
        ("size", "categorical"), ("colour", "text"), ("review", "text")]
    assert spec.format == "csv" and spec.fields[2].binary and spec.fields[2].stop_words


def _split_of(row: list[object]) -> str:
    """The split prepare's default plan gives a CSV row (its cells as written)."""
    cells = [str(cell) for cell in row]
    chunk = Chunk(1, {name: [cell] for name, cell in zip(HEADER, cells, strict=True)})
    return data.SplitPlan().splits(chunk, text=True)[0]


def test_encodings_are_fitted_on_the_train_split_only(tmp_path: Path, write_csv: WriteCsv) -> None:
    rows = _rows(60)
    for i, row in enumerate(rows):  # the first row that lands in test once marked
        marked = [row[0], "violet", "zebra zebra zebra " + str(row[2]), *row[3:]]
        if _split_of(marked) == "test":
            rows[i] = marked  # a category and a token only the test split has
            break
    source = write_csv(tmp_path / "in.csv", HEADER, rows)
    assert main(["prepare", "--data", str(source), "--target", "y", "--out", str(tmp_path / "p"),
                 "--min-category-count", "1", "--min-document-count", "1"]) == 0
    spec = read_input_spec(tmp_path / "p")
    assert "violet" not in spec.fields[1].categories
    assert "zebra" not in spec.fields[2].vocabulary
    raw = read_test_split(tmp_path / "p").raw_rows
    assert ["violet" in row for row in raw].count(True) == 1  # kept raw, encoded as (other)


def test_parquet_booleans_are_categories_and_nulls_are_missing(tmp_path: Path) -> None:
    n = 40
    table = pa.table({"ok": [i % 3 == 0 if i % 5 else None for i in range(n)],
                      "x": [float(i) if i % 4 else None for i in range(n)],
                      "y": [float(i % 7) for i in range(n)]})
    pq.write_table(table, tmp_path / "in.parquet")
    prepared = data.write_prepared(data.load_table(str(tmp_path / "in.parquet"), "y"), tmp_path / "p",
                                   choices=data.ColumnChoices(options=FitOptions(min_category_count=1)))
    (ok, x) = prepared.spec.fields
    assert (ok.kind, set(ok.categories), x.kind) == ("categorical", {"true", "false"}, "numeric")
    with (tmp_path / "p" / "test_raw.csv").open(newline="") as handle:
        cells = {row[0] for row in list(csv.reader(handle))[1:]}
    assert cells <= {"true", "false", ""}
    assert json.loads((tmp_path / "p" / "dataset.json").read_text())["input"] == prepared.spec.to_dict()
