"""``xgbapi status|traffic|ab-report``: operate the deployed endpoint: status, traffic, ab-report.

- ``status``: the endpoint's state, the config it runs against the one the Inference stack
  expects (a mismatch means the last update rolled back, or someone changed the endpoint
  outside CloudFormation), each variant's current / desired weight and capacity, and for a
  variant on a model record whether the live model serves the record's S3 artifact and that
  object is still the one promoted (its ETag and size; drift otherwise).
- ``traffic``: show the weights, or shift them at run time (UpdateEndpointWeightsAndCapacities)
  and print the config change that makes the shift permanent.
- ``ab-report``: per-variant invocations, error rate and latency from CloudWatch over a window,
  the offline metrics from the variants' manifests, a two-proportion z-test on the error
  rates, as a table and a PNG chart.

The deployment config is read with :func:`contract.config.load_config` and manifests through it
(contract.manifest); nothing here parses either. ``status`` exits 1 when the endpoint is not on
the stack's config or a live model's artifact differs from its record (another URI, or the
object at the record's URI overwritten or deleted since promote).

``status --local [URL]`` and ``traffic --local [URL]`` talk to the local runtime server (``make
serve-local``, default http://127.0.0.1:8081) instead of AWS: :func:`local_clients` is the
client factory, with dummy credentials, one attempt and short timeouts, and its failures end as
one CliError that says how to start the server. ``status --local`` shows the endpoint's state
and weights only: there is no CloudFormation stack, endpoint config or model record locally.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from contract.config import AppConfig, load_config
from contract.errors import CliError
from contract.model_record import ModelRecord
from contract.names import DEFAULT_REGION, SAGEMAKER_NAMESPACE, Component
from deployed.aws import aws_call, aws_errors
from operations.commands import DEFAULT_LOCAL_URL

EXIT_OUT_OF_SYNC = 1
ENDPOINT_CONFIG_TYPE = "AWS::SageMaker::EndpointConfig"
ClientFactory = Callable[[str, str], Any]  # (service, region) -> boto3 client


@functools.cache
def _session(region: str) -> Any:
    import boto3

    return boto3.Session(region_name=region)  # one per region: loads the service models once


def _boto3_client(service: str, region: str) -> Any:
    return _session(region).client(service)


# --- the local runtime (xgbapi serve) as the endpoint ----------------------------------------

LOCAL_ACCESS_KEY = LOCAL_SECRET_KEY = "local"  # the local runtime checks SigV4 with these
LOCAL_START_FIX = ("start it with make serve-local (xgbapi serve --config <this config>), or pass "
                   "the runtime URL it prints: --local http://127.0.0.1:<runtime port>")


def local_clients(url: str) -> ClientFactory:
    """A ClientFactory whose clients talk to the local runtime server at ``url``: the SageMaker
    API only (the runtime answers DescribeEndpoint and UpdateEndpointWeightsAndCapacities),
    dummy credentials, one attempt, 2 s to connect and 10 s to answer. A bad URL, a server that
    is not running or does not serve the config's endpoint is one CliError with the fix."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname) and (
            parts.port is None or parts.port > 0)
    except ValueError:  # e.g. a port that is not a number
        valid = False
    if not valid:
        raise CliError(f"--local {url!r} is not an http URL of the local runtime",
                       f"write e.g. --local {DEFAULT_LOCAL_URL}, or --local alone for that default")
    base = url.rstrip("/")

    def factory(service: str, region: str) -> Any:
        if service != "sagemaker":  # status --local never asks; a guard for future commands
            raise CliError(f"the local runtime does not serve the {service} API",
                           "run the command without --local against AWS")
        import botocore.session
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError

        try:
            client = botocore.session.Session().create_client(
                "sagemaker", region_name=region, endpoint_url=base,
                aws_access_key_id=LOCAL_ACCESS_KEY, aws_secret_access_key=LOCAL_SECRET_KEY,
                config=Config(retries={"total_max_attempts": 1}, connect_timeout=2, read_timeout=10))
        except BotoCoreError as error:  # e.g. AWS_PROFILE names a profile that does not exist
            raise CliError(f"cannot create a client for the local runtime at {base} ({error})",
                           "unset AWS_PROFILE or fix ~/.aws/config, then retry") from None
        return _LocalClient(client, base)

    return factory


