"""The handler reads the endpoint's live weights over the wire (a signed DescribeEndpoint to the
local runtime's control plane): a `traffic` change moves the split within the cache time, and a
failing lookup (throttled, denied, timed out) never fails a request."""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

import pytest

from cli.main import main
from local.client import ApiClient
from local.stack import running

ROW = {"instances": [{"age": 0.01, "sex": 0.05, "bmi": 0.06, "bp": 0.02, "s1": -0.04, "s2": -0.03,
                      "s3": -0.04, "s4": -0.002, "s5": 0.02, "s6": -0.02}]}


def split(client: ApiClient, requests: int) -> Counter[str]:
    counts: Counter[str] = Counter()
    for _ in range(requests):
        status, _, body, _ = client.predict(ROW)
        assert status == 200, body
        assert body["assignment"] == "random"
        counts[body["variant"]] += 1
    return counts


def within_five_standard_errors(count: int, total: int, p: float) -> bool:
    return abs(count - total * p) <= 5 * (total * p * (1 - p)) ** 0.5


def test_a_traffic_change_moves_the_split_within_the_cache_time(deployment: Any,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    with running(deployment.config, seed=3, weights_ttl_seconds=1) as stack:
        client = ApiClient(stack.api_url)
        try:
            before = split(client, 400)
            assert within_five_standard_errors(before["champion"], 400, 0.7), before
            assert main(["traffic", "--config", str(deployment.config.source), "--local",
                         stack.runtime_url, "--set", "champion=0.2", "--set", "challenger=0.8"]) == 0
            time.sleep(1.1)  # the handler's cache time here (the Lambda's default is 30 s)
            after = split(client, 400)
        finally:
            client.close()
    assert within_five_standard_errors(after["challenger"], 400, 0.8), after
    assert "broken" not in before + after  # weight 0: reachable only by target_variant
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"msg"' in line]
    assert {line["weights"] for line in lines if line.get("weights")} == {"endpoint"}


@pytest.mark.parametrize("fault", [("ThrottlingException", 400), ("AccessDeniedException", 400),
                                   ("timeout", 3.0)])
def test_a_failing_weights_lookup_never_fails_a_request(deployment: Any, fault: tuple[str, Any],
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    # The Lambda's cache time: one lookup (the first request's) fails, the rest use the fallback.
    with running(deployment.config, seed=4, weights_ttl_seconds=30) as stack:
        stack.runtime.control_plane_fault = fault
        client = ApiClient(stack.api_url)
        try:
            counts = split(client, 60)
        finally:
            client.close()
    assert set(counts) <= {"champion", "challenger"} and sum(counts.values()) == 60
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"msg"' in line]
    assert {line["weights"] for line in lines} == {"config"}  # the config's 70/30
    assert all(line["status"] == 200 for line in lines)
