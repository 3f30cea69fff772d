"""`xgbapi cost`: idle cost per variant from the shipped price table."""

from __future__ import annotations

import subprocess
import sys

import pytest

from contract.config import parse_config
from operations.cost import estimate, price_table, report, summary_line
from tests.conftest import ROOT


def config(variants: list[dict], **project):
    return parse_config({"project": {"prefix": "xgb-cost", **project}, "variants": variants,
                         "endpoint": {"volume_kms": False}}, base_dir=ROOT, resolve_models=False)


def variant(name: str, **settings) -> dict:
    return {"name": name, "manifest": f"runs/{name}/latest/manifest.json", "weight": 1, **settings}


def test_price_table_names_its_source_region_and_date():
    table = price_table()
    assert table.region == "us-east-1" and table.date == "2026-11-27"
    assert "pricing" in table.source
    assert table.per_instance_hour["ml.m5.large"] > 0


def test_instances_cost_count_times_hourly_rate_and_autoscaling_gives_a_range():
    rate = price_table().per_instance_hour
    costs = estimate(config([
        variant("champion", instance_type="ml.m5.large", instance_count=2),
        variant("challenger", instance_type="ml.c5.xlarge", instance_count=1, min_instances=1,
                max_instances=3, target_invocations_per_instance=500)]))
    assert (costs[0].hourly_low, costs[0].hourly_high) == pytest.approx((2 * rate["ml.m5.large"],) * 2)
    assert (costs[1].hourly_low, costs[1].hourly_high) == pytest.approx(
        (rate["ml.c5.xlarge"], 3 * rate["ml.c5.xlarge"]))
    assert costs[1].capacity == "1 x ml.c5.xlarge (autoscaling 1-3)"
    line = summary_line(config([variant("champion", instance_type="ml.m5.large", instance_count=2)]))
    monthly = 2 * rate["ml.m5.large"] * 730
    assert f"${2 * rate['ml.m5.large']:.3f}/hour, ${monthly:,.2f}/month" in line


def test_unknown_instance_types_are_reported_not_guessed():
    text = report(config([variant("champion", instance_type="ml.x9.large", instance_count=1)]))
    assert "ml.x9.large is not in the price table: no estimate" in text
    assert "no price for variant(s) champion" in text


def test_serverless_has_no_idle_cost_and_a_per_second_price():
    (cost,) = estimate(config([variant("champion", serverless={"memory_mb": 2048,
                                                                "max_concurrency": 10})]))
    assert (cost.hourly_low, cost.hourly_high) == (0.0, 0.0)
    assert cost.note.startswith(f"no idle cost; ${2 * price_table().serverless_per_gb_second:.6f} per second")


def test_report_warns_about_other_regions_and_says_how_to_tear_down():
    text = report(config([variant("champion", instance_type="ml.m5.large", instance_count=1)],
                         region="eu-west-1"))
    assert text.startswith("ESTIMATE of what endpoint xgb-cost-endpoint costs")
    assert "warning: the config deploys to eu-west-1; these are us-east-1 prices" in text
    assert "npx cdk destroy xgb-cost-api xgb-cost-inference" in text


def test_cli_prints_the_default_configs_estimate():
    result = subprocess.run([sys.executable, "-m", "cli", "cost", "--summary"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("estimated idle cost of xgb-demo-endpoint: $")
