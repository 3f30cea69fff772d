"""`xgbapi status` compares each live model's ModelDataUrl with the config's model records (moto).

The endpoint runs the Inference stack's config (created in moto's CloudFormation); a model whose
ModelDataUrl differs from its record is a DRIFT line and exit 1, like a rolled-back config. So is
a model on the record's URI whose S3 object was overwritten or deleted since promote (HeadObject:
ETag and size against the record's).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from cli.main import EXIT_USAGE, main
from contract import model_record
from contract.model_record import ModelRecord
from operations import endpoint as ops
from tests.config.test_model_record import challenger_record, champion_record
from tests.conftest import ROOT

REGION = "us-east-1"
PREFIX = "xgb-drift"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5"
CHAMPION_URI = champion_record().artifact.s3_uri
CHALLENGER_URI = challenger_record().artifact.s3_uri
OTHER_URI = "s3://xgb-demo-data-bucket-example/models/challenger/hotfix/model.tar.gz"


def config(challenger: str) -> str:
    return f"""
[project]
prefix = "{PREFIX}"

[[variants]]
name = "champion"
record = "models/champion.json"
weight = 0.9

[[variants]]
name = "challenger"
{challenger}
weight = 0.1
"""


def template(urls: dict[str, str]) -> dict:
    """The Inference stack reduced to what `status` reads: models, endpoint config."""
    resources: dict = {}
    variants = []
    for name, url in urls.items():
        resources[f"{name}model"] = {"Type": "AWS::SageMaker::Model", "Properties": {
            "ExecutionRoleArn": "arn:aws:iam::123456789012:role/sagemaker",
            "PrimaryContainer": {"Image": IMAGE, "ModelDataUrl": url}}}
        variants.append({"VariantName": name, "ModelName": {"Fn::GetAtt": [f"{name}model", "ModelName"]},
                         "InitialVariantWeight": 0.9 if name == "champion" else 0.1,
                         "InstanceType": "ml.m5.large", "InitialInstanceCount": 1})
    resources["EndpointConfig"] = {"Type": "AWS::SageMaker::EndpointConfig",
                                   "Properties": {"ProductionVariants": variants}}
    return {"Resources": resources}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A project directory (cwd) with committed records, on moto with credentials."""
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SAGEMAKER"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.chdir(tmp_path)
    with mock_aws():
        boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
        for record in (champion_record(), challenger_record()):
            model_record.write(upload(record, b"model bytes of " + record.variant.encode()),
                               model_record.record_path(record.variant, tmp_path / "models"))
        yield tmp_path


BUCKET = CHAMPION_URI.removeprefix("s3://").split("/", 1)[0]


def upload(record: ModelRecord, body: bytes) -> ModelRecord:
    """Put ``body`` at the record's URI; the record as promote writes it (S3's ETag and size)."""
    key = record.artifact.s3_uri.removeprefix(f"s3://{BUCKET}/")
    put = boto3.client("s3", region_name=REGION).put_object(Bucket=BUCKET, Key=key, Body=body)
    return dataclasses.replace(record, artifact=dataclasses.replace(
        record.artifact, etag=put["ETag"].strip('"'), size_bytes=len(body)))


def deploy(urls: dict[str, str]) -> None:
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    stack = f"{PREFIX}-inference"
    cloudformation.create_stack(StackName=stack, TemplateBody=json.dumps(template(urls)))
    (resource,) = [r for r in cloudformation.list_stack_resources(StackName=stack)["StackResourceSummaries"]
                   if r["LogicalResourceId"] == "EndpointConfig"]
    config_name = resource["PhysicalResourceId"].rsplit("/", 1)[-1]
    boto3.client("sagemaker", region_name=REGION).create_endpoint(
        EndpointName=f"{PREFIX}-endpoint", EndpointConfigName=config_name)


def status(project: Path, capsys: pytest.CaptureFixture[str], challenger: str) -> tuple[int, str]:
    (project / "deploy.toml").write_text(config(challenger))
    code = main(["status", "--config", "deploy.toml"])
    return code, capsys.readouterr().out


RECORD = 'record = "models/challenger.json"'


def test_live_models_that_serve_their_records_match(project, capsys):
    deploy({"champion": CHAMPION_URI, "challenger": CHALLENGER_URI})
    code, out = status(project, capsys, RECORD)
    assert code == 0, out
    assert "config in sync: yes" in out
    assert "  champion: matches models/champion.json" in out.splitlines()
    assert "  challenger: matches models/challenger.json" in out.splitlines()
    assert "DRIFT" not in out


