"""Training/serving parity, proven on the three examples.

For every row of each example's test split, the raw row sent through the handler (as a JSON
body and as a CSV body) makes exactly the bytes ``prepare`` wrote for that row, and the served
prediction (API front -> handler -> local runtime reading the body as the container does)
equals xgboost's prediction on the prepared matrix. The same for hand-made edge rows (missing
values, unseen categories, empty text, HTML, non-ASCII, a text longer than any in training),
encoded on the training side by prepare's own reader. A property test checks that for any raw
row the encoder accepts, the Lambda's encoding and prepare's are equal.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xgboost as xgb
from botocore.stub import Stubber
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract.artifact import read_model_archive
from contract.config import AppConfig, load_config
from contract.encoding import Encoder, Field, InputSpec, json_row
from contract.manifest import artifact_path
from contract.prepared import TEST_RAW, read_test_split
from local.client import ApiClient
from local.lambda_host import function_environment
from local.stack import running
from tests.conftest import ROOT
from tests.handler.support import BASE_ENV, CONTEXT, event, load_handler, ok_response
from training import data
from training.examples import train_examples

ONE_VARIANT = """
[project]
prefix = "xgb-parity"

[[variants]]
name = "champion"
manifest = "{runs}/champion/latest/manifest.json"
weight = 1
"""


@dataclass
class Example:
    name: str
    config: AppConfig
    prepared: data.Prepared
    booster: xgb.Booster

    @property
    def spec(self) -> InputSpec:
        return self.prepared.spec


def _train(root: Path, example: str) -> Example:
    config_path = root / "config.toml"
    config_path.write_text(ONE_VARIANT.format(runs=root / "runs"))
    for _ in train_examples(config_path, root / "prepared", example=example):
        pass
    config = load_config(config_path)
    model = config.models[0]
    booster = xgb.Booster()
    archive = artifact_path(model.manifest, model.variant.manifest_path)
    assert archive is not None
    booster.load_model(bytearray(read_model_archive(archive)))
    return Example(example, config, data.load_prepared(root / "prepared"), booster)


RAW_EXAMPLES = pytest.mark.parametrize("example", ["penguins", "reviews"], indirect=True)


@pytest.fixture(scope="session", params=["diabetes", "penguins", "reviews"])
def example(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Example:
    # The fetched tables are cached under the repository's data/cache (race-safe across workers).
    import training.example_data as example_data

    cache = ROOT / "data" / "cache"
    original = (example_data.penguins_csv, example_data.reviews_csv)
    try:
        example_data.penguins_csv.__defaults__ = (cache,)
        example_data.reviews_csv.__defaults__ = (cache,)
        return _train(tmp_path_factory.mktemp(request.param), request.param)
    finally:
        for function in original:
            function.__defaults__ = (example_data.DEFAULT_CACHE,)


def handler_for(spec: InputSpec, directory: Path) -> Any:
    env = {k: v for k, v in BASE_ENV.items() if k != "FEATURE_NAMES"}
    return load_handler(**{**env, **function_environment("xgb-parity-endpoint", spec, directory)})


_SENT: dict[int, dict[str, Any]] = {}  # client id -> the last InvokeEndpoint parameters


def sent_payload(service: Any, evt: dict[str, Any], rows: int) -> bytes:
    """What the handler sends InvokeEndpoint for ``evt`` (botocore validates it; a Stubber answers)."""
    runtime = service.runtime
    runtime.meta.events.register("provide-client-params.sagemaker-runtime.InvokeEndpoint",
                                 lambda params, **kw: _SENT.__setitem__(id(runtime), dict(params)),
                                 unique_id=f"parity-{id(runtime)}")
    _SENT.pop(id(runtime), None)
    with Stubber(runtime) as stubber:
        stubber.add_response("invoke_endpoint", ok_response("\n".join(["0"] * rows)))
        result = service.handle(evt, CONTEXT)
        stubber.assert_no_pending_responses()
    assert result["statusCode"] == 200, result["body"]
    sent = _SENT[id(runtime)]
    assert sent["ContentType"] == service.content_type
    return sent["Body"]  # type: ignore[no-any-return]


def prepared_lines(example: Example) -> bytes:
    return b"".join(path.read_bytes() for path in example.prepared.shard_paths(data.TEST)).rstrip(b"\n")


def test_each_example_prepares_the_format_it_should(example: Example) -> None:
    kinds = {f.kind for f in example.spec.fields}
    expected = {"diabetes": ({"numeric"}, "csv"), "penguins": ({"numeric", "categorical"}, "csv"),
                "reviews": ({"text"}, "libsvm")}[example.name]
    assert (kinds, example.spec.format) == expected


@pytest.mark.parametrize("body", ["json", "csv"])
def test_the_handler_sends_exactly_what_prepare_wrote(example: Example, body: str,
                                                      tmp_path: Path) -> None:
    service = handler_for(example.spec, tmp_path)
    test = read_test_split(example.prepared.directory)
    rows = len(test.raw_rows)
    if body == "json":
        evt = event({"instances": [json_row(test.spec, cells) for cells in test.raw_rows]})
    else:
        evt = event((example.prepared.directory / TEST_RAW).read_text(encoding="utf-8"), "text/csv")
    assert sent_payload(service, evt, rows) == prepared_lines(example)


def served_predictions(config: AppConfig, instances: list[dict[str, Any]]) -> list[float]:
    with running(config) as stack:
        client = ApiClient(stack.api_url)
        try:
            status, _, body, _ = client.predict({"instances": instances})
        finally:
            client.close()
    assert status == 200, body
    return [float(p) for p in body["predictions"]]


def test_served_predictions_equal_xgboost_on_the_prepared_matrix(example: Example) -> None:
    test = read_test_split(example.prepared.directory)
    served = served_predictions(example.config, [json_row(test.spec, c) for c in test.raw_rows])
    matrix, _ = example.prepared.load_test()
    expected = example.booster.predict(xgb.DMatrix(matrix))
    np.testing.assert_allclose(served, expected, rtol=0, atol=1e-6 * max(1.0, float(np.abs(expected).max())))


# Rows a test split may lack. Each is read by prepare's own CSV reader on the training side.
EDGE_ROWS = {
    "penguins": [
        ["Adelie", "Torgersen", "39.1", "18.7", "181", "3750", "male", "2007"],
        ["", "", "", "", "", "4000", "", ""],  # every field missing
        ["Emperor", "Antarctica", "50", "20", "200", "5000", "unknown", "2030"],  # unseen
        [" Gentoo ", "Biscoe", "NA", "15", "nan", "5200", "female", "2009"],  # spaces, NA, nan
        ["Chinstrap", "Dream", "-0.0", "1e1", "0", "3500", "female", "2008"],
        ["adelie", "TORGERSEN", "45", "17", "190", "3800", "MALE", "2007"],  # other case: unseen
    ],
    "reviews": [
        ["", "0"],  # empty text
        ["<br /><br />A <i>great</i> film&nbsp;&amp; a <b>bold</b> one.<br/>", "2"],  # HTML
        ["Un film très réussi, émouvant — 素晴らしい映画 ¡Olé! naïve café", "1.5"],  # non-ASCII
        ["This movie was not good, it's bad; really BAD!!! &#39;awful&#39; &quot;x&quot;", "-3"],
        ["word " * 3000, "0.5"],  # longer than any training review
        ["one\nline, two \"quoted\" lines\r\nand a comma, here", "-1"],  # breaks and quotes
        ["12345 2019 9/10 5-star", "1"],  # digits only
    ],
}


def _edge_table(example: Example, tmp_path: Path) -> tuple[data.Table, list[list[str]], str]:
    """The edge rows as a CSV file, read by prepare's reader (padded to its 10-row minimum)."""
    rows = EDGE_ROWS[example.name]
    header = [*example.spec.field_names, example.prepared.target]
    if example.name == "penguins":
        header = ["species", "island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm",
                  "body_mass_g", "sex", "year"]
    padded = (rows * 10)[:max(10, len(rows))]
    path = tmp_path / "edge.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([header, *padded])
    table = data.load_table(str(path), example.prepared.target)
    raw = [[row[header.index(name)] for name in example.spec.field_names] for row in rows]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(raw)
    return table, raw, buffer.getvalue()


