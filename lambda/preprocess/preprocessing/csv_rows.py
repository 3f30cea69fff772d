"""CSV bodies: rows of numbers in feature order, an optional header line -> the model's CSV.

A regex over the whole body proves a clean request valid (the fast path, the body forwarded as
is); otherwise each row is checked, and each field of a row that fails, for the exact error.
"""

from __future__ import annotations

import re

from preprocessing.request import CSV_NUMBER, FLOAT32_MAX, RISKY_NUMBER, RequestError, risky

Parsed = tuple[bytes, int, str]  # payload, rows, path

_CSV_FIELD = re.compile(CSV_NUMBER, re.ASCII)


class CsvRows:
    """The CSV body parser for one feature list, row limit and null policy."""

    def __init__(self, features: tuple[str, ...], *, max_rows: int, nulls_missing: bool) -> None:
        self.features = features
        self.max_rows = max_rows
        self.nulls_missing = nulls_missing
        self._n = len(features)
        cell = f"(?:{CSV_NUMBER})?" if nulls_missing else f"(?:{CSV_NUMBER})"
        row = rf"{cell}(?:,{cell}){{{max(self._n - 1, 0)}}}"
        self._body = re.compile(rf"{row}(?:\n{row})*", re.ASCII)  # ASCII: \d is 0-9 only
        self._row = re.compile(row, re.ASCII)
        # An optional first line naming the features, unless a name could be read as a number.
        self._header = "" if any(_CSV_FIELD.fullmatch(n) for n in features) else ",".join(features)

    def _field(self, field: str, i: int, j: int) -> str:
        name = self.features[j]
        where = f"row {i}, column {j} ({name})"
        text = field.strip()
        if not text:
            if self.nulls_missing:
                return ""
            raise RequestError(422, "null_value", f"{where} is empty; a number is required",
                               instance=i, field=name)
        if _CSV_FIELD.fullmatch(text):
            if RISKY_NUMBER.search(text) and not abs(float(text)) <= FLOAT32_MAX:
                raise RequestError(422, "out_of_range", f"{where} is outside the float32 range",
                                   instance=i, field=name)
            return text
        if text.lower().lstrip("+-") in ("nan", "inf", "infinity"):
            raise RequestError(422, "non_finite_value", f"{where} is not finite", instance=i,
                               field=name)
        if text.lower() in ("true", "false"):
            raise RequestError(422, "boolean_value", f"{where} is a boolean; a number is required",
                               instance=i, field=name)
        raise RequestError(422, "non_numeric_value", f"{where} is not a number", instance=i,
                           field=name)

    def parse(self, raw: str) -> Parsed:
        """The CSV payload; RequestError for an invalid body."""
        text = raw.replace("\r\n", "\n") if "\r" in raw else raw
        if text.endswith("\n"):
            text = text[:-1]
        if not text.strip():
            raise RequestError(400, "empty_body", "the request body is empty")
        rows = text.count("\n") + 1
        header = self._header
        if header and text.startswith(header):  # cheap test first: partition copies the body
            first, _, rest = text.partition("\n")
            if first.replace(" ", "") == header:
                text = rest
                rows -= 1
                if not text:
                    raise RequestError(400, "empty_instances", "the CSV body has a header but no rows")
        if rows > self.max_rows:
            raise RequestError(413, "too_many_rows", f"{rows} rows; at most {self.max_rows} per request")
        if self._body.fullmatch(text):
            payload = text.encode("ascii")
            if not risky(payload):
                return payload, rows, "fast"
        n, row, field = self._n, self._row, self._field
        lines = text.split("\n")
        for i, line in enumerate(lines):
            fields = line.split(",")
            if len(fields) != n:
                raise RequestError(422, "wrong_arity", f"row {i} has {len(fields)} fields; expected "
                                   f"{n} in feature order", instance=i)
            if not (row.fullmatch(line) and not RISKY_NUMBER.search(line)):
                lines[i] = ",".join([field(f, i, j) for j, f in enumerate(fields)])
        return "\n".join(lines).encode("ascii"), rows, "exact"
