"""The predict client against the local request path (real HTTP, the real handler and models)."""

from __future__ import annotations

import csv
import io
import json
import random
import sys
from pathlib import Path

import pytest

from cli.main import main
from local.client import ApiClient

ROWS = 40


@pytest.fixture(scope="module")
def table(deployment) -> tuple[list[str], list[dict[str, str]]]:
    """The first held-out rows as text cells keyed by feature name, plus an id and the label."""
    features, labels = deployment.prepared.load_test()
    names = list(deployment.config.feature_names)
    rows = [{"id": f"p{i}", **{n: repr(float(v)) for n, v in zip(names, features[i], strict=True)},
             "target": repr(float(labels[i]))} for i in range(ROWS)]
    return names, rows


def write_csv(path: Path, rows: list[dict[str, str]], columns: list[str]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def predict(deployment, local_stack, *args: str) -> int:
    return main(["predict", *args, "--local-url", f"{local_stack.api_url}/predict",
                 "--config", deployment.config.source])


def single_row(local_stack, names: list[str], row: dict[str, str], variant: str) -> float:
    client = ApiClient(local_stack.api_url)
    try:
        status, _, body, _ = client.predict({"instances": [[float(row[n]) for n in names]],
                                             "target_variant": variant})
    finally:
        client.close()
    assert status == 200, body
    assert body["variant"] == variant
    return float(body["predictions"][0])


def test_csv_rows_in_any_column_order_match_single_row_requests(deployment, local_stack, table,
                                                                  tmp_path, capsys):
    names, rows = table
    columns = ["id", *random.Random(3).sample(names, len(names)), "target"]
    out = tmp_path / "predictions.csv"
    code = predict(deployment, local_stack, str(write_csv(tmp_path / "rows.csv", rows, columns)),
                   "-o", str(out), "--batch-rows", "7", "--concurrency", "3")
    err = capsys.readouterr().err
    assert code == 0, err
    assert "note: ignoring column(s) id, target of" in err
    with out.open(newline="") as handle:
        written = list(csv.DictReader(handle))
    assert [int(r["row"]) for r in written] == list(range(1, ROWS + 1))
    assert {r["variant"] for r in written} <= {"champion", "challenger"}
    for row, result in zip(rows, written, strict=True):
        assert float(result["prediction"]) == single_row(local_stack, names, row, result["variant"])
        assert result["inference_id"]


def test_jsonl_from_stdin_with_a_pinned_variant(deployment, local_stack, table, tmp_path, capsys,
                                                monkeypatch):
    names, rows = table
    shuffled = [{n: float(row[n]) for n in random.Random(i).sample(names, len(names))}
                for i, row in enumerate(rows)]
    monkeypatch.setattr(sys, "stdin", io.StringIO("".join(json.dumps(r) + "\n" for r in shuffled)))
    out = tmp_path / "predictions.jsonl"  # not stdout: the in-process handler logs there
    code = predict(deployment, local_stack, "-", "--target-variant", "challenger", "--batch-rows", "9",
                   "-o", str(out))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["row"] for r in written] == list(range(1, ROWS + 1))
    assert {r["variant"] for r in written} == {"challenger"}
    assert [r["prediction"] for r in written] == [
        single_row(local_stack, names, row, "challenger") for row in rows]


@pytest.mark.parametrize("fault, code, message", [
    ("unknown", "unknown_feature", 'instances[1]: unknown feature "colour"'),
    ("missing", "missing_feature", "instances[1]: missing feature"),
    ("text", "non_numeric_value", "instances[1].{feature} is a string; a number is required"),
])
def test_a_bad_row_stops_with_the_server_message_and_its_row(deployment, local_stack, table, tmp_path,
                                                             capsys, fault, code, message):
    names, rows = table
    rows = [dict(row) for row in rows[:10]]
    bad = rows[5]  # input row 6: instance 1 of the second request (rows 5-8)
    if fault == "text":
        bad[names[2]] = "abc"
        source, line = write_csv(tmp_path / "rows.csv", rows, names), 7  # header is line 1
    else:
        objects: list[dict[str, object]] = [{n: float(r[n]) for n in names} for r in rows]
        if fault == "unknown":
            objects[5]["colour"] = 1
        else:
            del objects[5][names[0]]
        source, line = write_jsonl(tmp_path / "rows.jsonl", objects), 6
    out = tmp_path / "out.csv"
    assert predict(deployment, local_stack, str(source), "-o", str(out), "--batch-rows", "4") == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: the API rejected input row 6 (line {line}): HTTP 422 {code}: ")
    assert message.format(feature=names[2]) in err and "rows 5-8]; fix that row and run again" in err
    assert not out.exists() and [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_missing_feature_column_is_named_before_anything_is_sent(deployment, local_stack, table,
                                                                  tmp_path, capsys):
    names, rows = table
    source = write_csv(tmp_path / "rows.csv", rows, names[1:])
    assert predict(deployment, local_stack, str(source)) == 2
    assert capsys.readouterr().err.startswith(f"error: {source}: missing feature column(s) {names[0]}; "
                                              "the model needs ")
