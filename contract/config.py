"""The deployment config: loaded from a TOML file and validated once, into typed objects.

``app.py`` (and every tool that needs the deployment's shape) calls :func:`load_config`;
everything downstream receives an :class:`AppConfig` and never re-validates. Every problem
is reported at once, each naming the field and the fix, so a user fixes a config in one pass.
Standard library only (see the ``contract`` package).
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeGuard

from contract import bucket_layout, model_record, names
from contract import manifest as manifest_module
from contract.documents import VARIANT_NAME
from contract.encoding import InputSpec
from contract.limits import LAMBDA_ENVIRONMENT_LIMIT_BYTES, MAX_VARIANTS
from contract.manifest import Manifest, ManifestError
from contract.model_record import ModelRecord, RecordError
from contract.request import AUTH_MODES, AuthMode

DEFAULT_CONFIG_PATH = "config/default.toml"
# The deploy config: the same endpoint on committed model records (what promote writes for).
DEPLOY_CONFIG_PATH = "config/deploy.toml"
# "none": no deployment policy on the endpoint (SageMaker's plain update). A blue/green update
# must keep the variant names, so a deploy that adds, removes or renames a variant uses it.
RolloutStrategy = Literal["all_at_once", "canary", "linear", "none"]
ROLLOUT_STRATEGIES: tuple[RolloutStrategy, ...] = ("all_at_once", "canary", "linear", "none")
# SageMaker's limits (API BlueGreenUpdatePolicy / TrafficRoutingConfig / ServerlessConfig).
WAIT_INTERVAL_RANGE = (0, 3600)
MAX_EXECUTION_TIMEOUT_RANGE = (600, 28800)
TERMINATION_WAIT_RANGE = (0, 3600)
CANARY_MAX_PERCENT = 50  # canary <= 50% of the new fleet
LINEAR_PERCENT_RANGE = (10, 50)  # each linear step 10-50% of the new fleet
SERVERLESS_MEMORY_MB = (1024, 2048, 3072, 4096, 5120, 6144)
SERVERLESS_CONCURRENCY_RANGE = (1, 200)
MAX_ROLLBACK_ALARMS = 10  # AutoRollbackConfiguration.Alarms: at most 10
ALARMS_PER_VARIANT = 2  # Invocation5XXErrors and ModelLatency
DATA_CAPTURE_PREFIX = bucket_layout.DATA_CAPTURE

_PREFIX = re.compile(r"^[a-z][a-z0-9-]{0,22}[a-z0-9]$")
_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_INSTANCE_TYPE = re.compile(
    r"^ml\.(?P<family>[a-z][a-z0-9-]*\d[a-z0-9-]*)\.(?P<size>medium|large|\d*xlarge|metal)$")
# Families whose instances carry local NVMe instance storage. SageMaker encrypts those disks in
# hardware and rejects a KmsKeyId for them. A "d" in the family's attribute suffix means
# instance storage (m5d, c6id, r5dn, g4dn, p4d, ...); the rest are listed by name.
_NVME_FAMILIES = {"g5", "g6", "g6e", "p5", "p5e", "p5en", "trn1", "trn1n"}
_NVME_SUFFIX = re.compile(r"^[a-z]+\d+[a-z-]*d[a-z-]*$")


class ConfigError(Exception):
    """One or more problems in the config; ``str()`` lists them all, one per line."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        listing = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"{source} is not a valid deployment config:\n{listing}")


@dataclass(frozen=True)
class ServerlessSettings:
    memory_mb: int
    max_concurrency: int


@dataclass(frozen=True)
class AutoscalingSettings:
    """Target tracking on SageMakerVariantInvocationsPerInstance between min and max instances."""

    min_instances: int
    max_instances: int
    target_invocations_per_instance: float


@dataclass(frozen=True)
class VariantConfig:
    """One production variant: a stable slot name (champion, challenger) and its capacity.

    Either instance-backed (``instance_type``/``instance_count``, optional ``autoscaling``) or
    serverless (``serverless`` set, the instance fields None).

    The model comes from a run manifest (``manifest = ...``, development) or a committed model
    record (``record = ...``, deploys). For a record, ``record_path`` is set and
    ``manifest_path`` is the same path.
    """

    name: str
    manifest_path: Path
    weight: float
    instance_type: str | None
    instance_count: int | None
    autoscaling: AutoscalingSettings | None = None
    serverless: ServerlessSettings | None = None
    record_path: Path | None = None

    @property
    def uses_record(self) -> bool:
        return self.record_path is not None


@dataclass(frozen=True)
class VariantModel:
    """A variant together with the manifest of the model it serves (and its record, if any)."""

    variant: VariantConfig
    manifest: Manifest
    record: ModelRecord | None = None

    @property
    def artifact_path(self) -> Path | None:
        return manifest_module.artifact_path(self.manifest, self.variant.manifest_path)


