"""``xgbapi promote``: turn a run into the committed model record a deploy serves.

A run (``runs/<variant>/<run id>/``) lives on one machine; its manifest may name a local file. A
deploy config names records (``models/<variant>.json``) instead, so what is deployed is in git
and reviewed. Promote:

1. loads the run; a local run whose model is not in S3 yet is published first (the upload
   carries a SHA256 checksum, see ``sagemaker_backend.publish_run``);
2. asks S3 what the object is (GetObjectAttributes: ETag, checksum, size; HeadObject where that
   call is refused) and, for a run trained on this machine, checks that the local model.tar.gz
   is byte for byte what S3 holds (size and SHA256);
3. optionally registers the model in the SageMaker model registry (``--register``);
4. writes ``models/<variant>.json`` (deterministic: the same inputs, the same bytes).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from contract import manifest as manifest_module
from contract import model_record, names
from contract.config import load_config
from contract.errors import CliError
from contract.manifest import Manifest
from contract.model_record import ArtifactRef, ModelRecord, RegistryRef
from deployed import aws as aws_context
from training import runs
from training.local_runs import load_run
from training.requests import JobTarget

# GetObjectAttributes answers these when the caller may not use it (no s3:GetObjectAttributes
# permission) or the endpoint does not implement it (some S3-compatible stores): use HeadObject.
_UNSUPPORTED = {"NotImplemented", "AccessDenied", "MethodNotAllowed", "InvalidRequest"}
_MISSING = {"NoSuchKey", "NoSuchBucket", "404", "NotFound"}
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class S3Object:
    """What S3 says about the model object."""

    size_bytes: int
    etag: str  # without quotes
    sha256: str | None  # hex of a full-object SHA256 checksum; None when S3 holds none


@dataclass(frozen=True)
class Promoted:
    record: ModelRecord
    path: Path
    published: str | None  # the S3 URI uploaded on the way, if the run was published now


def split_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _hex_checksum(value: Any) -> str | None:
    """S3's base64 SHA256 as hex; None for a composite (multipart "...-N") or absent checksum."""
    if not isinstance(value, str) or "-" in value:
        return None
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw.hex() if len(raw) == 32 else None


def describe_object(s3: Any, uri: str, *, run: Path) -> S3Object:
    """Size, ETag and SHA256 of ``uri``; a missing object is a CliError naming the URI and the fix."""
    bucket, key = split_uri(uri)
    missing_fix = (f"check the URI in {run}'s manifest (model_data); for a run trained on this "
                   f"machine publish it again (xgbapi publish --run {run}), then promote")
    try:
        answer = s3.get_object_attributes(Bucket=bucket, Key=key,
                                          ObjectAttributes=["ETag", "Checksum", "ObjectSize"])
        checksum = (answer.get("Checksum") or {})
        composite = checksum.get("ChecksumType") == "COMPOSITE"
        return S3Object(size_bytes=int(answer["ObjectSize"]), etag=str(answer["ETag"]).strip('"'),
                        sha256=None if composite else _hex_checksum(checksum.get("ChecksumSHA256")))
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code in _MISSING:
            raise CliError(f"the model object {uri} does not exist", missing_fix) from None
        if code not in _UNSUPPORTED:
            raise _s3_error("GetObjectAttributes", uri, error) from None
    except BotoCoreError as error:
        raise CliError(f"S3 GetObjectAttributes of {uri} failed ({error})",
                       "check the network, the region and the credentials, then retry") from None
    try:
        head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code in _MISSING:
            raise CliError(f"the model object {uri} does not exist", missing_fix) from None
        raise _s3_error("HeadObject", uri, error) from None
    except BotoCoreError as error:
        raise CliError(f"S3 HeadObject of {uri} failed ({error})",
                       "check the network, the region and the credentials, then retry") from None
    composite = head.get("ChecksumType") == "COMPOSITE"
    return S3Object(size_bytes=int(head["ContentLength"]), etag=str(head["ETag"]).strip('"'),
                    sha256=None if composite else _hex_checksum(head.get("ChecksumSHA256")))


def _s3_error(operation: str, uri: str, error: ClientError) -> CliError:
    message = error.response.get("Error", {}).get("Message", str(error))
    return CliError(f"S3 {operation} of {uri} failed: {message}",
                    "check the credentials may read the Data bucket (s3:GetObject, "
                    "s3:GetObjectAttributes) and the region, then retry")


def check_local_artifact(local: Path, uri: str, found: S3Object, run: Path) -> None:
    """The local model.tar.gz must be exactly the object in S3 (size and SHA256)."""
    republish = f"publish the run again (xgbapi publish --run {run}), then promote"
    size = local.stat().st_size
    if found.sha256 is None:
        raise CliError(f"{uri} carries no SHA256 checksum, so it cannot be checked against {local}",
                       f"{republish} (publish uploads with a SHA256 checksum)")
    digest = file_sha256(local)
    if size != found.size_bytes or digest != found.sha256:
        raise CliError(f"{local} ({size} bytes, sha256 {digest}) differs from {uri} "
                       f"({found.size_bytes} bytes, sha256 {found.sha256})", republish)


def build_record(variant: str, manifest: Manifest, found: S3Object,
                 registry: RegistryRef | None = None) -> ModelRecord:
    assert manifest.model_data is not None
    served = manifest.with_updates(artifact=None)  # a record serves from S3 only
    artifact = ArtifactRef(s3_uri=manifest.model_data, size_bytes=found.size_bytes,
                           sha256=found.sha256, etag=found.etag)
    return ModelRecord(variant=variant, manifest=served, artifact=artifact, registry=registry)


def promote(target: JobTarget, variant: str, run: Path, records_dir: Path, *,
            register: bool = False) -> Promoted:
    """Publish (if needed), check and record ``run`` as the model of ``variant``."""
    runs.check_variant(variant)
    manifest, manifest_path = load_run(run)
    local = manifest_module.artifact_path(manifest, manifest_path)
    has_local = local is not None and local.is_file()
    published = None
    if manifest.model_data is None:
        if not has_local:
            raise CliError(f"run {run} has neither model_data nor its local {local}",
                           "promote a complete run (train it again)")
        from training import sagemaker_backend

        published = sagemaker_backend.publish_run(target, run)
        manifest, manifest_path = load_run(run)
    assert manifest.model_data is not None
    target = target.for_model(manifest.region, manifest.framework_version)
    session = aws_context.session(target.region)
    found = describe_object(aws_context.client(session, "s3"), manifest.model_data, run=run)
    if has_local:
        assert local is not None
        check_local_artifact(local, manifest.model_data, found, run)
    record = build_record(variant, manifest, found)
    if register:
        from training import registry

        prefix = load_config(target.config, resolve_models=False).prefix
        group = names.model_package_group_name(prefix)
        record = build_record(variant, manifest, found,
                              registry.register_model(session, group, record))
    path = model_record.write(record, model_record.record_path(variant, records_dir))
    return Promoted(record=record, path=path, published=published)
