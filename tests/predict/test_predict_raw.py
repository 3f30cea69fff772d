"""The predict client for a model with raw fields (categorical, text, numeric): CSV rows with
quoted texts, with or without a header, JSON lines, rows checked and sized by the Lambda's encoder.

Two tiny models are trained once per module from a table written here (``color`` categorical,
``note`` text, ``x`` numeric, target ``y``): one reading libsvm, one reading dense CSV (where
the bag of words makes the model input much larger than the request). Each is served on
loopback by the real handler (``local.stack.running``); the fake API of conftest.py shows what
the client sends.
"""

from __future__ import annotations

import csv
import io
import json
import random
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cli.main import main
from client import predict as predict_client
from contract.encoding import Encoder, Field, InputSpec
from local.client import ApiClient

FIELDS = ["color", "note", "x"]
FILLER = [f"w{i:03d}" for i in range(150)]  # the dense model's vocabulary: ~150 columns of note
OFFSETS = {"red": 10, "green": 20, "blue": 30}
CONFIG = """
[project]
prefix = "xgb-raw-{fmt}"

[[variants]]
name = "champion"
manifest = "{runs}/champion/latest/manifest.json"
weight = 1
"""


@dataclass
class Model:
    config_path: Path
    spec: InputSpec
    api_url: str


def write_table(path: Path) -> None:
    rng = random.Random(7)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["color", "note", "x", "y"])
        for _ in range(150):
            color, x = rng.choice(list(OFFSETS)), rng.uniform(0, 10)
            note = " ".join(rng.sample(["very", "quite", "nice", "warm", "calm"], 2) + rng.sample(FILLER, 5))
            writer.writerow([color, note, f"{x:.3f}", f"{x + OFFSETS[color] + 5 * ('very' in note):.3f}"])


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Model]]:
    """The libsvm and the csv model, each trained into its runs folder and served on loopback."""
    from contract.config import load_config
    from contract.images import DEFAULT_FRAMEWORK_VERSION
    from local.stack import running
    from training import data, hyperparameters, local_runs
    from training.defaults import DEFAULT_REGION

    root = tmp_path_factory.mktemp("raw-models")
    write_table(root / "table.csv")
    table = data.load_table(str(root / "table.csv"), "y")
    result = {}
    with ExitStack() as stack:
        for fmt in ("libsvm", "csv"):
            choices = data.ColumnChoices(kinds={"color": "categorical", "note": "text"}, input_format=fmt)
            prepared = data.write_prepared(table, root / f"prepared-{fmt}", choices=choices)
            runs = root / f"runs-{fmt}"
            local_runs.train_run(prepared, runs, "champion", hyperparameters.with_overrides([]),
                                 DEFAULT_FRAMEWORK_VERSION, DEFAULT_REGION)
            config_path = root / f"{fmt}.toml"
            config_path.write_text(CONFIG.format(fmt=fmt, runs=runs))
            config = load_config(config_path)
            assert config.input_spec is not None and config.input_spec.format == fmt
            assert [f.kind for f in config.input_spec.fields] == ["categorical", "text", "numeric"]
            served = stack.enter_context(running(config))
            result[fmt] = Model(config_path, config.input_spec, f"{served.api_url}/predict")
        yield result


# Raw values: texts with commas, quotes, line breaks, markup and non-ASCII; an unseen category
# (the "other" policy), missing values (null / an empty cell).
OBJECTS: list[dict[str, Any]] = [
    {"color": "red", "note": "very warm, w001 \"w002\"\nand w003", "x": 3.5},
    {"color": "blue", "note": "calm, calm,\n\nquite nice – w010", "x": 0.0},
    {"color": "purple", "note": "<b>very</b> nice &amp; w020", "x": 7.25},
    {"color": None, "note": "w030 w031, \"\"", "x": None},
    {"color": "green", "note": "", "x": 9.0},
    {"color": "green", "note": "quite, calm", "x": -1.5},
    {"color": "red", "note": "über-nice café", "x": 12.0},
]


def cells(row: dict[str, Any]) -> dict[str, str]:
    return {name: "" if value is None else str(value) for name, value in row.items()}


def write_csv(path: Path, rows: list[dict[str, Any]], columns: list[str], *, header: bool) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, columns, extrasaction="ignore", lineterminator="\n")
        if header:
            writer.writeheader()
        writer.writerows([{**cells(row), "id": f"r{i}"} for i, row in enumerate(rows)])
    return path


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


def predict(model: Model, *args: str, url: str | None = None) -> int:
    target = ["--url", url] if url else ["--local-url", model.api_url]
    return main(["predict", *args, *target, "--config", str(model.config_path)])


def one_by_one(model: Model, rows: list[dict[str, Any]]) -> list[float]:
    """Each row alone, as the raw JSON a caller writes by hand."""
    client = ApiClient(model.api_url.removesuffix("/predict"))
    try:
        answers = [client.predict({"instances": [row]}) for row in rows]
    finally:
        client.close()
    assert all(status == 200 for status, _, _, _ in answers), answers
    return [float(body["predictions"][0]) for _, _, body, _ in answers]