@dataclass(frozen=True)
class StepSize:
    """A canary or linear step: a percentage of the new fleet or a number of instances."""

    unit: Literal["percent", "instances"]
    value: int

    @property
    def cfn_type(self) -> str:
        return "CAPACITY_PERCENT" if self.unit == "percent" else "INSTANCE_COUNT"

    def __str__(self) -> str:
        return f"{self.value}%" if self.unit == "percent" else f"{self.value} instance(s)"


@dataclass(frozen=True)
class RolloutSettings:
    """How CloudFormation's endpoint update shifts traffic (SageMaker blue/green deployment)."""

    strategy: RolloutStrategy = "all_at_once"
    canary_size: StepSize = StepSize("percent", 10)
    linear_step_size: StepSize = StepSize("percent", 20)
    wait_seconds: int = 300
    max_execution_seconds: int = 3600
    termination_wait_seconds: int = 0
    # Auto-rollback on the per-variant alarms, and the variant-slot check at synth.
    guardrails: bool = False
    # The variant names deployed now, committed by the user (see README "Safe rollouts").
    variant_slots: tuple[str, ...] = ()
    alarm_5xx_errors: int = 1  # Invocation5XXErrors per minute (Sum) that trips the alarm
    alarm_model_latency_ms: float = 1000.0  # ModelLatency average per minute that trips it


@dataclass(frozen=True)
class DataCaptureSettings:
    sampling_percentage: int = 100
    prefix: str = DATA_CAPTURE_PREFIX
    kms: bool = True


@dataclass(frozen=True)
class EndpointSettings:
    # Encrypt the ML storage volume of every instance with the project's KMS key.
    volume_kms: bool = True
    rollout: RolloutSettings = RolloutSettings()
    data_capture: DataCaptureSettings | None = None
    # Serve only models approved in the model registry: every variant names a record whose
    # registry entry is "Approved" (xgbapi refresh-approval updates it); checked at load, no AWS call.
    require_approved_models: bool = False


@dataclass(frozen=True)
class ApiSettings:
    auth: AuthMode = "iam"
    throttle_rate_limit: float = 50.0
    throttle_burst_limit: int = 100
    log_retention_days: int = 90


@dataclass(frozen=True)
class AppConfig:
    source: str
    prefix: str
    account: str | None
    region: str | None
    variants: tuple[VariantConfig, ...]
    endpoint: EndpointSettings
    api: ApiSettings
    # Empty until the variants are trained: then only the Data stack is synthesized.
    models: tuple[VariantModel, ...]

    @property
    def has_models(self) -> bool:
        return bool(self.models)

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self.models[0].manifest.feature_names if self.models else ()

    @property
    def input_spec(self) -> InputSpec | None:
        """The first variant's input spec (the others may differ: see handler_variants)."""
        return self.models[0].manifest.input_spec if self.models else None

    @property
    def handler_variants(self) -> tuple[tuple[str, float, InputSpec], ...]:
        """What the Lambda assigns and encodes for: each variant's name, weight and input spec."""
        return tuple((m.variant.name, m.variant.weight, m.manifest.input_spec) for m in self.models)

    @property
    def model_region(self) -> str | None:
        return self.models[0].manifest.region if self.models else None

    def stack_name(self, component: str) -> str:
        return names.stack_name(self.prefix, component)

    @property
    def endpoint_name(self) -> str:
        return names.endpoint_name(self.prefix)

    def next_steps(self) -> str:
        missing = ", ".join(str(v.manifest_path) for v in self.variants)
        if any(v.uses_record for v in self.variants):
            return (
                f"No model record found ({missing}). Synthesized the Data stack only. Next: "
                "deploy it (make deploy), train the variants (make train), promote each "
                "(xgbapi promote --variant <name>), commit models/, then synthesize again."
            )
        return (
            f"No trained model found ({missing}). Synthesized the Data stack only. Next: "
            "deploy it (make deploy), train the variants (make train), then synthesize again."
        )


# Allowed keys per table; anything else is a typo the user wants to hear about.
_KEYS = {
    "<top level>": {"project", "endpoint", "api", "variants"},
    "project": {"prefix", "account", "region"},
    "endpoint": {"volume_kms", "rollout", "data_capture", "require_approved_models"},
    "rollout": {"strategy", "canary_size", "linear_step_size", "wait_seconds",
                "max_execution_seconds", "termination_wait_seconds", "guardrails", "variant_slots",
                "alarm_5xx_errors", "alarm_model_latency_ms"},
    "data_capture": {"sampling_percentage", "prefix", "kms"},
    "api": {"auth", "allow_unauthenticated", "throttle_rate_limit", "throttle_burst_limit",
            "log_retention_days"},
    "variant": {"name", "manifest", "record", "weight", "instance_type", "instance_count", "min_instances",
                "max_instances", "target_invocations_per_instance", "serverless"},
    "serverless": {"memory_mb", "max_concurrency"},
}
# CloudWatch Logs accepts only these retention periods (days -> aws_logs.RetentionDays name).
LOG_RETENTION_NAMES = {
    1: "ONE_DAY", 3: "THREE_DAYS", 5: "FIVE_DAYS", 7: "ONE_WEEK", 14: "TWO_WEEKS",
    30: "ONE_MONTH", 60: "TWO_MONTHS", 90: "THREE_MONTHS", 120: "FOUR_MONTHS",
    150: "FIVE_MONTHS", 180: "SIX_MONTHS", 365: "ONE_YEAR", 400: "THIRTEEN_MONTHS",
    545: "EIGHTEEN_MONTHS", 731: "TWO_YEARS", 1096: "THREE_YEARS", 1827: "FIVE_YEARS",
    2192: "SIX_YEARS", 2557: "SEVEN_YEARS", 2922: "EIGHT_YEARS", 3288: "NINE_YEARS",
    3653: "TEN_YEARS",
}


