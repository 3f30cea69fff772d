"""The model registry against moto in-process: register (PendingManualApproval), approve, refresh
the record, and the config's require_approved_models refusal at load."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from contract import model_record
from contract.config import ConfigError, parse_config
from contract.errors import CliError
from contract.model_record import ModelRecord, RegistryRef
from tests.config.test_model_record import challenger_record, champion_record
from training import registry

REGION = "us-east-1"
GROUP = "xgb-test-models"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A session on moto with the Data stack's model package group."""
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SAGEMAKER"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        session.client("sagemaker").create_model_package_group(ModelPackageGroupName=GROUP)
        yield session


def approve(session: Any, arn: str, status: str = "Approved") -> None:
    """What a reviewer does in the console (UpdateModelPackage).

    AWS keeps the CustomerMetadataProperties an update does not name; moto drops them, so they
    are sent again (refresh-approval reads the registered etag from them).
    """
    sagemaker = session.client("sagemaker")
    kept = sagemaker.describe_model_package(ModelPackageName=arn).get("CustomerMetadataProperties")
    sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus=status,
                                   **({"CustomerMetadataProperties": kept} if kept else {}))


def registered(session: Any, record: ModelRecord) -> ModelRecord:
    return dataclasses.replace(record, registry=registry.register_model(session, GROUP, record))


def test_register_creates_a_pending_package_with_the_records_image_and_artifact(aws):
    record = champion_record()
    ref = registry.register_model(aws, GROUP, record)
    assert ref.approval_status == "PendingManualApproval"
    assert ref.model_package_arn.startswith(f"arn:aws:sagemaker:{REGION}:")
    assert f"model-package/{GROUP}/" in ref.model_package_arn
    described = aws.client("sagemaker").describe_model_package(ModelPackageName=ref.model_package_arn)
    assert described["ModelApprovalStatus"] == "PendingManualApproval"
    assert described["ModelPackageGroupName"] == GROUP
    spec = described["InferenceSpecification"]
    (container,) = spec["Containers"]
    assert container["Image"] == record.manifest.image_uri
    assert container["ModelDataUrl"] == record.artifact.s3_uri
    assert spec["SupportedContentTypes"] == ["text/csv"]
    assert spec["SupportedResponseMIMETypes"] == ["text/csv"]
    properties = described["CustomerMetadataProperties"]
    assert properties["metric:rmse"] == "0.12" and properties["variant"] == "champion"
    assert properties["sha256"] == record.artifact.sha256
    # The record with its registry entry is a valid record file.
    with_entry = dataclasses.replace(record, registry=ref)
    assert model_record.parse(with_entry.to_dict(), "x.json") == with_entry


def test_registering_the_same_artifact_again_records_the_packages_real_status(aws, monkeypatch):
    """The client token is deterministic: AWS answers a repeated CreateModelPackage with the
    package it created the first time (moto ignores ClientToken, so the answer is emulated)."""
    record = champion_record()
    first = registry.register_model(aws, GROUP, record)
    approve(aws, first.model_package_arn)
    made = registry.aws_context.client

    def client(session: Any, service: str) -> Any:
        real = made(session, service)
        create = real.create_model_package

        def idempotent_create(**kwargs: Any) -> dict[str, Any]:
            create(**kwargs)  # still validated by moto
            assert kwargs["ClientToken"] == registry.client_token(GROUP, record)
            return {"ModelPackageArn": first.model_package_arn}

        real.create_model_package = idempotent_create
        return real

    monkeypatch.setattr(registry.aws_context, "client", client)
    again = registry.register_model(aws, GROUP, record)
    assert again == RegistryRef(first.model_package_arn, "Approved")


def test_register_in_a_missing_group_is_one_error_naming_the_fix(aws):
    with pytest.raises(CliError) as caught:
        registry.register_model(aws, "xgb-other-models", champion_record())
    assert "CreateModelPackage in xgb-other-models failed" in str(caught.value)
    assert "make deploy" in caught.value.fix


def test_refresh_copies_the_approval_into_the_record(aws):
    record = registered(aws, champion_record())
    assert registry.refresh_approval(aws, record) is record  # still pending: unchanged
    assert record.registry is not None
    approve(aws, record.registry.model_package_arn)
    refreshed = registry.refresh_approval(aws, record)
    assert refreshed.registry == RegistryRef(record.registry.model_package_arn, "Approved")
    assert dataclasses.replace(refreshed, registry=record.registry) == record  # nothing else changes
    approve(aws, record.registry.model_package_arn, "Rejected")
    assert registry.refresh_approval(aws, refreshed).registry.approval_status == "Rejected"


def test_refresh_refuses_a_package_of_another_artifact(aws):
    other = registered(aws, challenger_record())
    assert other.registry is not None
    record = dataclasses.replace(champion_record(), registry=other.registry)
    with pytest.raises(CliError) as caught:
        registry.refresh_approval(aws, record)
    assert "not the record's" in str(caught.value) and "--register" in caught.value.fix


def test_refresh_refuses_a_package_registered_for_an_overwritten_object(aws):
    """Same S3 URI, another object: the record was promoted again after the key was overwritten,
    and still names the package registered (and maybe approved) for the old object."""
    old = registered(aws, champion_record())
    assert old.registry is not None
    approve(aws, old.registry.model_package_arn)
    repromoted = dataclasses.replace(old, artifact=dataclasses.replace(old.artifact, etag="fedc9876-1"))
    with pytest.raises(CliError) as caught:
        registry.refresh_approval(aws, repromoted)
    message = str(caught.value)
    assert f"model package {old.registry.model_package_arn} was registered for another object" in message
    assert "etag 0123abcd-1, the record's is fedc9876-1" in message
    assert "promote --variant champion --register" in caught.value.fix
    assert registry.refresh_approval(aws, old).registry.approval_status == "Approved"


