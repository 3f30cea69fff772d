"""Typed requests for the sagemaker backend: what a job runs on, parsed once by the CLI."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

JobKind = Literal["train", "tune", "evaluate", "publish"]


@dataclass(frozen=True)
class DryRun:
    """A dry run's stand-ins for the Data stack's outputs (None: a placeholder)."""

    bucket: str | None = None
    role_arn: str | None = None
    kms_key_arn: str | None = None


@dataclass(frozen=True)
class JobTarget:
    """Where a sagemaker command runs: region, container, instances, and the deployment it is for."""

    kind: JobKind
    region: str
    framework_version: str
    instance_type: str
    config: Path  # the deployment config: its project.prefix names the Data stack
    runs_dir: Path
    dry_run: DryRun | None = None
    instance_count: int = 1  # > 1: the train channel is sharded by S3 key across the instances

    def for_model(self, region: str, framework_version: str) -> JobTarget:
        """The same target in the region and container of an existing model."""
        return replace(self, region=region, framework_version=framework_version)


@dataclass(frozen=True)
class TuningBudget:
    trials: int
    parallel: int