def load_config(path: str | Path = DEFAULT_CONFIG_PATH, *, base_dir: Path | None = None,
                resolve_models: bool = True) -> AppConfig:
    """Read, validate and resolve the config at ``path``; raise ConfigError listing every problem.

    Manifest paths are relative to ``base_dir`` (default: the current directory, the project
    root when run through the Makefile or cdk). ``resolve_models=False`` validates the config
    alone and leaves ``models`` empty: for tools that are about to train those models.
    """
    source = str(path)
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(source, [f"file not found; copy {DEFAULT_CONFIG_PATH} and edit it, or "
                                   "name another config (--config PATH; cdk: -c config=PATH)"]) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(source, [f"is not valid TOML: {error}"]) from None
    return parse_config(raw, source=source, base_dir=base_dir or Path.cwd(),
                        resolve_models=resolve_models)


def parse_config(raw: dict[str, Any], *, source: str = "<config>", base_dir: Path,
                 resolve_models: bool = True) -> AppConfig:
    problems: list[str] = []
    _check_keys(raw, "<top level>", "<top level>", problems)

    project = _table(raw, "project", problems)
    _check_keys(project, "project", "project", problems)
    prefix = project.get("prefix")
    if not isinstance(prefix, str) or not _PREFIX.match(prefix):
        problems.append(f"project.prefix: {prefix!r} must be 2-24 characters of lowercase letters, "
                        "digits and hyphens, starting with a letter (it names stacks and the endpoint)")
    account = project.get("account")
    if account is not None and (not isinstance(account, str) or not _ACCOUNT.match(account)):
        problems.append(f"project.account: {account!r} must be a 12-digit AWS account id as a "
                        "string, or left out for an environment-agnostic app")
    region = project.get("region")
    if region is not None and (not isinstance(region, str) or not _REGION.match(region)):
        problems.append(f"project.region: {region!r} must be a region name like us-east-1, or "
                        "left out for an environment-agnostic app")

    endpoint_raw = _table(raw, "endpoint", problems)
    _check_keys(endpoint_raw, "endpoint", "endpoint", problems)
    volume_kms = endpoint_raw.get("volume_kms", True)
    if not isinstance(volume_kms, bool):
        problems.append("endpoint.volume_kms: must be true or false")
        volume_kms = True
    rollout = _parse_rollout(_table(endpoint_raw, "rollout", problems, "endpoint.rollout"), problems)
    data_capture = _parse_data_capture(endpoint_raw, problems)
    require_approved = endpoint_raw.get("require_approved_models", False)
    if not isinstance(require_approved, bool):
        problems.append("endpoint.require_approved_models: must be true or false")
        require_approved = False
    endpoint = EndpointSettings(volume_kms=volume_kms, rollout=rollout, data_capture=data_capture,
                                require_approved_models=require_approved)

    api = _parse_api(_table(raw, "api", problems), problems)
    variants = _parse_variants(raw.get("variants"), base_dir, volume_kms, problems)
    if variants and len(variants) == len(raw.get("variants") or []):
        _check_endpoint_against_variants(endpoint, variants, problems)

    if problems:
        raise ConfigError(source, problems)
    assert isinstance(prefix, str)
    models = _resolve_models(variants, region, problems) if resolve_models else ()
    if models:
        _check_lambda_environment(models, prefix, problems)
        if endpoint.require_approved_models:
            _check_approved(models, problems)
    if problems:
        raise ConfigError(source, problems)
    return AppConfig(source=source, prefix=prefix, account=account, region=region,
                     variants=variants, endpoint=endpoint, api=api, models=models)


def _table(raw: dict[str, Any], name: str, problems: list[str], where: str | None = None) -> dict[str, Any]:
    value = raw.get(name, {})
    if not isinstance(value, dict):
        where = where or name
        problems.append(f"{where}: must be a table ([{where}])")
        return {}
    return value


