"""Property tests: arbitrary bodies and headers never crash the handler or yield a 5xx unless the
endpoint was called; the fast path agrees with the exact (reference) path."""

from __future__ import annotations

import base64
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.handler.support import FEATURES, RequestError, Slow, event, ok_response, predictions

SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-(10**60), max_value=10**60),
    st.floats(allow_nan=True, allow_infinity=True), st.floats(width=32), st.text(max_size=8),
    st.sampled_from(["1", "1.5", "", "nan", "1e5", "\\", '"', "\x00"]),
)
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)), max_leaves=12)
feature_keys = st.one_of(st.sampled_from(FEATURES), st.text(max_size=4))
instances = st.one_of(
    st.dictionaries(feature_keys, json_values, max_size=5),
    st.fixed_dictionaries({f: scalars for f in FEATURES}),
    st.lists(json_values, min_size=2, max_size=4),
    st.lists(scalars, min_size=3, max_size=3),
    json_values,
)
documents = st.one_of(
    json_values,
    st.fixed_dictionaries({"instances": st.lists(instances, max_size=4)},
                          optional={"target_variant": json_values, "inference_id": json_values,
                                    "extra": json_values}),
)


@st.composite
def bodies(draw: st.DrawFn) -> Any:
    kind = draw(st.sampled_from(["json", "json", "text", "csv", "none", "other"]))
    if kind == "json":
        text = json.dumps(draw(documents), ensure_ascii=draw(st.booleans()))
        if draw(st.booleans()):  # perturb: cut or splice
            i = draw(st.integers(0, len(text)))
            text = text[:i] + draw(st.sampled_from(["", "]", ",", "NaN", "\\", '"', "1e999"])) + text[i:]
        return text
    if kind == "csv":
        cell = st.one_of(st.sampled_from(["", "1", "-2.5", "1e5", "nan", "x", " 3 ", "1e40", "true"]),
                         st.text(alphabet="0123456789.,eE+- \r\n", max_size=6), st.text(max_size=3))
        rows = draw(st.lists(st.lists(cell, max_size=4), max_size=4))
        return "\n".join(",".join(r) for r in rows)
    if kind == "text":
        return draw(st.text(max_size=40))
    if kind == "none":
        return None
    return draw(st.one_of(st.integers(), st.lists(st.integers(), max_size=2), st.binary(max_size=5)))


content_types = st.one_of(
    st.sampled_from(["application/json", "text/csv", "application/json; charset=utf-8",
                     "TEXT/CSV; charset=latin-1", "application/xml", "", ";", "text/csv;charset"]),
    st.text(max_size=20))
headers = st.dictionaries(st.one_of(st.sampled_from(["Content-Type", "content-type", "Accept"]),
                                    st.text(max_size=10)),
                          st.one_of(content_types, st.none(), st.integers()), max_size=3)


@st.composite
def events(draw: st.DrawFn) -> Any:
    body = draw(bodies())
    encode = draw(st.booleans())
    if encode and isinstance(body, str):
        body = base64.b64encode(body.encode("utf-8", "surrogatepass")).decode()
        if draw(st.booleans()):
            body = body[: draw(st.integers(0, len(body)))]
    evt: dict[str, Any] = {"headers": draw(st.one_of(st.none(), headers)), "body": body,
                           "isBase64Encoded": encode if draw(st.booleans()) else draw(json_values)}
    if draw(st.booleans()):
        evt["multiValueHeaders"] = {"Content-Type": [draw(content_types)]}
    if draw(st.booleans()):
        evt["queryStringParameters"] = draw(st.one_of(st.none(), st.dictionaries(
            st.sampled_from(["target_variant", "inference_id", "x"]), st.text(max_size=70), max_size=2)))
    if draw(st.booleans()):
        evt["requestContext"] = draw(st.one_of(st.fixed_dictionaries({"requestId": json_values}),
                                               json_values))
    return evt


