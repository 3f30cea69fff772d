"""Where the AWS-hosted built-in XGBoost container lives, per region and framework version.

The registry accounts are copied from the SageMaker Python SDK (see ``_source`` in
``xgboost_registries.json``) so that synth, the Data stack's ECR permission and the local
backend agree without installing the ~1 GB SDK. The accounts belong to AWS, not to the user.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from contract.errors import CliError

_REGISTRY_FILE = Path(__file__).with_name("xgboost_registries.json")

# Container framework version -> the xgboost release inside it. A model saved by a newer
# xgboost loads in an older container without error but predicts wrong values, so local
# training must use exactly this version (see README, "the xgboost version trap").
FRAMEWORK_XGBOOST_VERSIONS: dict[str, str] = {
    "1.7-1": "1.7.6",
    "3.0-5": "3.0.5",
}
DEFAULT_FRAMEWORK_VERSION = "3.0-5"


class ImageError(ValueError):
    """A region or framework version without a built-in XGBoost image."""


@cache
def _registry() -> dict[str, object]:
    data: dict[str, object] = json.loads(_REGISTRY_FILE.read_text(encoding="utf-8"))
    return data


def repository_name() -> str:
    return str(_registry()["repository"])


def registry_accounts() -> dict[str, str]:
    """Region -> the AWS account that hosts the built-in XGBoost images there."""
    registries = _registry()["registries"]
    assert isinstance(registries, dict)
    return {str(region): str(account) for region, account in registries.items()}


def ecr_domain(region: str) -> str:
    return "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"


def check_framework_version(framework_version: str) -> None:
    if framework_version not in FRAMEWORK_XGBOOST_VERSIONS:
        known = ", ".join(sorted(FRAMEWORK_XGBOOST_VERSIONS))
        raise ImageError(
            f"unknown XGBoost framework version {framework_version!r}; use one of: {known}"
        )


def image_uri(region: str, framework_version: str = DEFAULT_FRAMEWORK_VERSION) -> str:
    """The built-in XGBoost image for ``region``, e.g. 683313688378.dkr.ecr.us-east-1...."""
    check_framework_version(framework_version)
    accounts = registry_accounts()
    if region not in accounts:
        raise ImageError(
            f"region {region!r} has no built-in XGBoost image; "
            f"use one of: {', '.join(sorted(accounts))}"
        )
    return (
        f"{accounts[region]}.dkr.ecr.{region}.{ecr_domain(region)}/"
        f"{repository_name()}:{framework_version}"
    )


def check_xgboost_version(framework_version: str, installed: str) -> str:
    """The container's xgboost release; refuse any other installed release (the version trap)."""
    check_framework_version(framework_version)
    wanted = FRAMEWORK_XGBOOST_VERSIONS[framework_version]
    if installed != wanted:
        raise CliError(
            f"installed xgboost is {installed} but container {framework_version} runs {wanted} "
            "(a model saved by another release can predict wrong values there)",
            f"install xgboost-cpu=={wanted}, or pick the matching --framework-version")
    return wanted