def _check_keys(table: dict[str, Any], kind: str, where: str, problems: list[str]) -> None:
    for key in sorted(set(table) - _KEYS[kind]):
        allowed = ", ".join(sorted(_KEYS[kind]))
        problems.append(f"{where}.{key}: unknown setting; allowed here: {allowed}")


def _parse_api(table: dict[str, Any], problems: list[str]) -> ApiSettings:
    _check_keys(table, "api", "api", problems)
    defaults = ApiSettings()
    auth = table.get("auth", defaults.auth)
    if auth not in AUTH_MODES:
        problems.append(f"api.auth: {auth!r} must be one of {', '.join(AUTH_MODES)}")
        auth = defaults.auth
    if auth == "none" and table.get("allow_unauthenticated") is not True:
        problems.append('api.auth: "none" leaves the prediction API open to the internet; '
                        "also set api.allow_unauthenticated = true to confirm, or use iam/api_key")
    rate = table.get("throttle_rate_limit", defaults.throttle_rate_limit)
    if not _is_number(rate) or not 0 < rate <= 10000:
        problems.append(f"api.throttle_rate_limit: {rate!r} must be a number of requests per "
                        "second in (0, 10000] (the account's default API Gateway limit)")
        rate = defaults.throttle_rate_limit
    burst = table.get("throttle_burst_limit", defaults.throttle_burst_limit)
    if not isinstance(burst, int) or isinstance(burst, bool) or not 0 < burst <= 5000:
        problems.append(f"api.throttle_burst_limit: {burst!r} must be a whole number in (0, 5000]")
        burst = defaults.throttle_burst_limit
    retention = table.get("log_retention_days", defaults.log_retention_days)
    if retention not in LOG_RETENTION_NAMES or isinstance(retention, bool):
        allowed = ", ".join(str(d) for d in LOG_RETENTION_NAMES)
        problems.append(f"api.log_retention_days: {retention!r} is not a CloudWatch Logs "
                        f"retention period; use one of {allowed}")
        retention = defaults.log_retention_days
    return ApiSettings(auth=auth, throttle_rate_limit=float(rate), throttle_burst_limit=burst,
                       log_retention_days=retention)


def _parse_variants(items: Any, base_dir: Path, volume_kms: bool,
                    problems: list[str]) -> tuple[VariantConfig, ...]:
    if not isinstance(items, list) or not items:
        problems.append("variants: at least one [[variants]] entry is required")
        return ()
    if len(items) > MAX_VARIANTS:
        problems.append(f"variants: {len(items)} variants configured; SageMaker allows at most "
                        f"{MAX_VARIANTS} per endpoint config")
    variants: list[VariantConfig] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        where = f"variants[{index}]"
        if not isinstance(item, dict):
            problems.append(f"{where}: must be a table ([[variants]])")
            continue
        _check_keys(item, "variant", where, problems)
        count_before = len(problems)
        name = item.get("name")
        if not isinstance(name, str) or not VARIANT_NAME.match(name):
            problems.append(f"{where}.name: {name!r} is not a SageMaker variant name: 1-63 "
                            "letters, digits and single hyphens, starting and ending alphanumeric")
        elif name.lower() in seen:
            problems.append(f"{where}.name: {name!r} duplicates variants[{seen[name.lower()]}]; "
                            "variant names must be unique (case-insensitive)")
        else:
            seen[name.lower()] = index
        manifest, record = item.get("manifest"), item.get("record")
        if "manifest" in item and "record" in item:
            problems.append(f"{where}: manifest and record exclude each other; keep record = "
                            '"models/<variant>.json" (a promoted model, for deploys) or manifest = '
                            '"runs/<variant>/latest/manifest.json" (a local run, for development)')
        elif "record" in item:
            if not isinstance(record, str) or not record.endswith(".json"):
                problems.append(f"{where}.record: {record!r} must be the path of the variant's "
                                'model record, e.g. "models/<variant>.json" (xgbapi promote writes it)')
        elif "manifest" in item:
            if not isinstance(manifest, str) or not manifest:
                problems.append(f"{where}.manifest: must be the path of the variant's manifest.json")
        else:
            problems.append(f"{where}: names no model; add record = \"models/<variant>.json\" (a "
                            "promoted model, written by xgbapi promote) or manifest = "
                            '"runs/<variant>/latest/manifest.json" (a local run)')
        weight = item.get("weight")
        if not _is_number(weight) or weight < 0:
            problems.append(f"{where}.weight: {weight!r} must be a number >= 0 (weights are "
                            "relative shares of traffic)")
        serverless = _parse_serverless(item, where, problems) if "serverless" in item else None
        instance_type: Any = None
        count: Any = None
        autoscaling = None
        if "serverless" not in item:
            instance_type = item.get("instance_type", "ml.m5.large")
            match = _INSTANCE_TYPE.match(instance_type) if isinstance(instance_type, str) else None
            if match is None:
                problems.append(f"{where}.instance_type: {instance_type!r} is not a SageMaker instance "
                                "type; use the form ml.<family>.<size>, e.g. ml.m5.large")
            elif volume_kms and _has_instance_storage(match["family"]):
                problems.append(
                    f"{where}.instance_type: {instance_type} has NVMe instance storage, which SageMaker "
                    "encrypts in hardware and for which it rejects a KMS volume key; pick an EBS-only "
                    "type (e.g. ml.m5.large) or set endpoint.volume_kms = false")
            count = item.get("instance_count", 1)
            if not _is_whole(count) or count < 1:
                problems.append(f"{where}.instance_count: {count!r} must be a whole number >= 1")
            else:
                autoscaling = _parse_autoscaling(item, where, count, problems)
        if len(problems) == count_before:
            assert isinstance(name, str) and _is_number(weight)
            record_path = base_dir / record if isinstance(record, str) else None
            model_file = record_path if record_path is not None else base_dir / str(manifest)
            variants.append(VariantConfig(
                name=name, manifest_path=model_file, weight=float(weight),
                instance_type=instance_type, instance_count=count, autoscaling=autoscaling,
                serverless=serverless, record_path=record_path))
    if variants and len(variants) == len(items) and sum(v.weight for v in variants) <= 0:
        problems.append("variants: every weight is 0, so no variant would receive traffic; give "
                        "at least one variant a positive weight")
    return tuple(variants)