class Recorder:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        assert isinstance(kwargs["Body"], bytes) and len(kwargs["Body"]) <= 6291456
        rows = kwargs["Body"].count(b"\n") + 1
        return ok_response("\n".join(["0.5"] * rows))


def check(h: Any, evt: Any, monkeypatch: Any) -> None:
    recorder = Recorder()
    monkeypatch.setattr(h.runtime, "invoke_endpoint", recorder)
    result = h.handle(evt, None)  # must not raise
    assert set(result) == {"statusCode", "headers", "body"}
    body = json.loads(result["body"])
    status = result["statusCode"]
    if recorder.calls == 0:
        assert 400 <= status < 500, body
        assert set(body) == {"error"} and {"code", "message"} <= set(body["error"])
    else:
        assert status == 200, body
        assert len(body["predictions"]) >= 1


@SETTINGS
@given(evt=events())
def test_arbitrary_events_never_raise_or_5xx_without_calling_the_endpoint(h, monkeypatch, evt):
    check(h, evt, monkeypatch)


@SETTINGS
@given(doc=documents, ctype=st.sampled_from(["application/json", "text/csv"]))
def test_arbitrary_json_documents(h, monkeypatch, doc, ctype):
    check(h, event(json.dumps(doc), ctype), monkeypatch)


finite = st.one_of(st.integers(-(10**20), 10**20),
                   st.floats(allow_nan=False, allow_infinity=False, width=32),
                   st.floats(min_value=-1e38, max_value=1e38))
valid_rows = st.lists(st.one_of(
    st.fixed_dictionaries({f: st.one_of(st.none(), finite) for f in FEATURES}),
    st.lists(st.one_of(st.none(), finite), min_size=3, max_size=3)), min_size=1, max_size=6)


@SETTINGS
@given(rows=valid_rows, variant=st.one_of(st.none(), st.sampled_from(["champion", "challenger"])))
def test_fast_path_agrees_with_exact_path(h, rows, variant):
    doc: dict[str, Any] = {"instances": rows}
    if variant:
        doc["target_variant"] = variant
    raw = json.dumps(doc)
    exact = h.json_rows.exact(raw)
    try:
        fast = h.json_rows.fast(raw)
    except Slow:
        return
    assert fast == exact
    # and the payload is the rows' numbers, exactly
    for line, row in zip(exact[0], rows, strict=True):
        values = [row[f] for f in FEATURES] if isinstance(row, dict) else row
        cells = line.split(",")
        for cell, value in zip(cells, values, strict=True):
            if value is None:
                assert cell == ""
            else:
                assert cell == json.dumps(value)  # the literal as sent, not re-formatted


@SETTINGS
@given(rows=valid_rows, spoil=st.sampled_from(['"1"', "true", "[1]", "{}", "NaN", '"x"']),
       where=st.integers(0, 100))
def test_spoiled_rows_are_rejected_by_both_paths(h, rows, spoil, where):
    raw = json.dumps({"instances": rows})
    # replace one number or null with an invalid value
    tokens = [i for i, c in enumerate(raw) if c in "-0123456789n" and raw[i - 1] in "[ :,"]
    if not tokens:
        return
    i = tokens[where % len(tokens)]
    j = i
    while j < len(raw) and raw[j] not in ",]}":
        j += 1
    spoiled = raw[:i] + spoil + raw[j:]
    try:
        h.json_rows.fast(spoiled)
    except Slow:
        pass
    else:
        raise AssertionError(f"fast path accepted {spoiled}")
    try:
        h.json_rows.exact(spoiled)
    except RequestError as error:
        assert error.status == 422 and error.instance is not None and error.field in FEATURES
    else:
        raise AssertionError(f"exact path accepted {spoiled}")


@SETTINGS
@given(text=st.binary(max_size=30), rows=st.integers(1, 3))
def test_any_model_output_gives_200_or_invalid_model_output(h, text, rows):
    try:
        out = predictions(ok_response(text), rows)
    except RequestError as error:
        assert (error.status, error.code) == (502, "invalid_model_output")
    else:
        assert len(json.loads(out)) == rows
