"""Variant assignment in the Lambda: sticky keys by weighted rendezvous hashing, random by
weight, pinning, live weights with fallbacks, and the TargetVariant every invocation carries."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections import Counter
from typing import Any

import pytest
from botocore.stub import Stubber

from contract.assignment import key_digest, keyed_variant, random_variant, unit_hash
from local.lambda_host import load_service
from tests.conftest import ROOT
from tests.handler.support import BASE_ENV, CONTEXT, call, event, ok_response

# isort: split
# The asset's modules: importable once local.lambda_host has put the asset on sys.path.
from preprocessing.weights import CONFIG, ENDPOINT, LAST_KNOWN, LiveWeights, WeightsUnavailable

VARIANTS = [{"name": "champion", "weight": 0.7}, {"name": "challenger", "weight": 0.3}]
KEYS = [f"user-{i}" for i in range(10_000)]


def shares(weights: dict[str, float], keys: list[str]) -> Counter[str | None]:
    return Counter(keyed_variant(key, weights) for key in keys)


def within_five_standard_errors(count: int, total: int, p: float) -> bool:
    return abs(count - total * p) <= 5 * math.sqrt(total * p * (1 - p))


def test_keys_split_by_weight() -> None:
    split = shares({"champion": 0.7, "challenger": 0.3}, KEYS[:2000])
    assert within_five_standard_errors(split["champion"], 2000, 0.7), split
    three = shares({"a": 0.5, "b": 0.3, "c": 0.2}, KEYS[:2000])
    for name, p in (("a", 0.5), ("b", 0.3), ("c", 0.2)):
        assert within_five_standard_errors(three[name], 2000, p), three


def test_a_weight_change_moves_only_the_share_that_moved() -> None:
    before = {k: keyed_variant(k, {"champion": 0.7, "challenger": 0.3}) for k in KEYS}
    after = {k: keyed_variant(k, {"champion": 0.6, "challenger": 0.4}) for k in KEYS}
    moved = [k for k in KEYS if before[k] != after[k]]
    assert 0.08 <= len(moved) / len(KEYS) <= 0.12
    assert all(before[k] == "champion" and after[k] == "challenger" for k in moved)


def test_removing_a_variant_moves_only_its_keys() -> None:
    three = {"a": 0.5, "b": 0.3, "c": 0.2}
    before = {k: keyed_variant(k, three) for k in KEYS}
    after = {k: keyed_variant(k, {"a": 0.5, "c": 0.2}) for k in KEYS}
    assert all(before[k] == after[k] for k in KEYS if before[k] != "b")
    assert {after[k] for k in KEYS if before[k] == "b"} == {"a", "c"}
    # and adding it back moves only the keys it takes
    assert all(before[k] == after[k] or before[k] == "b" for k in KEYS)


def test_zero_weights_are_never_chosen() -> None:
    assert set(shares({"a": 1.0, "b": 0.0}, KEYS[:500])) == {"a"}
    assert keyed_variant("k", {"a": 0.0}) is None
    import random

    rng = random.Random(3)
    assert {random_variant({"a": 0.0, "b": 2.0}, rng) for _ in range(200)} == {"b"}


class FixedDraw:
    """An rng whose every draw is ``value`` (random.Random's interface as random_variant uses it)."""

    def __init__(self, value: float) -> None:
        self.value = value

    def random(self) -> float:
        return self.value


@pytest.mark.parametrize(("draw", "chosen"), [
    (0.0, "a"), (0.2999, "a"), (0.3, "b"), (0.9999, "b"),
    (1.0, "b"),  # the top of the range: the last variant with a weight, never a zero-weight one
])
def test_a_random_draw_picks_by_cumulative_weight(draw: float, chosen: str) -> None:
    # Weights that do not sum to 1: the draw scales to their total (3 + 7); [0, 0.3) -> a.
    assert random_variant({"a": 3.0, "b": 7.0, "z": 0.0}, FixedDraw(draw)) == chosen  # type: ignore[arg-type]


def test_random_assignment_with_weights_that_do_not_sum_to_one() -> None:
    import random

    rng = random.Random(11)
    counts = Counter(random_variant({"champion": 7, "challenger": 3}, rng) for _ in range(2000))
    assert within_five_standard_errors(counts["champion"], 2000, 0.7), counts
    assert random_variant({"a": 0, "b": -1}, rng) is None


def test_unit_hash_is_never_0_or_1(monkeypatch: pytest.MonkeyPatch) -> None:
    """The score divides by -ln(u): u = 0 or 1 would fail, so the hash's lowest value maps to
    half a step above 0."""
    import hashlib

    from contract import assignment

    class Digest:
        def __init__(self, value: bytes) -> None:
            self.value = value

        def digest(self) -> bytes:
            return self.value

    monkeypatch.setattr(hashlib, "blake2b", lambda *_, **__: Digest(bytes(8)))
    assert assignment.unit_hash("champion", "k") == 2.0 ** -53
    monkeypatch.setattr(hashlib, "blake2b", lambda *_, **__: Digest(b"\x00" * 6 + b"\x10\x00"))
    assert assignment.unit_hash("champion", "k") == 1.5 * 2.0 ** -52
    # the highest hash stays below 1 (64 bits scaled to (0, 1) would round to 1.0 here)
    monkeypatch.setattr(hashlib, "blake2b", lambda *_, **__: Digest(b"\xff" * 8))
    assert assignment.unit_hash("champion", "k") == 1 - 2.0 ** -53 < 1.0


def test_unit_hash_and_key_digest_are_pinned() -> None:
    # Literal values: a change would move every user to another variant, and break the
    # correlation of key_hash across log lines written before and after it.
    assert unit_hash("champion", "user-1") == 0.5656674031441647
    assert key_digest("user-1") == "06a31ee9777def65"
    assert key_digest("user-2") != key_digest("user-1") and "user" not in key_digest("user-1")


def test_the_same_key_gets_the_same_variant_in_a_fresh_interpreter() -> None:
    keys = KEYS[:200]
    here = [keyed_variant(k, {"champion": 0.7, "challenger": 0.3}) for k in keys]
    code = ("import json, sys; from contract.assignment import keyed_variant; "
            "print(json.dumps([keyed_variant(k, {'champion': 0.7, 'challenger': 0.3}) "
            "for k in json.loads(sys.argv[1])]))")
    out = subprocess.run([sys.executable, "-c", code, json.dumps(keys)], cwd=ROOT, check=True,
                         capture_output=True, text=True, env={"PYTHONHASHSEED": "123", "PATH": ""})
    assert json.loads(out.stdout) == here


def assigning_service(**env: str) -> Any:
    settings = {k: v for k, v in BASE_ENV.items()}
    return load_service({**settings, "VARIANTS": json.dumps(VARIANTS), **env})


def invoke_once(service: Any, evt: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the InvokeEndpoint parameters the handler sent, its answer)."""
    sent: dict[str, Any] = {}
    with Stubber(service.runtime) as stubber:
        def record(params: dict[str, Any], **_: Any) -> None:
            sent.update(params)

        service.runtime.meta.events.register("provide-client-params.sagemaker-runtime.InvokeEndpoint",
                                             record)
        stubber.add_response("invoke_endpoint", ok_response("0.5\n0.25"))
        status, body, _ = call(service, evt)
        service.runtime.meta.events.unregister(
            "provide-client-params.sagemaker-runtime.InvokeEndpoint", record)
    assert status == 200, body
    return sent, body


ROWS = {"instances": [[1, 2, 3], [4, 5, 6]]}


def test_a_key_is_sticky_across_requests_and_a_new_service() -> None:
    service = assigning_service()
    service.weights = LiveWeights({"champion": 0.7, "challenger": 0.3}, None, ttl_seconds=30)
    for key in ("alice", "bob", "carol"):
        expected = keyed_variant(key, {"champion": 0.7, "challenger": 0.3})
        seen = {invoke_once(service, event({**ROWS, "assignment_key": key}))[0]["TargetVariant"]
                for _ in range(50)}
        assert seen == {expected}
        fresh = assigning_service()  # another Lambda instance, after a cold start
        fresh.weights = LiveWeights({"champion": 0.7, "challenger": 0.3}, None, ttl_seconds=30)
        sent, body = invoke_once(fresh, event({**ROWS, "assignment_key": key}))
        assert sent["TargetVariant"] == expected
        assert body["assignment"] == "keyed"


def test_how_a_request_was_assigned_is_in_the_answer_and_the_log(capsys: pytest.CaptureFixture[str]) -> None:
    service = assigning_service()
    service.weights = LiveWeights({"champion": 0.7, "challenger": 0.3}, None, ttl_seconds=30)
    sent, body = invoke_once(service, event({**ROWS, "target_variant": "challenger",
                                             "assignment_key": "alice"}))
    assert (sent["TargetVariant"], body["assignment"]) == ("challenger", "pinned")  # pin wins
    sent, body = invoke_once(service, event(ROWS))
    assert body["assignment"] == "random" and sent["TargetVariant"] in ("champion", "challenger")
    capsys.readouterr()
    invoke_once(service, event("1,2,3\n4,5,6", "text/csv", query={"assignment_key": "user@example.com"}))
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["assignment"] == "keyed" and line["weights"] == CONFIG
    assert line["key_hash"] == key_digest("user@example.com")
    assert "user@example.com" not in json.dumps(line)


def test_random_assignment_follows_the_weights() -> None:
    service = assigning_service()
    service.weights = LiveWeights({"champion": 0.7, "challenger": 0.3}, None, ttl_seconds=30)
    import random

    service.rng = random.Random(7)
    counts = Counter(service.assign(None, None)[0] for _ in range(2000))
    assert within_five_standard_errors(counts["champion"], 2000, 0.7), counts


@pytest.mark.parametrize(("target", "key", "code"), [
    ("nope", None, "unknown_target_variant"),
    (None, "", "invalid_assignment_key"),
    (None, "k" * 257, "invalid_assignment_key"),
])
def test_bad_assignment_fields_are_400s(target: str | None, key: str | None, code: str) -> None:
    service = assigning_service()
    doc: dict[str, Any] = dict(ROWS)
    if target is not None:
        doc["target_variant"] = target
    if key is not None:
        doc["assignment_key"] = key
    with Stubber(service.runtime):  # nothing may be sent
        status, body, _ = call(service, event(doc))
    assert (status, body["error"]["code"]) == (400, code)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_live_weights_are_cached_refreshed_and_fall_back() -> None:
    clock, answers = Clock(), [{"champion": 0.2, "challenger": 0.8}, WeightsUnavailable("throttled"),
                               TimeoutError("read timed out"), {"champion": 0.9, "other": 5.0}]

    def fetch() -> dict[str, float]:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    weights = LiveWeights({"champion": 0.7, "challenger": 0.3}, fetch, ttl_seconds=30, clock=clock)
    assert weights.current() == {"champion": 0.2, "challenger": 0.8} and weights.source == ENDPOINT
    clock.now += 29
    assert weights.current() == {"champion": 0.2, "challenger": 0.8} and weights.lookups == 1
    clock.now += 2
    assert weights.current() == {"champion": 0.2, "challenger": 0.8}  # throttled: last known
    assert (weights.source, weights.lookups) == (LAST_KNOWN, 2) and "throttled" in weights.last_error
    assert weights.current() == {"champion": 0.2, "challenger": 0.8} and weights.lookups == 2  # waits
    clock.now += 31
    weights.current()
    clock.now += 31
    assert weights.current() == {"champion": 0.9}  # variants this Lambda does not know are left out
    assert weights.lookups == 4


def test_failing_lookups_never_fail_a_request_and_a_cold_start_looks_up_once() -> None:
    service = assigning_service()
    calls: list[int] = []

    def broken() -> dict[str, float]:
        calls.append(1)
        raise PermissionError("AccessDeniedException")

    service.weights = LiveWeights({"champion": 0.7, "challenger": 0.3}, broken, ttl_seconds=30)
    for _ in range(20):
        sent, _ = invoke_once(service, event(ROWS))
        assert sent["TargetVariant"] in ("champion", "challenger")
    assert len(calls) == 1 and service.weights.source == CONFIG
    assert CONTEXT.aws_request_id  # the answers above were real handler answers