def predictions(path: Path) -> list[float]:
    with path.open(newline="") as handle:
        written = list(csv.DictReader(handle))
    assert [int(r["row"]) for r in written] == list(range(1, len(written) + 1))
    return [float(r["prediction"]) for r in written]


@pytest.mark.parametrize("fmt", ["libsvm", "csv"])
def test_csv_with_quoted_texts_with_or_without_a_header(models, fmt, tmp_path, capsys):
    model = models[fmt]
    expected = one_by_one(model, OBJECTS)
    assert len(set(expected)) > 3  # the rows differ, and so do their predictions
    plain = write_csv(tmp_path / "plain.csv", OBJECTS, FIELDS, header=False)
    named = write_csv(tmp_path / "named.csv", OBJECTS, ["id", "x", "note", "color"], header=True)
    assert len(plain.read_text().splitlines()) > len(OBJECTS)  # quoted texts span lines
    for source in (plain, named):
        out = tmp_path / f"{source.stem}.out.csv"
        code = predict(model, str(source), "-o", str(out), "--batch-rows", "3")
        err = capsys.readouterr().err
        assert code == 0, err
        assert predictions(out) == expected
        assert "predicted 7 rows in 3 requests" in err
        assert ("note: ignoring column(s) id of" in err) == (source is named)


def test_jsonl_rows_from_stdin_are_sent_as_written(models, tmp_path, capsys, monkeypatch):
    model = models["libsvm"]
    lines = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in OBJECTS)
    monkeypatch.setattr(sys, "stdin", io.StringIO(lines.replace('"x": 12.0', '"x": 12')))
    out = tmp_path / "out.jsonl"  # not stdout: the in-process handler logs there
    assert predict(model, "-", "-o", str(out), "--batch-rows", "4") == 0, capsys.readouterr().err
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["row"] for r in written] == list(range(1, len(OBJECTS) + 1))
    assert [r["prediction"] for r in written] == one_by_one(model, OBJECTS)


def test_the_model_input_bounds_the_requests(models, fake_api, tmp_path, capsys):
    """The dense model's bag of words is ~10x the JSON of a row: requests are cut by it."""
    model = models["csv"]
    encode = Encoder(model.spec).encode
    rows = [{"color": "red", "note": f"w{i:03d} very", "x": float(i)} for i in range(40)]
    json_bytes = sum(len(json.dumps(r)) for r in rows)
    encoded_bytes = sum(len(encode(r, text=False)) + 1 for r in rows)
    assert encoded_bytes > 5 * json_bytes  # 150 columns of mostly 0,
    code = predict(model, str(write_jsonl(tmp_path / "in.jsonl", rows)), "--batch-bytes", "2000",
                   url=fake_api.url)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    sent = sorted((r.document["instances"] for r in fake_api.received), key=lambda i: i[0]["x"])
    assert [row for instances in sent for row in instances] == rows
    assert len(sent) >= encoded_bytes // 2000 > json_bytes // 2000 + 3
    for instances in sent:
        assert len("\n".join(encode(row, text=False) for row in instances)) <= 2000
    assert len(captured.out.splitlines()) == 41


BAD_CSV = ('color,note,x\nred,"a text,\nover two lines",1\ngreen,"fine",2\n'
           'blue,"more,\ntext",3,0\n')


@pytest.mark.parametrize("name, text, problem", [
    ("in.csv", 'red,"a, b\nc",1\nblue,"x\n""y""",abc\n',
     'input row 2 (lines 3-4): field "x" is not a number'),
    ("in.csv", 'color,note,x\nred,"ok",1\nred,"ok",1e999\n',
     'input row 2 (line 3): field "x" is infinite or outside the float32 range the model reads'),
    ("in.jsonl", '{"color": "red", "note": "ok", "x": 1}\n\n{"color": "red", "note": "ok", "colour": 2}\n',
     'input row 2 (line 3): unknown field "colour" (the model\'s fields: color, note, x)'),
    ("in.jsonl", '{"color": "red", "note": "ok"}\n',
     'input row 1 (line 1): missing field "x" (write null for a missing value)'),
    ("in.jsonl", '{"color": "red", "note": "ok", "x": "3"}\n',
     'input row 1 (line 1): field "x" must be a number or null, not a string'),
    ("in.jsonl", '{"color": "red", "note": 3, "x": 1}\n',
     'input row 1 (line 1): field "note" must be a string (text) or null'),
    ("in.jsonl", '{"color": "red", "note": "ok", "x": NaN}\n',
     'input row 1 (line 1): field "x" is NaN, not a number JSON allows (write null for a missing value)'),
    ("in.jsonl", '{"color": "red", "note": "ok", "x": 1' + "0" * 400 + "}\n",
     'input row 1 (line 1): field "x" is infinite or outside the float32 range the model reads'),
])
def test_a_bad_row_is_named_before_anything_is_sent(models, fake_api, tmp_path, capsys, name, text,
                                                     problem):
    source = tmp_path / name
    source.write_text(text)
    out = tmp_path / "out.csv"
    assert predict(models["libsvm"], str(source), "-o", str(out), url=fake_api.url) == 2
    err = capsys.readouterr().err
    assert err == f"error: {source}: {problem}; fix that row and run again\n"
    assert fake_api.received == [] and not out.exists()


