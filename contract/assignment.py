"""Which variant serves a request: the Lambda's choice, without any state.

A request that names ``target_variant`` is pinned to it. A request with an ``assignment_key``
(a user id, say) is assigned by weighted rendezvous hashing: every variant with a weight gets the
score ``weight / -ln(u)``, ``u`` a uniform number from a hash of (variant, key), and the highest
score wins. So the same key gets the same variant in every Lambda instance and after every cold
start; a key lands on a variant with probability proportional to its weight; and when weights
change, a key only moves to a variant whose weight grew (70/30 -> 60/40 moves exactly the 10%
that moved, in expectation), while removing a variant moves only that variant's keys. A
request with neither is assigned at random by weight.

Standard library only: the Lambda runs it on every request (about 1 microsecond per variant).
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Mapping

PINNED, KEYED, RANDOM = "pinned", "keyed", "random"  # how a request was assigned (the API says)
_SCALE = 2.0 ** -52


def unit_hash(variant: str, key: str) -> float:
    """A number in (0, 1), the same for the same (variant, key) on every machine.

    52 bits of the hash: ``x + 0.5`` is then exact in a float, so the result is never 0 or 1
    (with 64 bits the largest hashes would round to 1.0 and the score would divide by zero)."""
    digest = hashlib.blake2b(f"{variant}\x00{key}".encode(), digest_size=8).digest()
    return ((int.from_bytes(digest, "big") >> 12) + 0.5) * _SCALE


def keyed_variant(key: str, weights: Mapping[str, float]) -> str | None:
    """The variant ``key`` is assigned to under ``weights`` (None when no weight is positive)."""
    best, best_score = None, -1.0
    for variant, weight in weights.items():
        if weight > 0:
            score = weight / -math.log(unit_hash(variant, key))
            if score > best_score:
                best, best_score = variant, score
    return best


def random_variant(weights: Mapping[str, float], rng: random.Random) -> str | None:
    """A variant drawn in proportion to its weight (None when no weight is positive)."""
    total = sum(w for w in weights.values() if w > 0)
    if total <= 0:
        return None
    point = rng.random() * total
    chosen = None
    for variant, weight in weights.items():
        if weight > 0:
            chosen = variant
            point -= weight
            if point < 0:
                break
    return chosen


def key_digest(key: str) -> str:
    """What the log line carries instead of the key: a short hash, to correlate requests."""
    return hashlib.blake2b(key.encode(), digest_size=8, person=b"xgbapi-log-key").hexdigest()