@RAW_EXAMPLES
@pytest.mark.parametrize("body", ["json", "csv"])
def test_edge_rows_encode_the_same_on_both_sides(example: Example, body: str,
                                                  tmp_path: Path) -> None:
    table, raw, csv_body = _edge_table(example, tmp_path)
    training_side = "\n".join(islice(data.encoded_lines(table, example.spec), len(raw)))
    service = handler_for(example.spec, tmp_path)
    evt = event({"instances": [json_row(example.spec, cells) for cells in raw]}) if body == "json" \
        else event(csv_body, "text/csv")
    assert sent_payload(service, evt, len(raw)).decode() == training_side


@RAW_EXAMPLES
def test_edge_rows_are_served_as_xgboost_predicts_them(example: Example, tmp_path: Path) -> None:
    table, raw, _ = _edge_table(example, tmp_path)
    lines = list(islice(data.encoded_lines(table, example.spec), len(raw)))
    path = tmp_path / f"edge.{example.spec.format}"
    path.write_text("\n".join(lines) + "\n")
    matrix, _ = data._read_split(path, example.spec, labelled=False)
    expected = example.booster.predict(xgb.DMatrix(matrix))
    served = served_predictions(example.config, [json_row(example.spec, c) for c in raw])
    np.testing.assert_allclose(served, expected, rtol=0, atol=1e-6 * max(1.0, float(np.abs(expected).max())))


