"""The JSON body parser's edges, through its public API: the payload it forwards, the path that
answered ("fast" when the fast path proves the body valid, "exact" otherwise) and its exact errors.

A parser is built per test: the handler fixture's parser is built once per module, so its
constructor would be exercised by one test only.
"""

from __future__ import annotations

import pytest

from tests.handler.support import RequestError

# isort: split
from preprocessing.json_rows import JsonRows

FEATURES = ("f0", "f1", "f2")


def parser(features: tuple[str, ...] = FEATURES, *, max_rows: int = 10,
           nulls_missing: bool = True) -> JsonRows:
    return JsonRows(features, max_rows=max_rows, nulls_missing=nulls_missing)


def refusal(rows: JsonRows, body: str) -> tuple[int, str, str, int | None, str | None]:
    with pytest.raises(RequestError) as caught:
        rows.parse(body)
    error = caught.value
    return error.status, error.code, error.message, error.instance, error.field


@pytest.mark.parametrize(("nulls_missing", "body", "payload"), [
    # same-shaped rows of numbers only
    (False, '{"instances": [[1, 2.5, -3e-2], [0, 4, 5]]}', b"1,2.5,-3e-2\n0,4,5"),
    (False, '{"instances": [{"f1": 2, "f0": 1, "f2": 3}, {"f0": 4, "f1": 5, "f2": 6}]}',
     b"1,2,3\n4,5,6"),
    # row by row: nulls, or rows of both kinds
    (True, '{"instances": [[1, null, 3], [null, 5, null]]}', b"1,,3\n,5,"),
    (True, '{"instances": [{"f0": 1, "f1": null, "f2": 3}, {"f2": 6, "f1": 5, "f0": null}]}',
     b"1,,3\n,5,6"),
    (False, '{"instances": [{"f0": 1, "f1": 2, "f2": 3}, [4, 5, 6]]}', b"1,2,3\n4,5,6"),
])
def test_a_valid_body_takes_the_fast_path(nulls_missing: bool, body: str, payload: bytes) -> None:
    assert parser(nulls_missing=nulls_missing).parse(body) == (payload, 2, None, None, None, "fast")


@pytest.mark.parametrize("instances", ['[[1, 2, 3]]', '[{"f0": 1, "f1": null, "f2": 3}]'])
def test_the_fast_path_returns_the_metadata(instances: str) -> None:
    body = (f'{{"instances": {instances}, "target_variant": "challenger", "inference_id": "req-1",'
            ' "assignment_key": "user-7"}')
    payload = b"1,2,3" if "2," in instances else b"1,,3"
    assert parser().parse(body) == (payload, 1, "challenger", "req-1", "user-7", "fast")


def test_the_row_limit_itself_takes_the_fast_path() -> None:
    assert parser(max_rows=2).parse('{"instances": [[1, 2, 3], [4, 5, 6]]}') == (
        b"1,2,3\n4,5,6", 2, None, None, None, "fast")


def test_a_single_feature_model_reads_object_rows() -> None:
    assert parser(("f0",)).parse('{"instances": [{"f0": 1.5}, {"f0": -2}]}') == (
        b"1.5\n-2", 2, None, None, None, "fast")


def test_a_model_without_features_reads_empty_rows() -> None:
    assert parser(()).parse('{"instances": [{}]}') == (b"", 1, None, None, None, "fast")


def test_an_escape_takes_the_exact_path_with_the_same_answer() -> None:
    body = r'{"instances": [[1, 2, 3]], "inference_id": "req\u002d1"}'
    assert parser().parse(body) == (b"1,2,3", 1, None, "req-1", None, "exact")


def test_a_nested_value_is_refused() -> None:
    assert refusal(parser(), '{"instances": [[1, [2], 3]]}') == (
        422, "nested_value", "instances[0][1] (f1) is an array; a number is required", 0, "f1")


def test_a_null_is_refused_when_nulls_are_rejected() -> None:
    body = '{"instances": [[1, 2, 3], {"f0": 1, "f1": null, "f2": 3}]}'
    assert refusal(parser(nulls_missing=False), body) == (
        422, "null_value", "instances[1].f1 is null; a number is required", 1, "f1")


def test_a_row_neither_object_nor_array_is_refused() -> None:
    assert refusal(parser(), '{"instances": [[1, 2, 3], 5]}') == (
        422, "invalid_instance",
        "instances[1] must be an object keyed by feature name or an array in feature order", 1, None)


def test_a_missing_feature_is_refused() -> None:
    assert refusal(parser(), '{"instances": [{"f0": 1, "f2": 3}]}') == (
        422, "missing_feature", 'instances[0]: missing feature "f1" (send null for a missing value)',
        0, "f1")


def test_a_long_duplicate_feature_is_named_by_its_first_64_characters() -> None:
    name = "d" * 70
    assert refusal(parser(), f'{{"instances": [{{"{name}": 1, "{name}": 2}}]}}') == (
        422, "duplicate_feature", f'instances[0]: feature "{"d" * 64}..." appears twice', 0, "d" * 64)


def test_a_long_unknown_feature_is_named_by_its_first_64_characters() -> None:
    name = "u" * 70
    assert refusal(parser(), f'{{"instances": [{{"f0": 1, "{name}": 2}}]}}') == (
        422, "unknown_feature", f'instances[0]: unknown feature "{"u" * 64}..."', 0, "u" * 64)
