"""Streaming ``prepare``: hash splits that do not depend on chunk or shard sizes, bounded
counters, schema changes as one-line errors, shard-by-shard training and scoring."""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb

from cli.main import main
from contract.encoding import FitOptions
from contract.errors import CliError
from training import data, local_backend
from training.hyperparameters import DEFAULTS
from training.metrics import StreamingScores
from training.sources import Chunk

WriteCsv = Callable[[Path, list[str], list[list[object]]], Path]
HEADER = ["x", "colour", "review", "user", "y"]
WORDS = ["good", "bad", "plot", "film", "acting", "music", "long", "short", "dull", "fun"]


def _rows(n: int, seed: int = 3) -> list[list[object]]:
    rng = random.Random(seed)
    rows: list[list[object]] = []
    for i in range(n):
        review = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 7)))
        colour = rng.choice(["red", "green", "blue", "teal", ""])
        x = round(rng.uniform(-5, 5), 3) if i % 13 else ""
        rows.append([x, colour, review, f"u{i % 37}", round(rng.uniform(0, 10), 2)])
    return rows


def _prepare(source: Path, out: Path, **options: object) -> data.Prepared:
    choices = data.ColumnChoices(options=FitOptions(min_category_count=1, min_document_count=1))
    return data.write_prepared(data.load_table(str(source), "y"), out, choices=choices, **options)  # type: ignore[arg-type]


def _split_bytes(prepared: data.Prepared, split: str) -> bytes:
    return b"".join(path.read_bytes() for path in prepared.shard_paths(split))


def test_rows_land_in_the_same_split_whatever_the_chunk_and_shard_sizes(
        tmp_path: Path, write_csv: WriteCsv) -> None:
    source = write_csv(tmp_path / "in.csv", HEADER, _rows(400))
    whole = _prepare(source, tmp_path / "whole")
    pieces = _prepare(source, tmp_path / "pieces", chunk_bytes=700, shard_mb=0.002)

    assert [len(whole.shards[split]) for split in data.SPLITS] == [1, 1, 1]
    assert min(len(pieces.shards[split]) for split in data.SPLITS) > 1
    assert pieces.spec == whole.spec
    for split in data.SPLITS:
        assert _split_bytes(pieces, split) == _split_bytes(whole, split)
        assert pieces.rows(split) == whole.rows(split)
        for shard in pieces.shards[split]:
            path = pieces.directory / shard.file
            assert shard.bytes == path.stat().st_size <= 0.002 * 1024**2
            assert shard.rows == len(path.read_bytes().splitlines())
    for name in ("test_labels.csv", "test_raw.csv"):
        assert (pieces.directory / name).read_bytes() == (whole.directory / name).read_bytes()
    meta = json.loads((pieces.directory / "dataset.json").read_text())
    assert meta["split"] == {"method": "hash", "seed": 42, "key": None, "validation_fraction": 0.2,
                             "test_fraction": 0.2}
    assert [s["file"] for s in meta["shards"]["train"]][:2] == ["train/part-00000.libsvm",
                                                                "train/part-00001.libsvm"]


def test_the_hash_split_follows_the_fractions_and_the_seed(tmp_path: Path, write_csv: WriteCsv) -> None:
    source = write_csv(tmp_path / "in.csv", HEADER, _rows(2000))
    prepared = _prepare(source, tmp_path / "p", test_fraction=0.1, validation_fraction=0.3)
    counts = {split: prepared.rows(split) for split in data.SPLITS}
    assert sum(counts.values()) == 2000
    assert abs(counts["test"] - 200) < 45 and abs(counts["validation"] - 600) < 65
    other = _prepare(source, tmp_path / "seeded", seed=7)
    assert _split_bytes(other, "test") != _split_bytes(_prepare(source, tmp_path / "q"), "test")


def test_a_split_key_keeps_equal_keys_in_one_split(tmp_path: Path, write_csv: WriteCsv) -> None:
    source = write_csv(tmp_path / "in.csv", HEADER, _rows(400))
    prepared = _prepare(source, tmp_path / "p", split_key="user", chunk_bytes=900)
    # test_raw.csv holds the test rows' raw fields: every user there has all its 400/37 rows there.
    raw = (prepared.directory / "test_raw.csv").read_text().splitlines()[1:]
    users = Counter(line.split(",")[-1] for line in raw)
    assert users and all(count in (10, 11) for count in users.values()), users
    assert json.loads((prepared.directory / "dataset.json").read_text())["split"]["key"] == "user"