class _LocalClient:
    """A botocore client of the local runtime whose failures are CliErrors naming the server."""

    def __init__(self, client: Any, url: str) -> None:
        self._client = client
        self._url = url

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        if not callable(method):
            return method

        def call(*args: Any, **kwargs: Any) -> Any:
            from botocore.exceptions import ConnectionError as BotoConnectionError
            from botocore.exceptions import HTTPClientError, ReadTimeoutError

            try:
                return method(*args, **kwargs)
            except ReadTimeoutError:
                raise CliError(f"the local runtime at {self._url} did not answer {name} within "
                               "10 s", "check that the server is not stuck (restart make "
                               "serve-local)") from None
            except (BotoConnectionError, HTTPClientError) as error:
                raise CliError(f"cannot reach the local runtime at {self._url} ({error})",
                               LOCAL_START_FIX) from None
            except ClientError as error:
                raise CliError(f"{name} on the local runtime at {self._url} failed: "
                               f"{_error_text(error)}", self._fix(error)) from None

        return call

    def _fix(self, error: ClientError) -> str:
        detail = error.response.get("Error", {})
        code, message = str(detail.get("Code", "")), str(detail.get("Message", ""))
        if code == "ValidationException" and message.startswith("Could not find endpoint"):
            return ("serve this config there (xgbapi serve --config <this config>, or make "
                    "serve-local CONFIG=<this config>), or pass the --config it serves")
        if code in ("ValidationException", "ThrottlingException"):
            return "check the request (--help) and retry"
        return f"is {self._url} the local runtime (not the API front)? {LOCAL_START_FIX}"


def _error_text(error: ClientError) -> str:
    detail = error.response.get("Error", {})
    code = detail.get("Code") or error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return f"{code} {detail.get('Message', '')}".strip()


# --- shared ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class VariantState:
    name: str
    current_weight: float | None
    desired_weight: float | None
    current_instances: int | None
    desired_instances: int | None
    serverless: str | None  # "memory MB / max concurrency" of a serverless variant


def _call(what: str, function: Callable[..., Any], **kwargs: Any) -> Any:
    return aws_call(what, function, fix="check the endpoint name, the region (--region) and the "
                    "credentials' permissions", **kwargs)


def describe_variants(endpoint: dict[str, Any]) -> list[VariantState]:
    states = []
    for variant in endpoint.get("ProductionVariants", []):
        serverless = variant.get("CurrentServerlessConfig") or variant.get("DesiredServerlessConfig")
        states.append(VariantState(
            name=variant["VariantName"],
            current_weight=variant.get("CurrentWeight"),
            desired_weight=variant.get("DesiredWeight"),
            current_instances=variant.get("CurrentInstanceCount"),
            desired_instances=variant.get("DesiredInstanceCount"),
            serverless=(f"{serverless['MemorySizeInMB']} MB / {serverless['MaxConcurrency']}"
                        if serverless else None),
        ))
    return states


def _fmt(value: float | int | None, pattern: str = "{:.3f}") -> str:
    return "-" if value is None else pattern.format(value)


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows, strict=False)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)).rstrip()
             for row in [headers, *rows]]
    return "\n".join(lines)


def weight_table(config: AppConfig, states: Sequence[VariantState]) -> str:
    configured = {v.name: v.weight for v in config.variants}
    total_config = sum(configured.values()) or 1.0
    total_now = sum(s.current_weight or 0.0 for s in states) or 1.0
    rows = []
    for state in states:
        config_weight = configured.get(state.name)
        rows.append([
            state.name, _fmt(state.current_weight), f"{100 * (state.current_weight or 0) / total_now:.1f}%",
            _fmt(state.desired_weight),
            _fmt(config_weight) if config_weight is not None else "(not in config)",
            f"{100 * config_weight / total_config:.1f}%" if config_weight is not None else "-",
            state.serverless
            or f"{_fmt(state.current_instances, '{}')}/{_fmt(state.desired_instances, '{}')}",
        ])
    return _table(["variant", "weight", "share", "desired", "config", "config share",
                   "instances now/desired (or serverless)"], rows)


