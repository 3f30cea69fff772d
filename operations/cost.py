"""``xgbapi cost``: what the configured endpoint costs while it runs, before traffic.

An estimate from the price table shipped in ``operations/prices.json`` (its source, region and
date are printed with every estimate). Instance variants cost instance-hours whether or not
requests arrive; with autoscaling the range between the minimum and the maximum is shown.
Serverless variants have no idle cost and are priced per second of inference and per GB.
Unknown instance types are reported, never guessed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from contract.config import AppConfig, VariantConfig
from contract.names import Component

PRICES_FILE = Path(__file__).with_name("prices.json")


@dataclass(frozen=True)
class PriceTable:
    source: str
    region: str
    date: str
    hours_per_month: float
    per_instance_hour: dict[str, float]
    serverless_per_gb_second: float
    serverless_per_gb_processed: float


@cache
def price_table(path: Path = PRICES_FILE) -> PriceTable:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return PriceTable(source=data["_source"], region=data["_region"], date=data["_date"],
                      hours_per_month=float(data["hours_per_month"]),
                      per_instance_hour={k: float(v) for k, v in data["realtime_per_instance_hour"].items()},
                      serverless_per_gb_second=float(data["serverless_per_gb_second"]),
                      serverless_per_gb_processed=float(data["serverless_per_gb_processed"]))


@dataclass(frozen=True)
class VariantCost:
    name: str
    capacity: str
    hourly_low: float | None  # None: unknown instance type
    hourly_high: float | None
    note: str = ""


def variant_cost(variant: VariantConfig, prices: PriceTable) -> VariantCost:
    if variant.serverless is not None:
        memory_gb = variant.serverless.memory_mb / 1024
        per_second = memory_gb * prices.serverless_per_gb_second
        return VariantCost(variant.name, f"serverless {variant.serverless.memory_mb} MB, up to "
                           f"{variant.serverless.max_concurrency} concurrent", 0.0, 0.0,
                           f"no idle cost; ${per_second:.6f} per second of inference + "
                           f"${prices.serverless_per_gb_processed}/GB in and out")
    assert variant.instance_type is not None and variant.instance_count is not None
    rate = prices.per_instance_hour.get(variant.instance_type)
    low = high = variant.instance_count
    capacity = f"{variant.instance_count} x {variant.instance_type}"
    if variant.autoscaling is not None:
        low, high = variant.autoscaling.min_instances, variant.autoscaling.max_instances
        capacity += f" (autoscaling {low}-{high})"
    if rate is None:
        return VariantCost(variant.name, capacity, None, None,
                           f"{variant.instance_type} is not in the price table: no estimate")
    return VariantCost(variant.name, capacity, low * rate, high * rate)


def estimate(config: AppConfig, prices: PriceTable | None = None) -> list[VariantCost]:
    table = prices or price_table()
    return [variant_cost(variant, table) for variant in config.variants]


def _money(low: float | None, high: float | None, factor: float = 1.0) -> str:
    """Dollars; hourly figures (factor 1) keep the table's third decimal."""
    if low is None or high is None:
        return "unknown"
    digits = 3 if factor == 1.0 else 2
    if low == high:
        return f"${low * factor:,.{digits}f}"
    return f"${low * factor:,.{digits}f}-{high * factor:,.{digits}f}"


def summary_line(config: AppConfig, prices: PriceTable | None = None) -> str:
    """One line for `make synth`."""
    table = prices or price_table()
    return _total_line(config, table, estimate(config, table))


def _total_line(config: AppConfig, table: PriceTable, costs: list[VariantCost]) -> str:
    low = sum(c.hourly_low for c in costs if c.hourly_low is not None)
    high = sum(c.hourly_high for c in costs if c.hourly_high is not None)
    unknown = [c.name for c in costs if c.hourly_low is None]
    line = (f"estimated idle cost of {config.endpoint_name}: {_money(low, high)}/hour, "
            f"{_money(low, high, table.hours_per_month)}/month ({table.region} on-demand prices of "
            f"{table.date}; estimate only; details: xgbapi cost)")
    if unknown:
        line += f"; no price for variant(s) {', '.join(unknown)}"
    return line


def report(config: AppConfig, prices: PriceTable | None = None) -> str:
    table = prices or price_table()
    costs = estimate(config, table)
    lines = [f"ESTIMATE of what endpoint {config.endpoint_name} costs while it runs, idle or not",
             f"prices: {table.source}; region {table.region}; as of {table.date}"]
    if config.region and config.region != table.region:
        lines.append(f"warning: the config deploys to {config.region}; these are {table.region} "
                     "prices, which differ per region")
    width = max(len(c.capacity) for c in costs)
    lines.append(f"{'variant':<14}{'capacity':<{width + 2}}{'per hour':>16}{'per month':>20}")
    for cost in costs:
        lines.append(f"{cost.name:<14}{cost.capacity:<{width + 2}}"
                     f"{_money(cost.hourly_low, cost.hourly_high):>16}"
                     f"{_money(cost.hourly_low, cost.hourly_high, table.hours_per_month):>20}")
        if cost.note:
            lines.append(f"{'':<14}{cost.note}")
    lines.append(_total_line(config, table, costs))
    lines.append(f"Stop paying for the endpoint: npx cdk destroy {config.stack_name(Component.API)} "
                 f"{config.stack_name(Component.INFERENCE)} (the Data stack and its bucket stay).")
    return "\n".join(lines)