def _parse_serverless(item: dict[str, Any], where: str, problems: list[str]) -> ServerlessSettings | None:
    table = item["serverless"]
    if not isinstance(table, dict):
        problems.append(f"{where}.serverless: must be a table like "
                        "{memory_mb = 2048, max_concurrency = 20}")
        return None
    _check_keys(table, "serverless", f"{where}.serverless", problems)
    count_before = len(problems)
    instance_keys = sorted(set(item) & {"instance_type", "instance_count", "min_instances",
                                          "max_instances", "target_invocations_per_instance"})
    if instance_keys:
        problems.append(f"{where}: serverless and {', '.join(instance_keys)} exclude each other (a "
                        "serverless variant has no instances to size or autoscale); remove one or the other")
    memory = table.get("memory_mb")
    if memory not in SERVERLESS_MEMORY_MB or isinstance(memory, bool):
        problems.append(f"{where}.serverless.memory_mb: {memory!r} must be one of "
                        f"{', '.join(str(m) for m in SERVERLESS_MEMORY_MB)} (SageMaker's 1 GB steps)")
    concurrency = table.get("max_concurrency")
    low, high = SERVERLESS_CONCURRENCY_RANGE
    if not _is_whole(concurrency) or not low <= concurrency <= high:
        problems.append(f"{where}.serverless.max_concurrency: {concurrency!r} must be a whole number "
                        f"in {low}-{high}")
    if len(problems) != count_before:
        return None
    assert isinstance(memory, int) and isinstance(concurrency, int)
    return ServerlessSettings(memory_mb=memory, max_concurrency=concurrency)


def _parse_autoscaling(item: dict[str, Any], where: str, count: int,
                       problems: list[str]) -> AutoscalingSettings | None:
    keys = {"min_instances", "max_instances", "target_invocations_per_instance"}
    if not keys & set(item):
        return None
    count_before = len(problems)
    for key in ("max_instances", "target_invocations_per_instance"):
        if key not in item:
            problems.append(f"{where}.{key}: autoscaling needs max_instances and "
                            "target_invocations_per_instance (min_instances defaults to 1); set it")
    minimum = item.get("min_instances", 1)
    maximum = item.get("max_instances", count)
    target = item.get("target_invocations_per_instance", 1)
    if not _is_whole(minimum) or minimum < 1:
        problems.append(f"{where}.min_instances: {minimum!r} must be a whole number >= 1")
    if not _is_whole(maximum) or maximum < 1:
        problems.append(f"{where}.max_instances: {maximum!r} must be a whole number >= 1")
    if not _is_number(target) or target <= 0:
        problems.append(f"{where}.target_invocations_per_instance: {target!r} must be a number > 0 "
                        "(invocations per instance per minute)")
    if len(problems) != count_before:
        return None
    if not minimum <= count <= maximum:
        problems.append(f"{where}: instance_count {count} must lie within min_instances {minimum} and "
                        f"max_instances {maximum}; it is the count the variant starts with")
        return None
    return AutoscalingSettings(min_instances=minimum, max_instances=maximum,
                               target_invocations_per_instance=float(target))


def _parse_step(table: dict[str, Any], key: str, default: StepSize, problems: list[str]) -> StepSize:
    value = table.get(key)
    if value is None:
        return default
    if _is_whole(value) and value >= 1:
        return StepSize("instances", value)
    if isinstance(value, str) and re.fullmatch(r"\d{1,3}%", value.strip()):
        return StepSize("percent", int(value.strip()[:-1]))
    problems.append(f"endpoint.rollout.{key}: {value!r} must be a percentage of the new fleet like "
                    '"20%" or a whole number of instances like 1')
    return default