def weight_drift(config: AppConfig, states: Sequence[VariantState]) -> list[tuple[str, float, float]]:
    """(variant, config weight, endpoint weight) where the endpoint's share differs from the config's."""
    configured = {v.name: v.weight for v in config.variants}
    total_config = sum(configured.values()) or 1.0
    weights = {s.name: (s.desired_weight if s.desired_weight is not None else s.current_weight or 0.0)
               for s in states}
    total_now = sum(weights.values()) or 1.0
    drift = []
    for name, weight in weights.items():
        if name in configured and not math.isclose(weight / total_now, configured[name] / total_config,
                                                   abs_tol=1e-6):
            drift.append((name, configured[name], weight))
    return drift


def config_change(config: AppConfig, drift: Sequence[tuple[str, float, float]]) -> str:
    lines = [f"To make these weights permanent, change {config.source}:"]
    for name, old, new in drift:
        lines.append(f'  [[variants]] name = "{name}":  weight = {old:g}  ->  weight = {new:g}')
    lines.append("then commit it and deploy (make deploy). Until then the next deploy resets the "
                 "weights to the config's (DesiredWeight is never retained).")
    return "\n".join(lines)


# --- status ----------------------------------------------------------------------------------

def expected_endpoint_config(cloudformation: Any, stack: str) -> str | None:
    """The EndpointConfig the Inference stack created (its physical id), or None if there is none."""
    paginator = cloudformation.get_paginator("list_stack_resources")
    try:
        for page in paginator.paginate(StackName=stack):
            for resource in page["StackResourceSummaries"]:
                if resource["ResourceType"] == ENDPOINT_CONFIG_TYPE:
                    physical = str(resource.get("PhysicalResourceId") or "")
                    # CloudFormation reports the config's ARN; the endpoint names the config.
                    return physical.rsplit("/", 1)[-1] or None
    except ClientError as error:
        if "does not exist" in str(error):
            raise CliError(f"stack {stack} does not exist", "deploy the Inference stack (make deploy), "
                           "or pass --config/--region matching the deployment") from None
        raise
    return None


def print_weights(config: AppConfig, states: list[VariantState], *, drift_heading: str,
                  in_sync_message: str | None = None) -> None:
    """The variants' weights and counts, then the config change that makes any drift permanent."""
    print(weight_table(config, states))
    drift = weight_drift(config, states)
    if drift:
        print(f"\n{drift_heading}")
        print(config_change(config, drift))
    elif in_sync_message:
        print(f"\n{in_sync_message}")


def status(config: AppConfig, region: str, clients: ClientFactory, *,
           local_url: str | None = None) -> int:
    sagemaker = clients("sagemaker", region)
    endpoint = _call("DescribeEndpoint", sagemaker.describe_endpoint, EndpointName=config.endpoint_name)
    if local_url is not None:
        return local_status(config, endpoint, local_url)
    stack = config.stack_name(Component.INFERENCE)
    expected = _call("ListStackResources", expected_endpoint_config,
                     cloudformation=clients("cloudformation", region), stack=stack)
    running = endpoint["EndpointConfigName"]
    modified = endpoint.get("LastModifiedTime")
    print(f"endpoint {config.endpoint_name} ({region}): {endpoint['EndpointStatus']}"
          + (f", last modified {modified:%Y-%m-%d %H:%M:%S %Z}" if isinstance(modified, datetime) else ""))
    if endpoint.get("FailureReason"):
        print(f"failure reason: {endpoint['FailureReason']}")
    print(f"endpoint config: {running}")
    print(f"stack {stack} expects: {expected or '(no EndpointConfig in the stack)'}")
    in_sync = expected == running
    print("config in sync: " + ("yes" if in_sync else "NO"))
    print()
    print_weights(config, describe_variants(endpoint),
                  drift_heading="weights differ from the config (shifted with `traffic`?):")
    uses_records = any(m.record is not None for m in config.models)
    live = live_model_data(sagemaker, running) if uses_records else None
    s3 = clients("s3", region) if uses_records else None
    lines, model_drift = model_drift_lines(config, live, lambda uri: head_object(s3, uri))
    if uses_records:
        print("\nmodels (live endpoint vs the config's records):")
        print("\n".join(lines))
    if model_drift:
        print("\nWARNING: a live model does not serve its record's artifact: the endpoint was not "
              "deployed from these records (deploy them: make deploy), or it was changed outside "
              "CloudFormation, or the record's S3 object was overwritten or deleted after promote "
              "(promote the model again, review the new record and deploy it).")
    if not in_sync:
        print(f"\nWARNING: the endpoint runs {running}, not the stack's {expected}. The last update "
              "most likely rolled back (a guardrail alarm fired, or the new config failed), or the "
              "endpoint was changed outside CloudFormation. Check the FailureReason above, the stack "
              f"events of {stack} and the rollback alarms; fix, then deploy again.")
        return EXIT_OUT_OF_SYNC
    return EXIT_OUT_OF_SYNC if model_drift else 0


