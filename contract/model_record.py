"""The model record: a promoted model, committed at ``models/<variant>.json``; what deploys serve.

A run manifest (``runs/<variant>/<run id>/manifest.json``) lives on one machine and may point at
a local file. ``xgbapi promote`` turns a run into a record: the manifest with its model in S3
(``model_data``, no local ``artifact``), plus what S3 reported about that object (size, ETag,
SHA256 checksum) and, optionally, its entry in the SageMaker model registry. A config names the
record (``record = "models/champion.json"``), so a deploy serves exactly the reviewed artifact.

The file is deterministic: keys in a fixed order, no timestamps, JSON with indent 2 and a
trailing newline. The same inputs write the same bytes, so a diff of ``models/`` shows only real
changes. Standard library only (see the ``contract`` package).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contract import manifest as manifest_module
from contract.documents import S3_URI, VARIANT_NAME, DocumentError, read_json, write_atomically
from contract.manifest import Manifest, ManifestError

RECORD_VERSION = 1
RECORDS_DIR = "models"  # default folder of records, at the repository root
APPROVAL_STATUSES = ("PendingManualApproval", "Approved", "Rejected")

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_PACKAGE_ARN = re.compile(r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/.+$")


class RecordError(DocumentError):
    """A record that cannot be used; the message names the file, the field and the fix."""


@dataclass(frozen=True)
class ArtifactRef:
    """The model.tar.gz in S3 as S3 described it when the record was written."""

    s3_uri: str
    size_bytes: int
    sha256: str | None  # hex; set when the object carries a SHA256 checksum
    etag: str  # the S3 ETag without quotes

    def to_dict(self) -> dict[str, Any]:
        return {"s3_uri": self.s3_uri, "size_bytes": self.size_bytes, "sha256": self.sha256,
                "etag": self.etag}


@dataclass(frozen=True)
class RegistryRef:
    """The model package registered for this record in the SageMaker model registry."""

    model_package_arn: str
    approval_status: str  # one of APPROVAL_STATUSES

    def to_dict(self) -> dict[str, Any]:
        return {"model_package_arn": self.model_package_arn,
                "approval_status": self.approval_status}


@dataclass(frozen=True)
class ModelRecord:
    variant: str
    manifest: Manifest  # model_data == artifact.s3_uri, artifact None
    artifact: ArtifactRef
    registry: RegistryRef | None = None
    record_version: int = RECORD_VERSION

    def to_dict(self) -> dict[str, Any]:
        # Fixed order: what the file is, whose it is, what it points at, then the full manifest.
        return {
            "record_version": self.record_version,
            "variant": self.variant,
            "artifact": self.artifact.to_dict(),
            "registry": self.registry.to_dict() if self.registry is not None else None,
            "manifest": self.manifest.to_dict(),
        }


def record_path(variant: str, directory: Path | str = RECORDS_DIR) -> Path:
    """Where the record of ``variant`` lives: ``<directory>/<variant>.json``."""
    return Path(directory) / f"{variant}.json"


def parse(data: Any, path: Path | str) -> ModelRecord:
    """Validate a decoded record document and build a ModelRecord, or raise RecordError."""
    if not isinstance(data, dict):
        raise RecordError(path, "<top level>", "must be a JSON object")
    rewrite = "run xgbapi promote again to write a full record"
    unknown = sorted(set(data) - {"record_version", "variant", "artifact", "registry", "manifest"})
    if unknown:
        raise RecordError(path, unknown[0], f"unknown field; {rewrite}")

    version = data.get("record_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise RecordError(path, "record_version", f"must be a whole number; {rewrite}")
    if version < 1 or version > RECORD_VERSION:
        raise RecordError(path, "record_version", f"is {version}, this tool reads versions "
                          f"1..{RECORD_VERSION}; upgrade the project to read newer records")

    variant = data.get("variant")
    if not isinstance(variant, str) or not VARIANT_NAME.match(variant):
        raise RecordError(path, "variant", f"{variant!r} is not a SageMaker variant name; {rewrite}")

    artifact = _parse_artifact(data.get("artifact"), path, rewrite)
    registry = _parse_registry(data.get("registry"), path, rewrite)

    manifest_data = data.get("manifest")
    if not isinstance(manifest_data, dict):
        raise RecordError(path, "manifest", f"must be a JSON object (the run's manifest); {rewrite}")
    try:
        manifest = manifest_module.parse(manifest_data, path)
    except ManifestError as error:
        raise RecordError(path, f"manifest.{error.field}", error.problem) from None
    if manifest.model_data != artifact.s3_uri:
        raise RecordError(path, "manifest.model_data", f"{manifest.model_data!r} differs from "
                          f"artifact.s3_uri {artifact.s3_uri!r}; {rewrite}")
    if manifest.artifact is not None:
        raise RecordError(path, "manifest.artifact", "must be null: a record serves the model from "
                          f"S3, never from a local file; {rewrite}")
    return ModelRecord(variant=variant, manifest=manifest, artifact=artifact, registry=registry,
                       record_version=version)


def _parse_artifact(value: Any, path: Path | str, rewrite: str) -> ArtifactRef:
    if not isinstance(value, dict):
        raise RecordError(path, "artifact", f"must be an object with s3_uri, size_bytes, sha256 "
                          f"and etag; {rewrite}")
    s3_uri = value.get("s3_uri")
    if not isinstance(s3_uri, str) or not S3_URI.match(s3_uri):
        raise RecordError(path, "artifact.s3_uri", f"{s3_uri!r} must be an s3://bucket/key URI")
    size = value.get("size_bytes")
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise RecordError(path, "artifact.size_bytes", f"{size!r} must be a whole number of bytes "
                          f">= 1; {rewrite}")
    sha256 = value.get("sha256")
    if sha256 is not None and (not isinstance(sha256, str) or not _SHA256.match(sha256)):
        raise RecordError(path, "artifact.sha256", f"{sha256!r} must be 64 lowercase hex digits "
                          "or null")
    etag = value.get("etag")
    if not isinstance(etag, str) or not etag or '"' in etag:
        raise RecordError(path, "artifact.etag", f"{etag!r} must be the S3 ETag without quotes; "
                          f"{rewrite}")
    extra = sorted(set(value) - {"s3_uri", "size_bytes", "sha256", "etag"})
    if extra:
        raise RecordError(path, f"artifact.{extra[0]}", f"unknown field; {rewrite}")
    return ArtifactRef(s3_uri=s3_uri, size_bytes=size, sha256=sha256, etag=etag)


def _parse_registry(value: Any, path: Path | str, rewrite: str) -> RegistryRef | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise RecordError(path, "registry", "must be null or an object with model_package_arn "
                          "and approval_status")
    arn = value.get("model_package_arn")
    if not isinstance(arn, str) or not _PACKAGE_ARN.match(arn):
        raise RecordError(path, "registry.model_package_arn", f"{arn!r} is not a SageMaker model "
                          "package ARN; run xgbapi promote --register again")
    status = value.get("approval_status")
    if status not in APPROVAL_STATUSES:
        raise RecordError(path, "registry.approval_status", f"{status!r} must be one of "
                          f"{', '.join(APPROVAL_STATUSES)}; run xgbapi refresh-approval")
    extra = sorted(set(value) - {"model_package_arn", "approval_status"})
    if extra:
        raise RecordError(path, f"registry.{extra[0]}", f"unknown field; {rewrite}")
    return RegistryRef(model_package_arn=arn, approval_status=status)


def load(path: Path | str) -> ModelRecord:
    """Read and validate the record at ``path`` (a models/<variant>.json)."""
    record_file = Path(path)
    data = read_json(record_file, RecordError,
                     "promote the variant first (xgbapi promote --variant <name>) or fix the path")
    return parse(data, record_file)


def dumps(record: ModelRecord) -> str:
    """The exact text of a record file: the same record always gives the same bytes."""
    return json.dumps(record.to_dict(), indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def write(record: ModelRecord, path: Path | str) -> Path:
    """Write ``record`` to ``path`` atomically (never a half-written file); returns the path."""
    return write_atomically(Path(path), dumps(record))
