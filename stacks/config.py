"""The deployment config: loaded from a TOML file and validated once, into typed objects.

``app.py`` (and every tool that needs the deployment's shape) calls :func:`load_config`;
everything downstream receives an :class:`AppConfig` and never re-validates. Every problem
is reported at once, each naming the field and the fix, so a user fixes a config in one pass.
This module needs only the standard library and the manifest module.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeGuard

from training import manifest as manifest_module
from training.manifest import Manifest, ManifestError

DEFAULT_CONFIG_PATH = "config/default.toml"
MAX_VARIANTS = 10  # SageMaker: at most 10 production variants per endpoint config
LAMBDA_ENVIRONMENT_LIMIT_BYTES = 4096  # Lambda: all environment variables together

AuthMode = Literal["iam", "api_key", "none"]
AUTH_MODES: tuple[AuthMode, ...] = ("iam", "api_key", "none")

_PREFIX = re.compile(r"^[a-z][a-z0-9-]{0,22}[a-z0-9]$")
_VARIANT_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")  # SageMaker's pattern
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
class VariantConfig:
    """One production variant: a stable slot name (champion, challenger) and its capacity."""

    name: str
    manifest_path: Path
    weight: float
    instance_type: str
    instance_count: int


@dataclass(frozen=True)
class VariantModel:
    """A variant together with the manifest of the model it serves."""

    variant: VariantConfig
    manifest: Manifest

    @property
    def artifact_path(self) -> Path | None:
        return manifest_module.artifact_path(self.manifest, self.variant.manifest_path)


@dataclass(frozen=True)
class EndpointSettings:
    # Encrypt the ML storage volume of every instance with the project's KMS key.
    volume_kms: bool = True


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
    def model_region(self) -> str | None:
        return self.models[0].manifest.region if self.models else None

    def stack_name(self, component: str) -> str:
        return f"{self.prefix}-{component}"

    @property
    def endpoint_name(self) -> str:
        return f"{self.prefix}-endpoint"

    def next_steps(self) -> str:
        missing = ", ".join(str(v.manifest_path) for v in self.variants)
        return (
            f"No trained model found ({missing}). Synthesized the Data stack only. Next: "
            "deploy it (make deploy), train the variants (make train), then synthesize again."
        )


# Allowed keys per table; anything else is a typo the user wants to hear about.
_KEYS = {
    "<top level>": {"project", "endpoint", "api", "variants"},
    "project": {"prefix", "account", "region"},
    "endpoint": {"volume_kms"},
    "api": {"auth", "allow_unauthenticated", "throttle_rate_limit", "throttle_burst_limit",
            "log_retention_days"},
    "variant": {"name", "manifest", "weight", "instance_type", "instance_count"},
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
        raise ConfigError(source, [f"file not found; copy {DEFAULT_CONFIG_PATH} and edit it, "
                                   "or pass -c config=PATH"]) from None
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
    endpoint = EndpointSettings(volume_kms=volume_kms)

    api = _parse_api(_table(raw, "api", problems), problems)
    variants = _parse_variants(raw.get("variants"), base_dir, volume_kms, problems)

    if problems:
        raise ConfigError(source, problems)
    assert isinstance(prefix, str)
    models = _resolve_models(variants, region, problems) if resolve_models else ()
    if models:
        _check_lambda_environment(models[0].manifest, prefix, problems)
    if problems:
        raise ConfigError(source, problems)
    return AppConfig(source=source, prefix=prefix, account=account, region=region,
                     variants=variants, endpoint=endpoint, api=api, models=models)


def _table(raw: dict[str, Any], name: str, problems: list[str]) -> dict[str, Any]:
    value = raw.get(name, {})
    if not isinstance(value, dict):
        problems.append(f"{name}: must be a table ([{name}])")
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
        if not isinstance(name, str) or not _VARIANT_NAME.match(name):
            problems.append(f"{where}.name: {name!r} is not a SageMaker variant name: 1-63 "
                            "letters, digits and single hyphens, starting and ending alphanumeric")
        elif name.lower() in seen:
            problems.append(f"{where}.name: {name!r} duplicates variants[{seen[name.lower()]}]; "
                            "variant names must be unique (case-insensitive)")
        else:
            seen[name.lower()] = index
        manifest = item.get("manifest")
        if not isinstance(manifest, str) or not manifest:
            problems.append(f"{where}.manifest: must be the path of the variant's manifest.json")
        weight = item.get("weight")
        if not _is_number(weight) or weight < 0:
            problems.append(f"{where}.weight: {weight!r} must be a number >= 0 (weights are "
                            "relative shares of traffic)")
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
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            problems.append(f"{where}.instance_count: {count!r} must be a whole number >= 1")
        if len(problems) == count_before:
            assert isinstance(name, str) and isinstance(manifest, str) and _is_number(weight)
            variants.append(VariantConfig(
                name=name, manifest_path=(base_dir / manifest), weight=float(weight),
                instance_type=instance_type, instance_count=count))
    if variants and len(variants) == len(items) and sum(v.weight for v in variants) <= 0:
        problems.append("variants: every weight is 0, so no variant would receive traffic; give "
                        "at least one variant a positive weight")
    return tuple(variants)


def _resolve_models(variants: tuple[VariantConfig, ...], region: str | None,
                    problems: list[str]) -> tuple[VariantModel, ...]:
    """Load each variant's manifest; none trained yet is fine (Data stack only)."""
    if not any(v.manifest_path.exists() for v in variants):
        return ()
    models: list[VariantModel] = []
    for index, variant in enumerate(variants):
        try:
            models.append(VariantModel(variant, manifest_module.load(variant.manifest_path)))
        except ManifestError as error:
            problems.append(f"variants[{index}].manifest: {error}")
    if problems:
        return ()
    first = models[0]
    for index, model in enumerate(models[1:], start=1):
        if model.manifest.feature_names != first.manifest.feature_names:
            problems.append(
                f"variants[{index}].manifest: features {list(model.manifest.feature_names)} differ "
                f"from {first.variant.name}'s {list(first.manifest.feature_names)}; one Lambda "
                "serializes requests for every variant, so train all variants on the same features "
                "in the same order")
        if model.manifest.region != first.manifest.region:
            problems.append(
                f"variants[{index}].manifest: trained for region {model.manifest.region} but "
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


def _check_lambda_environment(manifest: Manifest, prefix: str, problems: list[str]) -> None:
    # The feature list travels to the Lambda as an environment variable (see stacks/api_stack.py).
    size = len(json.dumps(list(manifest.feature_names))) + len(prefix) + 200
    if size > LAMBDA_ENVIRONMENT_LIMIT_BYTES:
        problems.append(f"features: the feature list needs about {size} bytes of Lambda "
                        f"environment, over Lambda's {LAMBDA_ENVIRONMENT_LIMIT_BYTES}-byte limit; "
                        "use fewer or shorter feature names")


def _has_instance_storage(family: str) -> bool:
    return family in _NVME_FAMILIES or bool(_NVME_SUFFIX.match(family))


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