def local_status(config: AppConfig, endpoint: dict[str, Any], url: str) -> int:
    """``status --local``: the local endpoint's state and weights; 0 when it answered."""
    print(f"endpoint {config.endpoint_name} (local runtime {url}): {endpoint['EndpointStatus']}")
    print("skipped with --local: the stack's expected endpoint config (CloudFormation) and the "
          "model records (a local runtime has neither)")
    print()
    print_weights(config, describe_variants(endpoint),
                  drift_heading="weights differ from the config (shifted with `traffic --local`?):")
    return 0


def live_model_data(sagemaker: Any, endpoint_config: str) -> dict[str, str | None]:
    """Variant name -> the ModelDataUrl its model serves, in the endpoint config the endpoint runs."""
    described = _call("DescribeEndpointConfig", sagemaker.describe_endpoint_config,
                      EndpointConfigName=endpoint_config)
    result: dict[str, str | None] = {}
    for variant in described.get("ProductionVariants", []):
        model = _call("DescribeModel", sagemaker.describe_model, ModelName=variant["ModelName"])
        containers = model.get("Containers") or [{}]
        container: dict[str, Any] = model.get("PrimaryContainer") or containers[0]
        result[variant["VariantName"]] = container.get("ModelDataUrl")
    return result


def _shown(path: Path | None) -> str:
    if path is None:
        return "-"
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


_MISSING_OBJECT = {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}


def head_object(s3: Any, uri: str) -> tuple[str, int] | None:
    """(ETag without quotes, ContentLength) of the S3 object at ``uri``, or None if it is missing.

    Any other S3 failure (access denied, throttling, no credentials) is one CliError.
    """
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    with aws_errors(f"S3 HeadObject of {uri}", fix=(
            "check that the credentials may call s3:GetObject on the record's bucket (and "
            "s3:ListBucket: without it a missing object reads as access denied)")):
        try:
            head = s3.head_object(Bucket=bucket, Key=key)
        except ClientError as error:
            if str(error.response.get("Error", {}).get("Code")) in _MISSING_OBJECT:
                return None
            raise
    return str(head.get("ETag", "")).strip('"'), int(head.get("ContentLength", -1))


def object_change(record: ModelRecord, found: tuple[str, int] | None) -> str | None:
    """What differs between the S3 object (``found`` by :func:`head_object`) and the record."""
    artifact = record.artifact
    if found is None:
        return f"object at {artifact.s3_uri} is missing (deleted since promote)"
    etag, size = found
    changes = []
    if etag != artifact.etag:
        changes.append(f"etag {etag}, record says {artifact.etag}")
    if size != artifact.size_bytes:
        changes.append(f"size {size} bytes, record says {artifact.size_bytes}")
    if not changes:
        return None
    return f"object at {artifact.s3_uri} changed since promote: {'; '.join(changes)}"


def model_drift_lines(config: AppConfig, live: dict[str, str | None] | None,
                      head: Callable[[str], tuple[str, int] | None]) -> tuple[list[str], bool]:
    """One line per config variant comparing the live model data with its record; (lines, drift).

    ``live`` is None when no variant uses a record (nothing to compare, no lines, no AWS call).
    A variant whose live ModelDataUrl is the record's URI is also checked against the object in
    S3 (``head``, :func:`head_object`): an object overwritten or deleted since promote is drift.
    """
    if live is None:
        return [], False
    lines, drift = [], False
    for model in config.models:
        name, record = model.variant.name, model.record
        if record is None:
            lines.append(f"  {name}: no record (config uses a run)")
            continue
        path = _shown(model.variant.record_path)
        if name not in live:
            lines.append(f"  {name}: DRIFT: not on the endpoint, {path} says {record.artifact.s3_uri}")
            drift = True
        elif live[name] == record.artifact.s3_uri:
            change = object_change(record, head(record.artifact.s3_uri))
            if change is None:
                lines.append(f"  {name}: matches {path}")
            else:
                lines.append(f"  {name}: DRIFT: {change} ({path})")
                drift = True
        else:
            lines.append(f"  {name}: DRIFT: runs {live[name]}, {path} says {record.artifact.s3_uri}")
            drift = True
    return lines, drift


