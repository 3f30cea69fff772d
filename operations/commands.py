"""Commands that operate the deployed endpoint (status, traffic, ab-report) and price it (cost).

Registered on the one command line; boto3 and matplotlib load only when a command runs, so
``cost`` (which `make synth` prints a line of) answers in a fraction of a second.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from contract.config import DEFAULT_CONFIG_PATH
from contract.names import LOCAL_RUNTIME_PORT

DEFAULT_LOCAL_URL = f"http://127.0.0.1:{LOCAL_RUNTIME_PORT}"  # operations.endpoint's too


def _add_local(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--local", nargs="?", const=DEFAULT_LOCAL_URL, metavar="URL",
                        help="talk to the local runtime server (make serve-local) instead of AWS, "
                        f"at URL (default {DEFAULT_LOCAL_URL}); dummy credentials, no AWS account")


def register(commands: Any) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", default=DEFAULT_CONFIG_PATH,
                        help=f"the deployment config (default {DEFAULT_CONFIG_PATH})")
    common.add_argument("--region", help="AWS region (default: project.region of the config, then "
                        "AWS_REGION / AWS_DEFAULT_REGION, then us-east-1)")
    status = commands.add_parser(
        "status", parents=[common], help="endpoint status, variants, and whether the last update rolled back",
        description="Show the endpoint's status and variants, and compare the endpoint config it "
        "runs with the one the Inference stack expects (exit 1 when they differ: a rolled-back "
        "or out-of-band update). For each variant on a model record (record = "
        "\"models/<variant>.json\"), compare the live model's ModelDataUrl with the record's S3 "
        "URI: 'matches models/V.json', or 'DRIFT: runs <uri>, models/V.json says <uri>' and exit 1. "
        "With --local: the local runtime's state and weights only (no stack or records to "
        "compare), exit 0 when it answers.")
    _add_local(status)
    status.set_defaults(func=_endpoint)
    traffic = commands.add_parser(
        "traffic", parents=[common], help="show or shift variant weights at run time",
        description="Without options, show the weights. With --set / --instances, call "
        "UpdateEndpointWeightsAndCapacities (no new endpoint config, no redeploy) and print the "
        "config change that makes the new weights permanent.")
    traffic.add_argument("--set", action="append", metavar="VARIANT=WEIGHT", dest="weights",
                         help="new relative weight of a variant (repeat for each variant)")
    traffic.add_argument("--instances", action="append", metavar="VARIANT=COUNT",
                         help="new desired instance count of an instance variant")
    _add_local(traffic)
    traffic.set_defaults(func=_endpoint)
    report = commands.add_parser(
        "ab-report", parents=[common], help="per-variant metrics, offline metrics and a significance test",
        description="Per-variant invocations, 5XX error rate and mean model latency from CloudWatch "
        "over a window, the offline metrics from each variant's manifest, a two-proportion z-test "
        "of each variant's error rate against the baseline, and a PNG chart.")
    report.add_argument("--hours", type=float, default=24.0, help="window length in hours (default 24)")
    report.add_argument("--baseline", help="variant to compare against (default: the first in the config)")
    report.add_argument("--alpha", type=float, default=0.05, help="significance level (default 0.05)")
    report.add_argument("--chart", type=Path, default=Path("ab-report.png"),
                        help="PNG chart path (default ab-report.png)")
    report.add_argument("--no-chart", action="store_true", help="print the table only")
    report.set_defaults(func=_endpoint)

    cost = commands.add_parser(
        "cost", help="estimated idle cost of the configured endpoint, per variant",
        description="An ESTIMATE of what the configured endpoint costs per hour and per month while "
        "it runs, from the price table in operations/prices.json (source, region and date printed).")
    cost.add_argument("--config", default=DEFAULT_CONFIG_PATH)
    cost.add_argument("--summary", action="store_true", help="one line (what make synth prints)")
    cost.set_defaults(func=_cost)


def _endpoint(args: argparse.Namespace) -> int:
    from operations import endpoint

    return endpoint.execute(args)


def _cost(args: argparse.Namespace) -> None:
    from contract.config import load_config
    from operations import cost

    config = load_config(args.config, resolve_models=False)
    print(cost.summary_line(config) if args.summary else cost.report(config))