def _parse_seconds(table: dict[str, Any], key: str, default: int, bounds: tuple[int, int],
                   problems: list[str]) -> int:
    value = table.get(key, default)
    low, high = bounds
    if not _is_whole(value) or not low <= value <= high:
        problems.append(f"endpoint.rollout.{key}: {value!r} must be a whole number of seconds in "
                        f"{low}-{high} (SageMaker's limit)")
        return default
    return int(value)


def _parse_rollout(table: dict[str, Any], problems: list[str]) -> RolloutSettings:
    _check_keys(table, "rollout", "endpoint.rollout", problems)
    defaults = RolloutSettings()
    strategy = table.get("strategy", defaults.strategy)
    if strategy not in ROLLOUT_STRATEGIES:
        problems.append(f"endpoint.rollout.strategy: {strategy!r} must be one of "
                        f"{', '.join(ROLLOUT_STRATEGIES)}")
        strategy = defaults.strategy
    canary = _parse_step(table, "canary_size", defaults.canary_size, problems)
    linear = _parse_step(table, "linear_step_size", defaults.linear_step_size, problems)
    for key, wanted in (("canary_size", "canary"), ("linear_step_size", "linear")):
        if key in table and strategy != wanted:
            problems.append(f"endpoint.rollout.{key}: only applies to strategy = \"{wanted}\"; remove "
                            f"it or set the strategy")
    if canary.unit == "percent" and not 1 <= canary.value <= CANARY_MAX_PERCENT:
        problems.append(f"endpoint.rollout.canary_size: {canary} is over SageMaker's limit; a canary "
                        f"is at most {CANARY_MAX_PERCENT}% of the new fleet")
    low, high = LINEAR_PERCENT_RANGE
    if linear.unit == "percent" and not low <= linear.value <= high:
        problems.append(f"endpoint.rollout.linear_step_size: {linear} is outside SageMaker's limits; "
                        f"each linear step is {low}-{high}% of the new fleet")
    wait = _parse_seconds(table, "wait_seconds", defaults.wait_seconds, WAIT_INTERVAL_RANGE, problems)
    timeout = _parse_seconds(table, "max_execution_seconds", defaults.max_execution_seconds,
                             MAX_EXECUTION_TIMEOUT_RANGE, problems)
    termination = _parse_seconds(table, "termination_wait_seconds", defaults.termination_wait_seconds,
                                 TERMINATION_WAIT_RANGE, problems)
    guardrails = table.get("guardrails", defaults.guardrails)
    if not isinstance(guardrails, bool):
        problems.append("endpoint.rollout.guardrails: must be true or false")
        guardrails = defaults.guardrails
    slots = table.get("variant_slots", [])
    if not isinstance(slots, list) or not all(isinstance(n, str) for n in slots):
        problems.append("endpoint.rollout.variant_slots: must be a list of variant names, e.g. "
                        '["champion", "challenger"]')
        slots = []
    errors = table.get("alarm_5xx_errors", defaults.alarm_5xx_errors)
    if not _is_whole(errors) or errors < 1:
        problems.append(f"endpoint.rollout.alarm_5xx_errors: {errors!r} must be a whole number >= 1 "
                        "(5XX errors per minute that trip the rollback alarm)")
        errors = defaults.alarm_5xx_errors
    latency = table.get("alarm_model_latency_ms", defaults.alarm_model_latency_ms)
    if not _is_number(latency) or not 0 < latency <= 60000:
        problems.append(f"endpoint.rollout.alarm_model_latency_ms: {latency!r} must be a number of "
                        "milliseconds in (0, 60000] (the container must answer within 60 s)")
        latency = defaults.alarm_model_latency_ms
    return RolloutSettings(strategy=strategy, canary_size=canary, linear_step_size=linear,
                           wait_seconds=wait, max_execution_seconds=timeout,
                           termination_wait_seconds=termination, guardrails=guardrails,
                           variant_slots=tuple(slots), alarm_5xx_errors=errors,
                           alarm_model_latency_ms=float(latency))


def _parse_data_capture(endpoint_raw: dict[str, Any], problems: list[str]) -> DataCaptureSettings | None:
    if "data_capture" not in endpoint_raw:
        return None
    table = _table(endpoint_raw, "data_capture", problems, "endpoint.data_capture")
    _check_keys(table, "data_capture", "endpoint.data_capture", problems)
    defaults = DataCaptureSettings()
    sampling = table.get("sampling_percentage", defaults.sampling_percentage)
    if not _is_whole(sampling) or not 0 <= sampling <= 100:
        problems.append(f"endpoint.data_capture.sampling_percentage: {sampling!r} must be a whole "
                        "number in 0-100")
        sampling = defaults.sampling_percentage
    prefix = table.get("prefix", defaults.prefix)
    if (not isinstance(prefix, str) or not prefix.startswith(DATA_CAPTURE_PREFIX)
            or not re.fullmatch(r"[a-zA-Z0-9!_.*'()/-]+/", prefix) or "//" in prefix):
        problems.append(f"endpoint.data_capture.prefix: {prefix!r} must be a key prefix under "
                        f"{DATA_CAPTURE_PREFIX} of the data bucket ending in /, e.g. "
                        f'"{DATA_CAPTURE_PREFIX}" (the execution role may write only there)')
        prefix = defaults.prefix
    kms = table.get("kms", defaults.kms)
    if not isinstance(kms, bool):
        problems.append("endpoint.data_capture.kms: must be true or false")
        kms = defaults.kms
    return DataCaptureSettings(sampling_percentage=sampling, prefix=prefix, kms=kms)