@pytest.mark.parametrize("text, message", [
    (BAD_CSV, "in.csv lines 5-6 has 4 fields; the header has 3; fix that line (quote values"),
    ('red,"ok",1\nred,ok,"x,y",3\n', "in.csv line 2 has 4 fields; the model's fields are color, "
     "note, x, in this order (or name them in a header); fix that line"),
    ('red,"ok",1\nred,"unclosed,1\n', "in.csv line 2 is not valid CSV (unexpected end of data); "
     'quote values that contain commas, quotes or line breaks ("" for a quote inside them)'),
    ('red,"ok",1\nred,"a"b,1\n', "in.csv line 2 is not valid CSV ("),
    ('id,note,color\n1,ok,red\n', "in.csv: missing feature column(s) x; the model needs color, note, "
     "x (any order with a header; other columns are ignored)"),
])
def test_csv_shape_errors_are_one_line(models, fake_api, tmp_path, capsys, text, message):
    source = tmp_path / "in.csv"
    source.write_text(text)
    assert predict(models["libsvm"], str(source), url=fake_api.url) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {tmp_path}/{message}") and len(err.splitlines()) == 1
    assert fake_api.received == []


def test_an_error_from_the_api_still_names_the_row(models, tmp_path, capsys):
    """A duplicate key passes json.loads (the last one wins) but not the handler: a 400 for
    instance 1 of the second request, mapped back to input row 4."""
    lines = [json.dumps(row) for row in OBJECTS[:5]]
    lines[3] = lines[3][:-1] + ', "x": 2}'
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(lines) + "\n")
    assert predict(models["libsvm"], str(source), "--batch-rows", "3") == 2
    assert capsys.readouterr().err == (
        'error: the API rejected input row 4 (line 4): HTTP 400 duplicate_field: instances[0]: field '
        '"x" appears twice [instances[0] of the request with input rows 4-5]; fix that row and run '
        "again\n")


def test_rows_are_sized_by_the_encoded_model_input():
    spec = InputSpec((Field("color", "categorical", categories=("red", "blue")),
                      Field("note", "text", vocabulary=tuple(FILLER)), Field("x")), "csv")
    raw = predict_client.RawRows(spec, "in.csv")
    rows = raw.csv_rows("".join(f'red,"{FILLER[i % 150]}, {i}\nnice",{i}\n' for i in range(60)),
                        lambda _: None)
    encode = Encoder(spec).encode
    assert [row.encoded_bytes for row in rows] == [
        len(encode(json.loads(row.body), text=False)) + 1 for row in rows]
    assert min(row.encoded_bytes for row in rows) > 5 * max(len(row.body) for row in rows)
    assert [row.lines for row in rows[:2]] == ["lines 1-2", "lines 3-4"]
    assert json.loads(rows[1].body) == {"color": "red", "note": "w001, 1\nnice", "x": 1.0}
    for max_rows, max_bytes in [(10000, 1000), (7, 10**6), (5, 2000), (10000, 5000)]:
        chunks = predict_client.make_chunks(rows, max_rows, max_bytes, None)
        assert [row for chunk in chunks for row in chunk.rows] == rows
        for chunk in chunks:
            instances = json.loads(chunk.body)["instances"]
            assert len(instances) == len(chunk.rows) <= max_rows and len(chunk.body) <= max_bytes
            assert len("\n".join(encode(row, text=False) for row in instances)) <= max_bytes


def test_a_single_text_field_with_or_without_a_header():
    """The reviews example's shape: one text per row, quoted when it holds a comma or a break."""
    spec = InputSpec((Field("review", "text", vocabulary=("good", "bad")),), "libsvm")
    raw = predict_client.RawRows(spec, "review.csv")
    texts = ['A warm, funny film about "family" -- and a\nsurprisingly moving one.', "Dull.", " "]
    body = '"A warm, funny film about ""family"" -- and a\nsurprisingly moving one."\nDull.\n\n" "\n'
    for text in (body, "review\n" + body):
        rows = raw.csv_rows(text, lambda _: None)
        assert [json.loads(row.body) for row in rows] == [{"review": t} for t in texts]
        assert [row.lines for row in rows] == (["lines 1-2", "line 3", "line 5"] if text is body
                                               else ["lines 2-3", "line 4", "line 6"])