# --- traffic ---------------------------------------------------------------------------------

def _assignments(items: Sequence[str] | None, option: str, kind: type) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for item in items or ():
        name, sep, value = item.partition("=")
        try:
            number = kind(value)
        except ValueError:
            number = None
        if not sep or not name or number is None or number < 0 or (
                isinstance(number, float) and not math.isfinite(number)):
            raise CliError(f"{option} {item!r} is not NAME=VALUE with a number >= 0",
                           f"write e.g. {option} challenger={'0.9' if kind is float else '2'}")
        result[name] = number
    return result


def traffic(config: AppConfig, region: str, clients: ClientFactory, *, weights: Sequence[str] | None,
            instances: Sequence[str] | None, local_url: str | None = None) -> int:
    sagemaker = clients("sagemaker", region)
    endpoint = _call("DescribeEndpoint", sagemaker.describe_endpoint, EndpointName=config.endpoint_name)
    states = describe_variants(endpoint)
    new_weights = _assignments(weights, "--set", float)
    new_counts = _assignments(instances, "--instances", int)
    if new_weights or new_counts:
        known = {s.name for s in states}
        unknown = sorted((set(new_weights) | set(new_counts)) - known)
        if unknown:
            raise CliError(f"the endpoint has no variant {', '.join(unknown)}",
                           f"use one of {', '.join(sorted(known))}")
        final = {s.name: new_weights.get(s.name, s.desired_weight or 0.0) for s in states}
        if sum(final.values()) <= 0:
            raise CliError("these weights would send no traffic anywhere", "give one variant a weight > 0")
        if any(c < 1 for c in new_counts.values()):
            raise CliError("--instances must be at least 1", "use a whole number >= 1")
        serverless = sorted(s.name for s in states if s.serverless and s.name in new_counts)
        if serverless:
            raise CliError(f"{', '.join(serverless)} is serverless and has no instances",
                           "drop --instances for it")
        desired = []
        for name in sorted(set(new_weights) | set(new_counts)):
            entry: dict[str, Any] = {"VariantName": name}
            if name in new_weights:
                entry["DesiredWeight"] = new_weights[name]
            if name in new_counts:
                entry["DesiredInstanceCount"] = new_counts[name]
            desired.append(entry)
        _call("UpdateEndpointWeightsAndCapacities", sagemaker.update_endpoint_weights_and_capacities,
              EndpointName=config.endpoint_name, DesiredWeightsAndCapacities=desired)
        print(f"requested on {config.endpoint_name}: " + ", ".join(
            f"{d['VariantName']} " + " ".join(f"{k.removeprefix('Desired').lower()}={v:g}"
                                               for k, v in d.items() if k != "VariantName")
            for d in desired))
        if local_url is None:
            print("SageMaker applies it without a new endpoint config (status Updating, then InService).\n")
        else:
            print(f"The local runtime at {local_url} applies it at once (no Updating phase) and "
                  "routes by the new weights; they last until the server stops.\n")
        endpoint = _call("DescribeEndpoint", sagemaker.describe_endpoint, EndpointName=config.endpoint_name)
        states = describe_variants(endpoint)
    print_weights(config, states, drift_heading="WARNING: the endpoint's weights drift from the config:",
                  in_sync_message="weights match the config.")
    if new_counts and local_url is not None:
        print("The local runtime records instance counts but serves each variant with one model.")
    elif new_counts:
        print("Instance counts set here are kept across deploys only for endpoints with autoscaling "
              "(RetainAllVariantProperties); otherwise the next deploy applies the config's instance_count.")
    return 0


# --- ab-report -------------------------------------------------------------------------------

@dataclass(frozen=True)
class VariantReport:
    name: str
    invocations: float
    errors_5xx: float
    errors_4xx: float
    latency_ms: float | None  # mean ModelLatency over the window
    offline: dict[str, float]
    run_id: str

    @property
    def error_rate(self) -> float | None:
        return self.errors_5xx / self.invocations if self.invocations else None


@dataclass(frozen=True)
class ZTest:
    z: float
    p_value: float


