"""Number literals kept as text, and the float32 range check of the CSV the model reads.

Numbers are never converted to float and back: the CSV cell is the client's own literal,
validated by the JSON scanner (or ``CSV_NUMBER`` for CSV bodies).
"""

from __future__ import annotations

import re

FLOAT32_MAX = 3.4028234663852886e38  # XGBoost reads CSV into float32
JSON_NUMBER = r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?"
CSV_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
# A literal that could overflow float32: 30+ characters or an exponent >= 10. Payloads holding
# one take the exact path, which checks the range of each value. (A regex with \d{30} costs
# ~10 ns per character of a clean payload; the byte-level test in ``risky`` ~0.3 ns.)
RISKY_NUMBER = re.compile(r"[^,\n]{30}|[eE]\+?0*[1-9]\d", re.ASCII)
_RISKY_EXPONENT = re.compile(rb"[eE]\+?0*[1-9]\d")
_LONG_CELL = b"x" * 30
_CELL_MASK = bytes(10 if c in b",\n" else 120 for c in range(256))  # each cell -> x...x


class Num(str):
    """Number literal text kept by the exact JSON path (distinguishable from JSON strings)."""

    __slots__ = ()


class NonFinite(str):
    """NaN, Infinity or -Infinity as read by the JSON scanner."""

    __slots__ = ()


def risky(payload: bytes) -> bool:
    """Whether any CSV cell might lie outside float32 (cheap, conservative)."""
    exponents = payload.count(b"e") + payload.count(b"E")
    if exponents and exponents != payload.count(b"e-") + payload.count(b"E-") and \
            _RISKY_EXPONENT.search(payload):  # only non-negative exponents can overflow
        return True
    return _LONG_CELL in payload.translate(_CELL_MASK)

