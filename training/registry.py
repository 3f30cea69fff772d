"""The SageMaker model registry: register a promoted model, and read back its approval.

``xgbapi promote --register`` calls :func:`register_model`: one model package (version) in the
Data stack's model package group (``<prefix>-models``) per promoted record, with the record's
image and S3 artifact and ``PendingManualApproval``. A human approves or rejects it (console,
``aws sagemaker update-model-package``); ``xgbapi refresh-approval`` calls
:func:`refresh_approval` to copy the registry's status into the committed record, where
``[endpoint] require_approved_models`` reads it at synth without calling AWS.

Every AWS failure becomes one CliError through :func:`deployed.aws.aws_errors`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from contract import model_record
from contract.errors import CliError
from contract.model_record import ModelRecord, RecordError, RegistryRef
from deployed import aws as aws_context

PENDING = "PendingManualApproval"
RESPONSE_TYPE = "text/csv"  # what the built-in XGBoost container answers by default
_DESCRIPTION_LIMIT = 1024
_METADATA_KEY = re.compile(r"[^\w\s.:/=+\-@]")  # CustomerMetadataProperties key characters
_METADATA_LIMITS = (128, 256, 50)  # key length, value length, entries
_ARN_REGION = re.compile(r"^arn:aws[a-z-]*:sagemaker:(?P<region>[a-z0-9-]+):\d{12}:model-package/")


def _fix(group_name: str) -> str:
    return (f"check that the Data stack's model package group {group_name} exists (deploy the Data "
            "stack with this project version: make deploy) and that the credentials may call "
            "sagemaker:CreateModelPackage")


def metadata(record: ModelRecord) -> dict[str, str]:
    """CustomerMetadataProperties: where the model came from and its offline metrics, as strings."""
    manifest = record.manifest
    values = {"variant": record.variant, "run_id": manifest.source.run_id,
              "source_kind": manifest.source.kind, "etag": record.artifact.etag,
              "size_bytes": str(record.artifact.size_bytes)}
    if manifest.source.job_name:
        values["job_name"] = manifest.source.job_name
    if record.artifact.sha256:
        values["sha256"] = record.artifact.sha256
    for name, value in sorted(manifest.metrics.items()):
        values[f"metric:{name}"] = repr(float(value))
    key_limit, value_limit, entries = _METADATA_LIMITS
    cleaned = {_METADATA_KEY.sub("_", key)[:key_limit]: value[:value_limit]
               for key, value in values.items()}
    return dict(list(cleaned.items())[:entries])


def client_token(group_name: str, record: ModelRecord) -> str:
    """Idempotency token: a retried registration of the same artifact creates one package."""
    seed = f"{group_name}\n{record.variant}\n{record.artifact.s3_uri}\n{record.artifact.etag}"
    return hashlib.sha256(seed.encode()).hexdigest()[:36]


def create_request(group_name: str, record: ModelRecord) -> dict[str, Any]:
    """The CreateModelPackage parameters for ``record`` (pure: the tests read it)."""
    manifest = record.manifest
    description = (f"{record.variant}: run {manifest.source.run_id}, XGBoost "
                   f"{manifest.xgboost_version} ({manifest.framework_version}), {record.artifact.s3_uri}")
    return {
        "ModelPackageGroupName": group_name,
        "ModelPackageDescription": description[:_DESCRIPTION_LIMIT],
        "InferenceSpecification": {
            "Containers": [{"Image": manifest.image_uri, "ModelDataUrl": record.artifact.s3_uri,
                            "Framework": "XGBOOST", "FrameworkVersion": manifest.xgboost_version}],
            # What the Lambda sends this model: text/csv, or text/libsvm for a sparse input spec.
            "SupportedContentTypes": [manifest.input_spec.content_type],
            "SupportedResponseMIMETypes": [RESPONSE_TYPE],
        },
        "ModelApprovalStatus": PENDING,
        "CustomerMetadataProperties": metadata(record),
        "ClientToken": client_token(group_name, record),
    }


def register_model(session: Any, group_name: str, record: ModelRecord) -> RegistryRef:
    """Create a model package for ``record`` in ``group_name`` (PendingManualApproval).

    The client token is deterministic, so registering the same artifact again returns the
    package created the first time, which may have been approved or rejected since: the
    returned status is the one DescribeModelPackage reports, never assumed.
    """
    sagemaker = aws_context.client(session, "sagemaker")
    with aws_context.aws_errors(f"CreateModelPackage in {group_name}", fix=_fix(group_name)):
        created = sagemaker.create_model_package(**create_request(group_name, record))
    arn = str(created["ModelPackageArn"])
    with aws_context.aws_errors(f"DescribeModelPackage {arn}", fix=(
            "check that the credentials may call sagemaker:DescribeModelPackage, then run "
            "promote --register again (it registers the same package, not another one)")):
        described = sagemaker.describe_model_package(ModelPackageName=arn)
    return RegistryRef(model_package_arn=arn,
                       approval_status=str(described.get("ModelApprovalStatus") or PENDING))


def package_region(arn: str) -> str | None:
    """The region in a model package ARN (refresh-approval asks that region)."""
    match = _ARN_REGION.match(arn)
    return match["region"] if match else None


def refresh_approval(session: Any, record: ModelRecord) -> ModelRecord:
    """``record`` with the registry's current approval status (unchanged without a registry entry).

    Refuses a package whose artifact is not the record's (another S3 URI, or the same URI with
    another ETag than the one stored in the package's metadata at registration): an approval
    applies to the model it was given for, never to a record that has since been re-promoted
    with another artifact.
    """
    if record.registry is None:
        return record
    arn = record.registry.model_package_arn
    sagemaker = aws_context.client(session, "sagemaker")
    with aws_context.aws_errors(f"DescribeModelPackage {arn}", fix=(
            "check the region and that the package still exists (it is in the record's "
            "registry.model_package_arn); promote --register again to register a new one")):
        described = sagemaker.describe_model_package(ModelPackageName=arn)
    containers = described.get("InferenceSpecification", {}).get("Containers", [])
    urls = [c.get("ModelDataUrl") for c in containers]
    if record.artifact.s3_uri not in urls:
        raise CliError(f"model package {arn} serves {', '.join(map(str, urls)) or 'no model data'}, "
                       f"not the record's {record.artifact.s3_uri}",
                       f"register the record's model again (xgbapi promote --variant {record.variant} "
                       "--register) and approve that package")
    registered_etag = (described.get("CustomerMetadataProperties") or {}).get("etag")
    if registered_etag != record.artifact.etag:
        raise CliError(f"model package {arn} was registered for another object at "
                       f"{record.artifact.s3_uri} (etag {registered_etag or 'not recorded'}, the "
                       f"record's is {record.artifact.etag}): the object was replaced after that "
                       "registration, so its approval does not apply to this record",
                       f"register the record's model again (xgbapi promote --variant {record.variant} "
                       "--register) and approve that package")
    status = str(described["ModelApprovalStatus"])
    if status == record.registry.approval_status:
        return record
    return dataclasses.replace(record, registry=RegistryRef(model_package_arn=arn, approval_status=status))


def refresh_records(variant: str, records_dir: Path,
                    session_for: Callable[[str], Any] = aws_context.session) -> list[str]:
    """``xgbapi refresh-approval``: refresh one record (``variant``) or every record ("all").

    Rewrites a record only when its status changed (the file stays byte-identical otherwise).
    ``session_for(region)`` gives the session of a package's region (its ARN names it).
    Returns one line per record.
    """
    if variant == "all":
        paths = sorted(records_dir.glob("*.json"))
        if not paths:
            raise CliError(f"no model records in {records_dir}",
                           "promote a variant first (xgbapi promote --variant <name> --register), or "
                           "pass --records-dir")
    else:
        paths = [model_record.record_path(variant, records_dir)]
    sessions: dict[str, Any] = {}
    lines = []
    for path in paths:
        try:
            record = model_record.load(path)
        except RecordError as error:
            raise CliError(str(error), "fix or re-promote the record (xgbapi promote --variant "
                           f"{path.stem} --register)") from None
        if record.registry is None:
            lines.append(f"{record.variant}: not registered ({path} has no registry entry; "
                         f"xgbapi promote --variant {record.variant} --register adds one)")
            continue
        region = package_region(record.registry.model_package_arn) or ""
        if region not in sessions:
            sessions[region] = session_for(region)
        refreshed = refresh_approval(sessions[region], record)
        before, after = record.registry.approval_status, refreshed.registry
        assert after is not None
        if refreshed == record:
            lines.append(f"{record.variant}: {before} (unchanged) {path}")
        else:
            model_record.write(refreshed, path)
            lines.append(f"{record.variant}: {after.approval_status} (was {before}); wrote {path}, "
                         "commit it")
    return lines
