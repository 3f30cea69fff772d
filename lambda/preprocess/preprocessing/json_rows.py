"""JSON bodies: ``{"instances": [...], "target_variant"?, "inference_id"?}`` -> the model's CSV.

Rows are objects keyed by feature name or arrays in feature order. A fast path handles
well-formed requests with C-level operations only; anything it cannot prove valid goes to the
exact path, which is the reference for every error and produces the same payload for valid
input. Number literals are copied into the CSV as the client wrote them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from operator import itemgetter
from typing import Any

from contract.request import ASSIGNMENT_KEY, INFERENCE_ID, INSTANCES, REQUEST_FIELDS, TARGET_VARIANT
from preprocessing.request import (
    FLOAT32_MAX,
    RISKY_NUMBER,
    DuplicateKeys,
    NonFinite,
    Num,
    RequestError,
    check_meta,
    decode_document,
    pairs_hook,
    quoted,
    risky,
)

Rows = tuple[list[str], Any, Any, Any]  # CSV lines, target_variant, inference_id, assignment_key
# payload, rows, target_variant, inference_id, assignment_key, path
Parsed = tuple[bytes, int, Any, Any, Any, str]

_DICT, _LIST = {dict}, {list}


class Slow(Exception):
    """The fast path cannot prove the request valid: take the exact path."""


def _reject_constant(text: str) -> Any:
    raise Slow


_fast_decoder = json.JSONDecoder(parse_float=str, parse_int=str, parse_constant=_reject_constant)
_exact_decoder = json.JSONDecoder(parse_float=Num, parse_int=Num, parse_constant=NonFinite,
                                  object_pairs_hook=pairs_hook)


def _values_getter(features: tuple[str, ...]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """A row object's values in feature order (KeyError if one is missing)."""
    if len(features) == 1:
        only = features[0]

        def one(instance: dict[str, Any]) -> tuple[Any, ...]:
            return (instance[only],)

        return one
    if not features:
        return lambda instance: ()
    return itemgetter(*features)


