"""Raw rows (categorical and text fields) -> the model's input, by ``contract.encoding.Encoder``:
the code ``xgbapi prepare`` encoded the training data with, not a copy of it.

JSON: ``{"instances": [{field: raw value, ...}, ...], "target_variant"?, "inference_id"?}``;
every field present (null for a missing value), no other keys. CSV: rows of the raw fields in
the model's order, an optional header line naming them, RFC 4180 quoting (a text may hold
commas, quotes and line breaks). Every error is a 400 naming the row and the field, raised before
anything is sent: nothing of a bad request reaches the endpoint.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from contract.encoding import Encoder, EncodingError, InputSpec
from contract.request import INSTANCES
from preprocessing.request import DuplicateKeys, RequestError, decode_document, pairs_hook, quoted


def _non_finite(literal: str) -> Any:
    raise RequestError(400, "non_finite_value", f"{literal} is not a number JSON allows; "
                       "send null for a missing value")


_decoder = json.JSONDecoder(object_pairs_hook=pairs_hook, parse_constant=_non_finite)


def decode_json(raw: str, max_rows: int) -> tuple[list[Any], Any, Any, Any]:
    """A JSON body's instances (decoded, not yet encoded), target_variant, inference_id and
    assignment_key: read before the variant, and so its spec, is chosen."""
    return decode_document(raw, _decoder, max_rows)


class RawRows:
    """The JSON and CSV body parsers for one input spec, row limit and null policy."""

    def __init__(self, spec: InputSpec, *, max_rows: int, nulls_missing: bool,
                 also_accepted: frozenset[str] = frozenset()) -> None:
        self.spec = spec
        self.max_rows = max_rows
        self.nulls_missing = nulls_missing
        self.names = spec.field_names
        self._known = frozenset(self.names)
        # Fields of the endpoint's other variants: a JSON row may carry them (a client sends one
        # row for whichever variant it is assigned); this spec ignores them.
        self._accepted = self._known | also_accepted
        self._encode = Encoder(spec).encode
        # Under the reject policy a missing number or category is an error; an empty text is not.
        self._nullable = frozenset(f.name for f in spec.fields if f.kind == "text")

    def _line(self, row: dict[str, Any], i: int, *, text: bool, where: str) -> str:
        """``where`` + a field name says where a value is: "instances[3]." or "row 3, field "."""
        if not self.nulls_missing:
            for name in self.names:
                value = row[name]
                if (value is None or (text and not value.strip())) and name not in self._nullable:
                    raise RequestError(400, "null_value", f"{where}{name} is missing; a value is "
                                       "required (null policy: reject)", instance=i, field=name)
        try:
            return self._encode(row, text=text)
        except EncodingError as error:
            raise RequestError(400, error.code, f"{where}{error.field} {error.message}",
                               instance=i, field=error.field) from None

    def parse_json(self, raw: str) -> tuple[bytes, int, Any, Any, Any, str]:
        """The payload, rows, target_variant, inference_id and assignment_key; RequestError for
        a bad body."""
        instances, target_variant, inference_id, assignment_key = decode_json(raw, self.max_rows)
        payload, rows = self.encode_instances(instances)
        return payload, rows, target_variant, inference_id, assignment_key, "raw"

    def encode_instances(self, instances: list[Any]) -> tuple[bytes, int]:
        """The payload of decoded ``instances`` (objects of raw fields) and its rows."""
        lines = []
        n, known, line = len(self.names), self._known, self._line
        for i, instance in enumerate(instances):
            where = f"{INSTANCES}[{i}]"
            if type(instance) is not dict:
                if isinstance(instance, DuplicateKeys):
                    raise RequestError(400, "duplicate_field", f"{where}: field "
                                       f"{quoted(instance.duplicate)} appears twice",
                                       instance=i, field=instance.duplicate[:64])
                raise RequestError(400, "invalid_instance", f"{where} must be an object of raw "
                                   f"fields ({', '.join(self.names)})", instance=i)
            if len(instance) != n or not known.issuperset(instance):
                self._check_fields(instance, i, where)
            lines.append(line(instance, i, text=False, where=where + "."))
        return "\n".join(lines).encode("utf-8"), len(lines)

    def _check_fields(self, instance: dict[str, Any], i: int, where: str) -> None:
        for key in instance:
            if key not in self._accepted:
                raise RequestError(400, "unknown_field", f"{where}: unknown field {quoted(key)}; "
                                   f"the model's fields: {', '.join(self.names)}",
                                   instance=i, field=key[:64])
        missing = next((name for name in self.names if name not in instance), None)
        if missing is None:
            return  # only fields of other variants besides this spec's: fine
        raise RequestError(400, "missing_field", f"{where}: missing field {quoted(missing)} (send "
                           "null for a missing value)", instance=i, field=missing)

    def parse_csv(self, raw: str) -> tuple[bytes, int, str]:
        """The payload and rows; RequestError for a bad body."""
        if not raw.strip():
            raise RequestError(400, "empty_body", "the request body is empty")
        try:
            # newline="": line breaks inside quoted texts stay in the text, as when prepare read them
            rows = list(csv.reader(io.StringIO(raw, newline=""), strict=True))
        except csv.Error:
            raise RequestError(400, "malformed_csv", "the CSV body is not valid CSV (check the "
                               "quoting of texts)") from None
        # Blank lines dropped. A row remains: the body has a character other than white space,
        # and the reader gives an empty row only for an empty line.
        rows = [row for row in rows if row]
        if [cell.strip() for cell in rows[0]] == list(self.names):
            rows = rows[1:]
            if not rows:
                raise RequestError(400, "empty_instances", "the CSV body has a header but no rows")
        if len(rows) > self.max_rows:
            raise RequestError(413, "too_many_rows", f"{len(rows)} rows; at most {self.max_rows} "
                               "per request")
        names, n, lines = self.names, len(self.names), []
        for i, cells in enumerate(rows):
            if len(cells) != n:
                raise RequestError(400, "wrong_arity", f"row {i} has {len(cells)} fields; expected "
                                   f"{n}: {', '.join(names)}", instance=i)
            lines.append(self._line(dict(zip(names, cells, strict=True)), i, text=True,
                                    where=f"row {i}, field "))
        return "\n".join(lines).encode("utf-8"), len(lines), "raw"