def two_proportion_z_test(errors_a: float, total_a: float, errors_b: float, total_b: float) -> ZTest | None:
    """Two-sided two-proportion z-test with the pooled proportion; None when it is undefined."""
    if total_a <= 0 or total_b <= 0:
        return None
    pooled = (errors_a + errors_b) / (total_a + total_b)
    variance = pooled * (1 - pooled) * (1 / total_a + 1 / total_b)
    if variance <= 0:
        return None
    z = (errors_b / total_b - errors_a / total_a) / math.sqrt(variance)
    return ZTest(z=z, p_value=math.erfc(abs(z) / math.sqrt(2)))


def _period(window: timedelta) -> int:
    # GetMetricData returns at most 100,800 points per call; keep it to a few hundred per metric.
    seconds = window.total_seconds()
    return 60 if seconds <= 3 * 3600 else 300 if seconds <= 24 * 3600 else 3600


def fetch_metrics(cloudwatch: Any, endpoint_name: str, variants: Sequence[str], start: datetime,
                  end: datetime) -> dict[tuple[str, str], float]:
    """Sum of each (variant, metric:stat) over the window."""
    wanted = [("Invocations", "Sum"), ("Invocation5XXErrors", "Sum"), ("Invocation4XXErrors", "Sum"),
              ("ModelLatency", "Sum"), ("ModelLatency", "SampleCount")]
    period = _period(end - start)
    queries, keys = [], {}
    for v_index, variant in enumerate(variants):
        for m_index, (metric, stat) in enumerate(wanted):
            query_id = f"v{v_index}m{m_index}"
            keys[query_id] = (variant, f"{metric}:{stat}")
            queries.append({"Id": query_id, "ReturnData": True, "MetricStat": {
                "Metric": {"Namespace": SAGEMAKER_NAMESPACE, "MetricName": metric, "Dimensions": [
                    {"Name": "EndpointName", "Value": endpoint_name},
                    {"Name": "VariantName", "Value": variant}]},
                "Period": period, "Stat": stat}})
    totals = dict.fromkeys(keys.values(), 0.0)
    for offset in range(0, len(queries), 500):  # GetMetricData: at most 500 queries per call
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"MetricDataQueries": queries[offset:offset + 500],
                                      "StartTime": start, "EndTime": end}
            if token:
                kwargs["NextToken"] = token
            response = _call("GetMetricData", cloudwatch.get_metric_data, **kwargs)
            for result in response["MetricDataResults"]:
                totals[keys[result["Id"]]] += sum(result.get("Values", []))
            token = response.get("NextToken")
            if not token:
                break
    return totals


def ab_report(config: AppConfig, region: str, clients: ClientFactory, *, hours: float,
              baseline: str | None, alpha: float, chart: Path | None,
              now: datetime | None = None) -> int:
    if not config.has_models:
        raise CliError("the config's variants have no manifests yet", "train them first (make train)")
    names = [v.name for v in config.variants]
    baseline = baseline or names[0]
    if baseline not in names:
        raise CliError(f"--baseline {baseline} is not a variant of {config.source}",
                       f"use one of {', '.join(names)}")
    end = now or datetime.now(UTC)
    start = end - timedelta(hours=hours)
    totals = fetch_metrics(clients("cloudwatch", region), config.endpoint_name, names, start, end)
    reports = []
    for model in config.models:
        name = model.variant.name
        samples = totals[(name, "ModelLatency:SampleCount")]
        reports.append(VariantReport(
            name=name, invocations=totals[(name, "Invocations:Sum")],
            errors_5xx=totals[(name, "Invocation5XXErrors:Sum")],
            errors_4xx=totals[(name, "Invocation4XXErrors:Sum")],
            # ModelLatency is reported in microseconds.
            latency_ms=totals[(name, "ModelLatency:Sum")] / samples / 1000 if samples else None,
            offline=dict(model.manifest.metrics), run_id=model.manifest.source.run_id))
    base = next(r for r in reports if r.name == baseline)
    print(f"A/B report for {config.endpoint_name} ({region}), {start:%Y-%m-%d %H:%M} to "
          f"{end:%Y-%m-%d %H:%M} UTC ({hours:g} h); baseline {baseline}\n")
    offline_names = sorted({k for r in reports for k in r.offline})
    rows = []
    tests: dict[str, ZTest | None] = {}
    for report in reports:
        test = None if report is base else two_proportion_z_test(
            base.errors_5xx, base.invocations, report.errors_5xx, report.invocations)
        tests[report.name] = test
        verdict = ("(baseline)" if report is base else "n/a (no traffic or no errors)" if test is None
                   else f"z={test.z:+.2f} p={test.p_value:.4f} "
                   + ("SIGNIFICANT" if test.p_value < alpha else "not significant"))
        rows.append([report.name, report.run_id, f"{report.invocations:.0f}", f"{report.errors_5xx:.0f}",
                     _fmt(report.error_rate, "{:.3%}"), f"{report.errors_4xx:.0f}",
                     _fmt(report.latency_ms, "{:.1f}"),
                     *[_fmt(report.offline.get(k), "{:.4g}") for k in offline_names], verdict])
    print(_table(["variant", "model run", "invocations", "5xx", "5xx rate", "4xx", "latency ms",
                  *[f"offline {k}" for k in offline_names], f"5xx rate vs baseline (alpha {alpha:g})"],
                 rows))
    print("\nTwo-sided two-proportion z-test (pooled) on the 5XX error rates; offline metrics from "
          "each variant's manifest (test split).")
    print("Assignment: the preprocessing Lambda assigned each request a variant (target_variant "
          "pins it; an assignment_key keeps a user on one variant by weighted rendezvous hashing; "
          "other requests are random by the endpoint's live weights, read every 30 s) and invoked "
          "it with TargetVariant, so the per-variant metrics above are SageMaker's own. The "
          "handler's log line says how each request was assigned (assignment, key_hash).")
    if any(test is not None for test in tests.values()) and min(r.errors_5xx for r in reports) < 5:
        print("Note: fewer than 5 errors in a variant; the z-test's normal approximation is rough "
              "there, so widen the window (--hours) before deciding.")
    if chart is not None:
        write_chart(chart, reports, config.endpoint_name, hours)
        print(f"chart: {chart}")
    return 0