def test_a_live_model_on_another_artifact_is_drift_and_exit_1(project, capsys):
    deploy({"champion": CHAMPION_URI, "challenger": OTHER_URI})
    code, out = status(project, capsys, RECORD)
    assert code == 1, out
    assert "config in sync: yes" in out  # the stack's config runs: the models themselves drifted
    lines = out.splitlines()
    assert "  champion: matches models/champion.json" in lines
    assert f"  challenger: DRIFT: runs {OTHER_URI}, models/challenger.json says {CHALLENGER_URI}" in lines
    assert "WARNING: a live model does not serve its record's artifact" in out


def test_a_variant_on_a_run_has_no_record_to_compare(project, capsys):
    deploy({"champion": CHAMPION_URI, "challenger": OTHER_URI})
    run = f'manifest = "{ROOT}/tests/fixtures/manifests/challenger/manifest.json"'
    code, out = status(project, capsys, run)
    assert code == 0, out
    assert "  champion: matches models/champion.json" in out.splitlines()
    assert "  challenger: no record (config uses a run)" in out.splitlines()


def test_an_object_overwritten_since_promote_is_drift_naming_what_changed(project, capsys):
    deploy({"champion": CHAMPION_URI, "challenger": CHALLENGER_URI})
    record = model_record.load(project / "models" / "challenger.json")
    overwritten = upload(record, b"another model, same key")  # the URI still matches the record
    code, out = status(project, capsys, RECORD)
    assert code == 1, out
    lines = out.splitlines()
    assert "  champion: matches models/champion.json" in lines
    assert (f"  challenger: DRIFT: object at {CHALLENGER_URI} changed since promote: "
            f"etag {overwritten.artifact.etag}, record says {record.artifact.etag}; "
            f"size {overwritten.artifact.size_bytes} bytes, record says "
            f"{record.artifact.size_bytes} (models/challenger.json)") in lines
    assert "WARNING: a live model does not serve its record's artifact" in out


def test_an_object_deleted_since_promote_is_drift(project, capsys):
    deploy({"champion": CHAMPION_URI, "challenger": CHALLENGER_URI})
    boto3.client("s3", region_name=REGION).delete_object(
        Bucket=BUCKET, Key=CHAMPION_URI.removeprefix(f"s3://{BUCKET}/"))
    code, out = status(project, capsys, RECORD)
    assert code == 1, out
    assert (f"  champion: DRIFT: object at {CHAMPION_URI} is missing (deleted since promote) "
            "(models/champion.json)") in out.splitlines()
    assert "  challenger: matches models/challenger.json" in out.splitlines()


def test_an_s3_error_other_than_missing_is_one_error(project, capsys, monkeypatch):
    deploy({"champion": CHAMPION_URI, "challenger": CHALLENGER_URI})

    def clients(service: str, region: str):
        client = boto3.client(service, region_name=region)
        if service == "s3":
            stubber = Stubber(client)
            stubber.add_client_error("head_object", "403", "Forbidden", 403)
            stubber.activate()
        return client

    monkeypatch.setattr(ops, "_boto3_client", clients)
    (project / "deploy.toml").write_text(config(RECORD))
    code = main(["status", "--config", "deploy.toml"])
    err = capsys.readouterr().err
    assert code == EXIT_USAGE
    assert err.startswith(f"error: S3 HeadObject of {CHAMPION_URI} failed: Forbidden; check that "
                          "the credentials may call s3:GetObject"), err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_a_config_without_records_prints_no_models_block(project, capsys):
    deploy({"champion": CHAMPION_URI, "challenger": OTHER_URI})
    run = f'manifest = "{ROOT}/tests/fixtures/manifests/challenger/manifest.json"'
    champion = f'manifest = "{ROOT}/tests/fixtures/manifests/champion/manifest.json"'
    (project / "deploy.toml").write_text(config(run).replace('record = "models/champion.json"',
                                                             champion))
    code = main(["status", "--config", "deploy.toml"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "models (live endpoint vs the config's records)" not in out
    assert "no record" not in out


def test_a_record_variant_missing_from_the_endpoint_is_drift(project, capsys):
    deploy({"champion": CHAMPION_URI})
    code, out = status(project, capsys, RECORD)
    assert code == 1, out
    assert (f"  challenger: DRIFT: not on the endpoint, models/challenger.json says {CHALLENGER_URI}"
            in out.splitlines())