@pytest.mark.parametrize("example", ["reviews"], indirect=True)
def test_a_csv_libsvm_mix_up_would_change_predictions(example: Example) -> None:
    """The checks above are sensitive to the trap: the reviews model fed dense CSV rows (a 0 is
    zero) instead of its libsvm rows (absent is missing) predicts differently."""
    assert example.spec.format == "libsvm"
    test = read_test_split(example.prepared.directory)
    dense = Encoder(InputSpec(example.spec.fields, "csv"))
    rows = [dense.encode(json_row(test.spec, cells), text=False) for cells in test.raw_rows[:200]]
    matrix = np.array([[float(v) for v in ("1," + r + ",1").split(",")] for r in rows])
    sparse, _ = example.prepared.load_test()
    right = example.booster.predict(xgb.DMatrix(sparse[:200]))
    wrong = example.booster.predict(xgb.DMatrix(matrix))
    assert float(np.abs(right - wrong).max()) > 0.1


# ----------------------------------------------------------------------------- property

SPEC = InputSpec((
    Field("n"),
    Field("c", "categorical", categories=("a", "B b", "ü", "true", "7")),
    Field("t", "text", vocabulary=("good", "bad", "très", "br", "x1", "ünï"), max_chars=400),
), "libsvm")
numbers = st.one_of(st.integers(-10**6, 10**6).map(str), st.floats(width=32, allow_nan=False,
                    allow_infinity=False).map(repr), st.sampled_from(["", " 3 ", "NA", "nan", "-0"]))
categories = st.one_of(st.sampled_from(["a", "B b", "ü", "true", "7", " a ", "", "NA", "zz"]),
                       st.text(max_size=6))
texts = st.one_of(st.text(max_size=60), st.lists(st.sampled_from(
    ["good", "Bad", "TRÈS", "<br />", "&amp;", "x1", "ünï", ",", '"', "\n", "1"]), max_size=12)
    .map(" ".join))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(numbers, categories, texts), min_size=1, max_size=6))
def test_any_row_the_encoder_accepts_encodes_the_same_in_prepare_and_the_lambda(
        rows: list[tuple[str, str, str]], tmp_path_factory: pytest.TempPathFactory) -> None:
    rows = [r for r in rows if any(cell.strip() for cell in r)
            and "\x00" not in "".join(r)]  # prepare skips blank lines; csv refuses NUL
    if not rows:
        return
    directory = tmp_path_factory.mktemp("property")
    path = directory / "in.csv"
    padded = (rows * 10)[:max(10, len(rows))]
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([["n", "c", "t", "y"], *[[*r, "1"] for r in padded]])
    table = data.load_table(str(path), "y")
    training_side = "\n".join(islice(data.encoded_lines(table, SPEC), len(rows)))
    service = _property_service(directory)
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)  # the default dialect quotes a bare \r, as RFC 4180 wants
    as_csv = sent_payload(service, event(buffer.getvalue(), "text/csv"), len(rows)).decode()
    as_json = sent_payload(service, event({"instances": [json_row(SPEC, list(r)) for r in rows]}),
                           len(rows)).decode()
    assert as_csv == training_side
    assert as_json == training_side


_services: dict[str, Any] = {}


def _property_service(directory: Path) -> Any:
    if "service" not in _services:
        _services["service"] = handler_for(SPEC, directory)
    return _services["service"]


def test_json_row_keeps_what_a_client_means() -> None:
    row = json_row(SPEC, [" 2.5 ", " a ", "<b>Good</b>"])
    assert row == {"n": 2.5, "c": "a", "t": "<b>Good</b>"}
    assert json_row(SPEC, ["NA", "", ""]) == {"n": None, "c": None, "t": ""}
    assert math.isclose(json.loads(json.dumps(json_row(SPEC, ["1e3", "x", ""])))["n"], 1000.0)