class JsonRows:
    """The JSON body parser for one feature list, row limit and null policy."""

    def __init__(self, features: tuple[str, ...], *, max_rows: int, nulls_missing: bool) -> None:
        self.features = features
        self.max_rows = max_rows
        self.nulls_missing = nulls_missing
        self._n = len(features)
        self._feature_set = frozenset(features)
        self._get_values = _values_getter(features)

    def parse(self, raw: str) -> Parsed:
        """The CSV payload and the metadata fields; RequestError for an invalid body."""
        try:
            lines, target_variant, inference_id, key = self.fast(raw)
            payload = "\n".join(lines).encode("ascii")
            if risky(payload):
                raise Slow
            check_meta(target_variant, inference_id, key)
            return payload, len(lines), target_variant, inference_id, key, "fast"
        except Slow:
            lines, target_variant, inference_id, key = self.exact(raw)
            return ("\n".join(lines).encode("ascii"), len(lines), target_variant, inference_id, key,
                    "exact")

    def fast(self, raw: str) -> Rows:
        """Well-formed requests only, C-level work per value; raises Slow on anything else."""
        if "\\" in raw:
            raise Slow
        try:
            doc = _fast_decoder.decode(raw)
        except (ValueError, RecursionError):
            raise Slow from None
        if type(doc) is not dict:
            raise Slow
        instances = doc.get(INSTANCES)
        if type(instances) is not list or not instances or len(instances) > self.max_rows:
            raise Slow
        strings = len(doc)  # JSON strings the body must contain: keys ...
        for key, value in doc.items():
            if key != INSTANCES:
                if key not in REQUEST_FIELDS or type(value) is not str:
                    raise Slow
                strings += 1  # ... and the string values of target_variant / inference_id
        n = self._n
        get = self._get_values
        kinds = set(map(type, instances))
        if kinds in (_DICT, _LIST) and set(map(len, instances)) == {n}:
            # The common case, all C loops: same-shaped rows with numbers only.
            try:
                lines = list(map(",".join, map(get, instances) if kinds == _DICT else instances))
            except KeyError:
                raise Slow from None
            except TypeError:  # null, boolean or nested value somewhere: the row-by-row loop below
                pass
            else:
                keys = len(instances) * n if kinds == _DICT else 0
                if raw.count('"') != 2 * (strings + keys):
                    raise Slow
                return (lines, doc.get(TARGET_VARIANT), doc.get(INFERENCE_ID),
                        doc.get(ASSIGNMENT_KEY))
        lines = []
        append = lines.append
        dict_rows = 0
        for instance in instances:
            kind = type(instance)
            if kind is dict:
                if len(instance) != n:
                    raise Slow
                dict_rows += 1
                try:
                    values = get(instance)
                except KeyError:
                    raise Slow from None
            elif kind is list:
                if len(instance) != n:
                    raise Slow
                values = instance
            else:
                raise Slow
            try:
                append(",".join(values))
            except TypeError:  # null, boolean or nested value
                if not self.nulls_missing:
                    raise Slow from None
                try:
                    append(",".join(["" if v is None else v for v in values]))
                except TypeError:
                    raise Slow from None
        # Numbers became str: prove that no value was a JSON string. Without backslashes every
        # string adds exactly two quotes, and the only strings allowed are the keys counted here.
        if raw.count('"') != 2 * (strings + dict_rows * n):
            raise Slow
        return lines, doc.get(TARGET_VARIANT), doc.get(INFERENCE_ID), doc.get(ASSIGNMENT_KEY)

    def _cell(self, value: Any, index: int, name: str, where: str) -> str:
        kind = type(value)
        if kind is Num:
            if RISKY_NUMBER.search(value) and not abs(float(value)) <= FLOAT32_MAX:
                raise RequestError(422, "out_of_range", f"{where} is outside the float32 range",
                                   instance=index, field=name)
            return value  # type: ignore[no-any-return]
        if value is None:
            if self.nulls_missing:
                return ""
            raise RequestError(422, "null_value", f"{where} is null; a number is required",
                               instance=index, field=name)
        if kind is NonFinite:
            raise RequestError(422, "non_finite_value", f"{where} is {value}; numbers must be finite",
                               instance=index, field=name)
        if kind is bool:
            raise RequestError(422, "boolean_value", f"{where} is a boolean; a number is required",
                               instance=index, field=name)
        if kind is str:
            raise RequestError(422, "non_numeric_value", f"{where} is a string; a number is required",
                               instance=index, field=name)
        raise RequestError(422, "nested_value", f"{where} is an {'array' if kind is list else 'object'};"
                           " a number is required", instance=index, field=name)

    def exact(self, raw: str) -> Rows:
        """The reference validation: every error, with instance index and field."""
        instances, target_variant, inference_id, assignment_key = decode_document(
            raw, _exact_decoder, self.max_rows)
        features, n, cell = self.features, self._n, self._cell
        lines = []
        for i, instance in enumerate(instances):
            if isinstance(instance, dict):
                if isinstance(instance, DuplicateKeys):
                    raise RequestError(422, "duplicate_feature", f"{INSTANCES}[{i}]: feature "
                                       f"{quoted(instance.duplicate)} appears twice",
                                       instance=i, field=instance.duplicate[:64])
                for key in instance:
                    if key not in self._feature_set:
                        raise RequestError(422, "unknown_feature",
                                           f"{INSTANCES}[{i}]: unknown feature {quoted(key)}",
                                           instance=i, field=key[:64])
                if len(instance) != n:
                    missing = next(name for name in features if name not in instance)
                    raise RequestError(422, "missing_feature",
                                       f"{INSTANCES}[{i}]: missing feature {quoted(missing)} (send "
                                       "null for a missing value)", instance=i, field=missing)
                lines.append(",".join([cell(instance[name], i, name, f"{INSTANCES}[{i}].{name}")
                                       for name in features]))
            elif isinstance(instance, list):
                if len(instance) != n:
                    raise RequestError(422, "wrong_arity", f"{INSTANCES}[{i}] has {len(instance)} "
                                       f"values; expected {n} in feature order", instance=i)
                lines.append(",".join([cell(instance[j], i, name, f"{INSTANCES}[{i}][{j}] ({name})")
                                       for j, name in enumerate(features)]))
            else:
                raise RequestError(422, "invalid_instance",
                                   f"{INSTANCES}[{i}] must be an object keyed by feature name or an "
                                   "array in feature order", instance=i)
        return lines, target_variant, inference_id, assignment_key
