"""prepare: the built-in algorithm's CSV format, a fixed-seed split, CSV and Parquet input."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from cli.main import main
from training import data


def _rows(n: int = 40) -> list[list[object]]:
    rng = np.random.default_rng(1)
    return [[round(float(a), 4), round(float(b), 4), round(float(2 * a - b), 4)]
            for a, b in rng.normal(size=(n, 2))]


WriteCsv = Callable[[Path, list[str], list[list[object]]], Path]


def test_prepare_writes_label_first_csvs_without_header(tmp_path: Path, write_csv: WriteCsv) -> None:
    source = write_csv(tmp_path / "in.csv", ["a", "b", "y"], _rows())
    out = tmp_path / "prepared"
    assert main(["prepare", "--data", str(source), "--target", "y", "--out", str(out)]) == 0

    meta = json.loads((out / "dataset.json").read_text())
    assert meta["features"] == ["a", "b"] and meta["target"] == "y"
    assert sum(meta["rows"].values()) == 40
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "dataset.json", "test/part-00000.csv", "test_labels.csv", "test_raw.csv",
        "train/part-00000.csv", "validation/part-00000.csv"]
    train_lines = (out / "train" / "part-00000.csv").read_text().splitlines()
    assert len(train_lines) == meta["rows"]["train"]
    first = [float(v) for v in train_lines[0].split(",")]
    assert len(first) == 3  # label + 2 features, no index column
    assert abs(first[0] - (2 * first[1] - first[2])) < 2e-4  # label first (each value rounded to 4 places)
    assert not any(c.isalpha() for c in (out / "validation" / "part-00000.csv").read_text())  # no header
    test_rows = [line.split(",") for line in (out / "test" / "part-00000.csv").read_text().splitlines()]
    labels = (out / "test_labels.csv").read_text().splitlines()
    assert {len(r) for r in test_rows} == {2} and len(labels) == len(test_rows) == meta["rows"]["test"]


def test_split_is_fixed_by_the_seed(tmp_path: Path) -> None:
    table = data.load_table(None)
    one = data.write_prepared(table, tmp_path / "one")
    two = data.write_prepared(table, tmp_path / "two")
    files = sorted(p.relative_to(one.directory) for p in one.directory.rglob("*") if p.is_file())
    assert len(files) == 6
    for name in files:
        assert (one.directory / name).read_bytes() == (two.directory / name).read_bytes()


def test_default_dataset_is_bundled_diabetes(prepared: data.Prepared) -> None:
    assert prepared.target == "target"
    assert prepared.feature_names == ("age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6")
    x, y = prepared.load_xy("train")
    assert x.shape[1] == 10 and len(y) == x.shape[0]


def test_parquet_input_and_missing_features_become_empty_fields(tmp_path: Path) -> None:
    rows = _rows()
    rows[0][0] = None
    columns = {name: [r[i] for r in rows] for i, name in enumerate(["a", "b", "y"])}
    pq.write_table(pa.table(columns), tmp_path / "in.parquet")
    prepared = data.write_prepared(data.load_table(str(tmp_path / "in.parquet"), "y"), tmp_path / "out")
    text = "".join(path.read_text() for split in ("train", "validation", "test")
                   for path in prepared.shard_paths(split))
    assert "nan" not in text.lower()
    assert ",," in text or text.startswith(",") or "\n," in text  # the missing value is an empty field


def test_prepare_replaces_an_earlier_preparation_whole(tmp_path: Path, write_csv: WriteCsv) -> None:
    out = tmp_path / "prepared"
    data.write_prepared(data.load_table(None), out)
    source = write_csv(tmp_path / "in.csv", ["a", "b", "y"], _rows())
    data.write_prepared(data.load_table(str(source), "y"), out)
    assert json.loads((out / "dataset.json").read_text())["features"] == ["a", "b"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "prepared"]  # no leftovers