def test_a_new_column_later_in_the_file_is_a_one_line_error_naming_the_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [",".join(str(c) for c in row) for row in _rows(300)]
    rows[250] += ",surprise"
    source = tmp_path / "in.csv"
    source.write_text(",".join(HEADER) + "\n" + "\n".join(rows) + "\n")
    assert main(["prepare", "--data", str(source), "--target", "y", "--out", str(tmp_path / "p")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {source} row 252 (the header is row 1) has 6 fields, the header has 5; "
                   "fix the row or the header"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]  # nothing half-written


def test_text_in_a_numeric_column_after_the_kind_sample_names_the_row_and_keeps_the_old_output(
        tmp_path: Path, write_csv: WriteCsv, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(data, "KIND_SAMPLE_ROWS", 100)  # the first 100 rows settle the kinds
    rows = _rows(300)
    source = write_csv(tmp_path / "in.csv", HEADER, rows)
    out = tmp_path / "p"
    assert main(["prepare", "--data", str(source), "--target", "y", "--out", str(out)]) == 0
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    rows[270][0] = "seven"
    write_csv(tmp_path / "in.csv", HEADER, rows)
    assert main(["prepare", "--data", str(source), "--target", "y", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {source} data row 271, column 'x': is not a number; fix the value, or give "
                   "the column another kind (--categorical x / --text x)"]
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "p"]  # no staging left


def test_a_prepared_folder_from_before_shards_is_refused_clearly(tmp_path: Path) -> None:
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "dataset.json").write_text(json.dumps(
        {"target": "y", "features": ["a"], "input": {"format": "csv", "fields": [{"name": "a"}]}}))
    with pytest.raises(CliError) as error:
        data.load_prepared(tmp_path / "old")
    assert (error.value.problem, error.value.fix) == (
        f"{tmp_path / 'old' / 'dataset.json'} was written by an older prepare (one file per split, "
        "no shards)", "re-run `xgbapi prepare`")


def test_shard_by_shard_training_is_the_container_s_training_on_the_whole_split(tmp_path: Path) -> None:
    """External memory over many shards, in-memory over one, and xgboost's DMatrix over the
    whole arrays (how the container reads a channel) grow the same trees."""
    table = data.load_table(None)
    one = data.write_prepared(table, tmp_path / "one")
    many = data.write_prepared(table, tmp_path / "many", shard_mb=0.005)
    assert len(many.shards["train"]) > 3
    x, y = one.load_xy("train")
    xv, yv = one.load_xy("validation")
    params = {k: v for k, v in DEFAULTS.items() if k not in ("num_round", "early_stopping_rounds")}
    booster = xgb.train({**params, "nthread": 1}, xgb.DMatrix(x, label=y), num_boost_round=200,
                        evals=[(xgb.DMatrix(xv, label=yv), "validation")], early_stopping_rounds=10,
                        verbose_eval=False)
    features, _ = one.load_test()
    expected = booster.predict(xgb.DMatrix(features), iteration_range=(0, booster.best_iteration + 1))
    for prepared in (one, many):
        result = local_backend.train(prepared, DEFAULTS)
        np.testing.assert_array_equal(local_backend.predict(result.model_bytes, features), expected)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".xgb-cache")]  # cache removed


def test_scores_summed_batch_by_batch_equal_the_scores_at_once() -> None:
    rng = np.random.default_rng(4)
    labels, predictions = rng.normal(50, 10, 1001), rng.normal(50, 12, 1001)
    scores = StreamingScores()
    for start in range(0, 1001, 97):
        scores.add(labels[start:start + 97], predictions[start:start + 97])
    errors = predictions - labels
    expected = {"rmse": float(np.sqrt(np.mean(errors**2))), "mae": float(np.mean(np.abs(errors))),
                "r2": float(1 - np.sum(errors**2) / np.sum((labels - labels.mean()) ** 2))}
    assert scores.result() == pytest.approx(expected, rel=1e-12)