def _check_endpoint_against_variants(endpoint: EndpointSettings, variants: tuple[VariantConfig, ...],
                                     problems: list[str]) -> None:
    """Combinations SageMaker rejects, and the variant-slot guardrail."""
    rollout = endpoint.rollout
    serverless = [v.name for v in variants if v.serverless is not None]
    if serverless:
        listed = ", ".join(serverless)
        if len(variants) > 1:
            problems.append(f"variants: {listed} is serverless, and SageMaker does not support "
                            "multiple production variants on a serverless endpoint; use one "
                            "serverless variant, or instance variants for an A/B test")
        if endpoint.volume_kms:
            problems.append(f"endpoint.volume_kms: SageMaker rejects a KMS volume key (KmsKeyId) for "
                            f"an endpoint config of serverless variants ({listed}); set "
                            "endpoint.volume_kms = false (serverless storage is AWS-managed)")
        if endpoint.data_capture is not None:
            problems.append(f"endpoint.data_capture: SageMaker does not support data capture on "
                            f"serverless endpoints ({listed}); remove [endpoint.data_capture] or use "
                            "an instance variant")
        step = {"canary": rollout.canary_size, "linear": rollout.linear_step_size}.get(rollout.strategy)
        if step is not None and step.unit == "instances":
            problems.append(f"endpoint.rollout: a {rollout.strategy} step of {step} cannot apply to "
                            f"serverless variants ({listed}), which have no instances; give the "
                            'step as a percentage like "20%" or use strategy = "all_at_once"')
    counts = [v.instance_count for v in variants if v.instance_count is not None]
    if counts and rollout.strategy == "canary" and rollout.canary_size.unit == "instances":
        limit = min(counts) // 2
        if rollout.canary_size.value > limit:
            problems.append(f"endpoint.rollout.canary_size: {rollout.canary_size} is more than 50% of "
                            f"the smallest variant's {min(counts)} instance(s), SageMaker's canary "
                            'limit; use a percentage like "10%" or more instances')
    if counts and rollout.strategy == "linear" and rollout.linear_step_size.unit == "instances":
        value = rollout.linear_step_size.value
        if not (value * 10 >= max(counts) and value * 2 <= min(counts)):
            problems.append(f"endpoint.rollout.linear_step_size: {rollout.linear_step_size} must be "
                            f"10-50% of every variant's instances ({min(counts)}-{max(counts)}), "
                            'SageMaker\'s linear step limit; use a percentage like "20%"')
    if not rollout.guardrails:
        return
    if rollout.strategy == "none":
        problems.append('endpoint.rollout.guardrails: auto-rollback is part of a blue/green '
                        'deployment policy, which strategy = "none" leaves out; set guardrails = '
                        'false for that deploy, or pick all_at_once, canary or linear')
    if len(variants) * ALARMS_PER_VARIANT > MAX_ROLLBACK_ALARMS:
        problems.append(f"endpoint.rollout.guardrails: {len(variants)} variants need "
                        f"{len(variants) * ALARMS_PER_VARIANT} rollback alarms; SageMaker watches at "
                        f"most {MAX_ROLLBACK_ALARMS}; use at most "
                        f"{MAX_ROLLBACK_ALARMS // ALARMS_PER_VARIANT} variants or guardrails = false")
    names = [v.name for v in variants]
    slots = list(rollout.variant_slots)
    slot_set = {slot.lower() for slot in slots}
    name_set = {name.lower() for name in names}
    if not slots:
        problems.append("endpoint.rollout.variant_slots: guardrails are on, so record the deployed "
                        f"variant names: add variant_slots = {json.dumps(names)} to [endpoint.rollout] "
                        "and commit it")
    elif sorted(n.lower() for n in names) != sorted(n.lower() for n in slots):
        added = [n for n in names if n.lower() not in slot_set]
        removed = [n for n in slots if n.lower() not in name_set]
        problems.append(
            f"variants: names {json.dumps(names)} differ from endpoint.rollout.variant_slots "
            f"{json.dumps(slots)} (added {json.dumps(added)}, removed {json.dumps(removed)}); a "
            "guarded blue/green rollout must keep the deployed variant names (they are slots: put "
            "the new model in an existing slot via its manifest). To add, remove or rename a "
            'variant, deploy that change with strategy = "none" and guardrails = false (a '
            "blue/green update must keep the variant names), then set variant_slots to the new "
            "names and restore the strategy and guardrails")