def write_chart(path: Path, reports: Sequence[VariantReport], endpoint: str, hours: float) -> None:
    try:
        import matplotlib
    except ImportError:
        raise CliError("matplotlib is not installed", "run make install, or pass --no-chart") from None
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    names = [r.name for r in reports]
    figure, axes = plt.subplots(1, 3, figsize=(12, 4))
    axes[0].bar(names, [r.invocations for r in reports], color="tab:blue")
    axes[0].set_title("Invocations")
    rates = [100 * (r.error_rate or 0.0) for r in reports]
    # 95% normal-approximation interval of each error rate.
    spans = [196 * math.sqrt(max(r.error_rate or 0.0, 0) * (1 - (r.error_rate or 0.0)) / r.invocations)
             if r.invocations else 0.0 for r in reports]
    lower = [min(rate, span) for rate, span in zip(rates, spans, strict=True)]  # a rate is >= 0
    axes[1].bar(names, rates, yerr=[lower, spans], capsize=6, color="tab:red")
    axes[1].set_title("5XX error rate (%, 95% CI)")
    axes[2].bar(names, [r.latency_ms or 0.0 for r in reports], color="tab:green")
    axes[2].set_title("Mean model latency (ms)")
    figure.suptitle(f"{endpoint}: last {hours:g} h")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)


# --- entry point ------------------------------------------------------------------------------

def resolve_region(explicit: str | None, config: AppConfig) -> str:
    return (explicit or config.region or os.environ.get("AWS_REGION")
            or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION)


def execute(args: Any, clients: ClientFactory | None = None) -> int:
    """Run ``status``, ``traffic`` or ``ab-report`` (parsed by ``operations.commands``)."""
    local_url: str | None = getattr(args, "local", None)
    if local_url is not None:
        local_url = local_url.rstrip("/")
        clients = clients or local_clients(local_url)
    clients = clients or _boto3_client
    config = load_config(args.config)
    region = resolve_region(args.region, config)
    if args.command == "status":
        return status(config, region, clients, local_url=local_url)
    if args.command == "traffic":
        return traffic(config, region, clients, weights=args.weights, instances=args.instances,
                       local_url=local_url)
    if not 0 < args.hours <= 24 * 455 or not 0 < args.alpha < 1:
        raise CliError("--hours must be in (0, 10920] (CloudWatch keeps 15 months) and --alpha in (0, 1)",
                       "e.g. --hours 24 --alpha 0.05")
    return ab_report(config, region, clients, hours=args.hours, baseline=args.baseline,
                     alpha=args.alpha, chart=None if args.no_chart else args.chart)