def test_quoted_line_breaks_and_blank_lines_stream_like_any_row(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    rows = _rows(120)
    lines = [",".join(HEADER)]
    for i, row in enumerate(rows):
        cells = [str(c) for c in row]
        if i % 10 == 0:
            cells[2] = f'"{cells[2]}\nsecond line, with a comma"'
        lines.append(",".join(cells))
        if i % 25 == 0:
            lines.extend(["", "  ,  ,,,"])  # a blank line and a row of empty cells: skipped
    source = tmp_path / "in.csv"
    source.write_text("\n".join(lines) + "\n")
    small = _prepare(source, tmp_path / "small", chunk_bytes=600)
    whole = _prepare(source, tmp_path / "whole")
    assert sum(small.rows(split) for split in data.SPLITS) == 120
    for split in data.SPLITS:
        assert _split_bytes(small, split) == _split_bytes(whole, split)
    assert "second line, with a comma" in (small.directory / "test_raw.csv").read_text()  # kept whole

    lines.insert(60, "9,red,too,many,fields,here")
    source.write_text("\n".join(lines) + "\n")
    assert main(["prepare", "--data", str(source), "--target", "y", "--out", str(tmp_path / "bad")]) == 2
    # pyarrow numbers records: a quoted line break does not start one, a blank line does. The
    # bad row follows 60 records (the header, rows, blank lines), whatever their line breaks.
    assert capsys.readouterr().err.strip() == (
        f"error: {source} row 61 (the header is row 1) has 6 fields, the header has 5; fix the row "
        "or the header")


def test_a_one_field_model_reads_its_missing_values_back(tmp_path: Path, write_csv: WriteCsv) -> None:
    rows = [["" if i % 3 == 0 else i * 0.5, i % 7] for i in range(60)]
    source = write_csv(tmp_path / "in.csv", ["x", "y"], rows)
    prepared = data.write_prepared(data.load_table(str(source), "y"), tmp_path / "p")
    features, labels = prepared.load_test()
    assert features.shape == (prepared.rows("test"), 1) and labels.size == prepared.rows("test")
    assert np.isnan(features).any()  # the empty lines are rows whose one value is missing


def test_a_row_without_a_split_key_is_refused(tmp_path: Path, write_csv: WriteCsv) -> None:
    rows = _rows(50)
    rows[30][3] = ""
    source = write_csv(tmp_path / "in.csv", HEADER, rows)
    with pytest.raises(CliError) as error:
        _prepare(source, tmp_path / "p", split_key="user")
    assert (error.value.problem, error.value.fix) == (
        "split key column 'user' is empty at data row 31", "fill it, or split by whole rows (leave out "
        "--split-key)")


def test_a_late_value_the_fit_refuses_names_its_row(tmp_path: Path, write_csv: WriteCsv,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(data, "KIND_SAMPLE_ROWS", 50)
    rows = _rows(300)
    train_rows = [i for i, row in enumerate(rows) if i > 200 and _split_of(row) == "train"]
    rows[train_rows[0]][2] = "long " * 30
    source = write_csv(tmp_path / "in.csv", HEADER, rows)
    table = data.load_table(str(source), "y")
    choices = data.ColumnChoices(options=FitOptions(max_chars=100, min_category_count=1))
    with pytest.raises(CliError) as error:
        data.write_prepared(table, tmp_path / "p", choices=choices, chunk_bytes=2000)
    assert error.value.problem == (f"{source} data row {train_rows[0] + 1}, column 'review': has 150 "
                                   "characters; at most 100 are accepted")


def _split_of(row: list[object]) -> str:
    chunk = Chunk(1, {name: [str(cell)] for name, cell in zip(HEADER, row, strict=True)})
    return data.SplitPlan().splits(chunk, text=True)[0]


def test_the_fingerprint_is_the_data_not_the_path(tmp_path: Path, write_csv: WriteCsv) -> None:
    rows = _rows(200)
    one = _prepare(write_csv(tmp_path / "a.csv", HEADER, rows), tmp_path / "one")
    two = _prepare(write_csv(tmp_path / "b.csv", HEADER, rows), tmp_path / "two")
    rows[5][0] = 4.5
    three = _prepare(write_csv(tmp_path / "c.csv", HEADER, rows), tmp_path / "three")
    assert one.fingerprint() == two.fingerprint() != three.fingerprint()
    assert len(one.fingerprint()) == 16


@pytest.mark.parametrize("value", ["0", "-1", "inf", "nan"])
def test_a_shard_size_that_is_not_a_positive_number_is_refused(value: str, prepared: data.Prepared,
                                                               tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prepare", "--out", str(tmp_path / "p"), "--shard-mb", value]) == 2
    assert capsys.readouterr().err.strip() == (f"error: --shard-mb {float(value)} must be a number more "
                                               "than 0; e.g. --shard-mb 64")
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize("settings", [{"max_bin": "64"}, {"tree_method": "approx"}])
def test_local_training_takes_the_matrix_settings_the_container_takes(
        settings: dict[str, str], prepared: data.Prepared, tmp_path: Path) -> None:
    sharded = data.write_prepared(data.load_table(None), tmp_path / "p", shard_mb=0.005)
    for source in (prepared, sharded):
        result = local_backend.train(source, {**DEFAULTS, **settings})
        booster = json.loads(result.booster.save_config())["learner"]["gradient_booster"]
        if "max_bin" in settings:
            assert booster["tree_train_param"]["max_bin"] == "64"
        else:
            assert booster["gbtree_train_param"]["tree_method"] == "approx"