def test_refresh_records_rewrites_only_changed_records(aws, tmp_path):
    records = tmp_path / "models"
    champion = registered(aws, champion_record())
    challenger = dataclasses.replace(challenger_record(), registry=None)
    for record in (champion, challenger):
        model_record.write(record, model_record.record_path(record.variant, records))
    path = model_record.record_path("champion", records)
    before = path.read_bytes()
    lines = registry.refresh_records("all", records, lambda region: aws)
    assert lines[0].startswith("challenger: not registered") and "--register" in lines[0]
    assert lines[1].startswith("champion: PendingManualApproval (unchanged)")
    assert path.read_bytes() == before
    assert champion.registry is not None
    approve(aws, champion.registry.model_package_arn)
    (line,) = registry.refresh_records("champion", records, lambda region: aws)
    assert line.startswith("champion: Approved (was PendingManualApproval); wrote")
    assert model_record.load(path).registry == RegistryRef(champion.registry.model_package_arn, "Approved")
    with pytest.raises(CliError, match="no model records"):
        registry.refresh_records("all", tmp_path / "empty", lambda region: aws)


# --- [endpoint] require_approved_models --------------------------------------------------------

def config(require: bool | None, **variants: dict[str, str]) -> dict[str, Any]:
    raw: dict[str, Any] = {"project": {"prefix": "xgb-test"}, "variants": [
        {"name": name, "weight": 0.5, "instance_type": "ml.m5.large", "instance_count": 1, **source}
        for name, source in variants.items()]}
    if require is not None:
        raw["endpoint"] = {"require_approved_models": require}
    return raw


def problems_of(raw: dict[str, Any], base_dir: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, source="deploy.toml", base_dir=base_dir)
    return caught.value.problems


RECORDS = {"champion": {"record": "models/champion.json"},
           "challenger": {"record": "models/challenger.json"}}


def test_require_approved_models_refuses_until_the_registry_approves_and_the_record_is_refreshed(
        aws, tmp_path):
    records = tmp_path / "models"
    champion = registered(aws, champion_record())
    challenger = dataclasses.replace(challenger_record(), registry=None)
    for record in (champion, challenger):
        model_record.write(record, model_record.record_path(record.variant, records))
    assert parse_config(config(None, **RECORDS), base_dir=tmp_path).models  # off by default
    assert parse_config(config(False, **RECORDS), base_dir=tmp_path).models

    pending, unregistered = problems_of(config(True, **RECORDS), tmp_path)
    assert pending.startswith("variants[0].record: champion's model package is PendingManualApproval")
    assert "xgbapi refresh-approval --variant champion" in pending
    assert unregistered.startswith("variants[1].record: challenger's record")
    assert "not registered" in unregistered and "--register" in unregistered

    challenger = registered(aws, challenger)
    model_record.write(challenger, model_record.record_path("challenger", records))
    for record in (champion, challenger):
        assert record.registry is not None
        approve(aws, record.registry.model_package_arn)
    registry.refresh_records("all", records, lambda region: aws)
    loaded = parse_config(config(True, **RECORDS), base_dir=tmp_path)
    assert [m.record.registry.approval_status for m in loaded.models] == ["Approved", "Approved"]

    approve(aws, challenger.registry.model_package_arn, "Rejected")
    registry.refresh_records("challenger", records, lambda region: aws)
    (rejected,) = problems_of(config(True, **RECORDS), tmp_path)
    assert "challenger's model package is Rejected, not Approved" in rejected


def test_require_approved_models_refuses_a_run_and_a_non_boolean(tmp_path):
    from tests.conftest import ROOT

    run = {"manifest": str(ROOT / "tests/fixtures/manifests/champion/manifest.json")}
    (problem,) = problems_of(config(True, champion=run), tmp_path)
    assert problem.startswith("variants[0]: champion uses a run")
    assert "xgbapi refresh-approval" in problem
    (problem,) = problems_of(config("yes", champion=run), tmp_path)
    assert problem == "endpoint.require_approved_models: must be true or false"


def test_the_refresh_approval_command_rewrites_the_approved_record(aws, tmp_path, capsys):
    from cli.main import main

    records = tmp_path / "models"
    champion = registered(aws, champion_record())
    assert champion.registry is not None
    path = model_record.write(champion, model_record.record_path("champion", records))
    approve(aws, champion.registry.model_package_arn)
    assert main(["refresh-approval", "--records-dir", str(records)]) == 0
    out = capsys.readouterr().out
    assert out == f"champion: Approved (was PendingManualApproval); wrote {path}, commit it\n"
    assert model_record.load(path).registry.approval_status == "Approved"
    assert main(["refresh-approval", "--variant", "champion", "--records-dir", str(records)]) == 0
    assert "champion: Approved (unchanged)" in capsys.readouterr().out
    # A variant without a record: one line naming the file and the fix, exit 2.
    assert main(["refresh-approval", "--variant", "canary", "--records-dir", str(records)]) == 2
    err = capsys.readouterr().err
    assert "canary.json" in err and "promote" in err


def test_a_libsvm_model_is_registered_with_the_content_type_the_lambda_sends():
    record = champion_record()
    sparse = dataclasses.replace(record, manifest=dataclasses.replace(record.manifest,
                                                                      input_format="libsvm"))
    assert registry.create_request(GROUP, sparse)["InferenceSpecification"][
        "SupportedContentTypes"] == ["text/libsvm"]
    assert registry.create_request(GROUP, record)["InferenceSpecification"][
        "SupportedContentTypes"] == ["text/csv"]