def _resolve_models(variants: tuple[VariantConfig, ...], region: str | None,
                    problems: list[str]) -> tuple[VariantModel, ...]:
    """Load each variant's manifest or record; none there yet is fine (Data stack only)."""
    if not any(v.manifest_path.exists() for v in variants):
        return ()
    models: list[VariantModel] = []
    for index, variant in enumerate(variants):
        if variant.record_path is not None:
            try:
                record = model_record.load(variant.record_path)
            except RecordError as error:
                problems.append(f"variants[{index}].record: {error}")
                continue
            if record.variant != variant.name:
                problems.append(
                    f"variants[{index}].record: {variant.record_path} was promoted for variant "
                    f"{record.variant!r}, not {variant.name!r}; promote the model for this slot "
                    f"(xgbapi promote --variant {variant.name} --run <run directory>) or fix the path")
                continue
            models.append(VariantModel(variant, record.manifest, record))
            continue
        try:
            models.append(VariantModel(variant, manifest_module.load(variant.manifest_path)))
        except ManifestError as error:
            problems.append(f"variants[{index}].manifest: {error}")
    if problems:
        return ()
    first = models[0]
    for index, model in enumerate(models[1:], start=1):
        key = "record" if model.variant.uses_record else "manifest"
        if model.manifest.region != first.manifest.region:
            problems.append(
                f"variants[{index}].{key}: trained for region {model.manifest.region} but "
                f"{first.variant.name} for {first.manifest.region}; an endpoint serves images and "
                "model data from its own region only")
    if region is not None and first.manifest.region != region:
        problems.append(f"project.region: {region} differs from the models' region "
                        f"{first.manifest.region}; retrain for {region} or deploy to "
                        f"{first.manifest.region}")
    for model in models:
        artifact = model.artifact_path
        if model.manifest.model_data is None and (artifact is None or not artifact.is_file()):
            problems.append(f"{model.variant.manifest_path}: artifact {artifact} does not exist and "
                            "model_data is empty; re-run training for this variant")
    return tuple(models)


def _check_approved(models: tuple[VariantModel, ...], problems: list[str]) -> None:
    """endpoint.require_approved_models: every variant serves a record approved in the registry.

    Reads the approval status the record carries (no AWS call): ``xgbapi refresh-approval``
    copies the registry's current status into the records, and that change is committed.
    """
    for index, model in enumerate(models):
        name = model.variant.name
        if model.record is None:
            problems.append(
                f"variants[{index}]: {name} uses a run ({model.variant.manifest_path}), and "
                "endpoint.require_approved_models = true serves only approved model records; promote "
                f"it (xgbapi promote --variant {name} --register), approve the package, run "
                f"xgbapi refresh-approval --variant {name} and name the record (record = "
                f'"{model_record.record_path(name)}")')
        elif model.record.registry is None:
            problems.append(
                f"variants[{index}].record: {name}'s record {model.variant.record_path} has no model "
                "registry entry (status: not registered), and endpoint.require_approved_models = true "
                f"serves only approved models; promote it again with --register (xgbapi promote "
                f"--variant {name} --register), approve the package, then run xgbapi "
                f"refresh-approval --variant {name}")
        elif model.record.registry.approval_status != "Approved":
            registry = model.record.registry
            problems.append(
                f"variants[{index}].record: {name}'s model package is {registry.approval_status}, not "
                "Approved, and endpoint.require_approved_models = true serves only approved models; "
                f"approve {registry.model_package_arn} in the model registry, then run xgbapi "
                f"refresh-approval --variant {name} and commit {model.variant.record_path}")


def _check_lambda_environment(models: tuple[VariantModel, ...], prefix: str,
                              problems: list[str]) -> None:
    # A numeric model's feature list travels to the Lambda as an environment variable, with the
    # variants' names and weights (names.handler_setup; any other spec is a file in the asset);
    # the runtime adds a few variables of its own (the margin).
    variables, _ = names.handler_setup(names.endpoint_name(prefix), tuple(
        (m.variant.name, m.variant.weight, m.manifest.input_spec) for m in models))
    size = sum(len(key) + len(value) for key, value in variables.items()) + 200
    if size > LAMBDA_ENVIRONMENT_LIMIT_BYTES:
        problems.append(f"features: the feature list needs about {size} bytes of Lambda "
                        f"environment, over Lambda's {LAMBDA_ENVIRONMENT_LIMIT_BYTES}-byte limit; "
                        "use fewer or shorter feature names")


def _has_instance_storage(family: str) -> bool:
    return family in _NVME_FAMILIES or bool(_NVME_SUFFIX.match(family))


def _is_whole(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
