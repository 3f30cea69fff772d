"""xgbapi promote against moto (in-process): publish with a SHA256 checksum, check the S3 object
against the local file, write the model record, and synthesize a deploy config that names it."""

from __future__ import annotations

import base64
import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from cli.main import main
from contract import manifest as manifest_module
from contract import model_record
from contract.errors import CliError
from tests.conftest import FIXTURES, synthesize
from tests.training.test_sagemaker_backend import BUCKET, REGION, Aws
from training import promote

CHALLENGER_RUN = FIXTURES / "manifests" / "challenger"
CHAMPION_MANIFEST = FIXTURES / "manifests" / "champion" / "manifest.json"
RUN_ID = "20261102T090000Z-chall"

DEPLOY_CONFIG = """
[project]
prefix = "xgb-demo"

[[variants]]
name = "champion"
record = "{record}"
weight = 1
instance_type = "ml.m5.large"
instance_count = 1
"""


@pytest.fixture
def aws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    monkeypatch.chdir(tmp_path)  # records go to ./models by default
    with mock_aws():
        state = Aws(tmp_path)
        state.deploy_data_stack()
        yield state


def local_run(aws: Aws, variant: str = "champion") -> Path:
    """A run trained on this machine (the challenger fixture: a local artifact, no model_data)."""
    run = aws.runs_dir / variant / RUN_ID
    shutil.copytree(CHALLENGER_RUN, run)
    (aws.runs_dir / variant / "latest").symlink_to(RUN_ID)
    return run


def s3() -> Any:
    return boto3.client("s3", region_name=REGION)


def promote_args(aws: Aws, *extra: str) -> list[str]:
    return ["promote", "--config", str(aws.config), "--runs-dir", str(aws.runs_dir), *extra]


def test_promote_publishes_a_local_run_checks_it_and_writes_the_record(aws, tmp_path, capsys):
    run = local_run(aws)
    assert main(promote_args(aws, "--variant", "champion")) == 0
    key = f"models/champion/published/{RUN_ID}/model.tar.gz"
    uri = f"s3://{BUCKET}/{key}"
    local = (run / "model.tar.gz").read_bytes()
    digest = hashlib.sha256(local).hexdigest()

    # publish uploaded with a SHA256 checksum S3 keeps (and SSE-KMS as before).
    head = s3().head_object(Bucket=BUCKET, Key=key, ChecksumMode="ENABLED")
    assert base64.b64decode(head["ChecksumSHA256"]).hex() == digest
    assert head["ServerSideEncryption"] == "aws:kms"
    assert manifest_module.load(run).model_data == uri  # the run remembers it is published

    record = model_record.load(tmp_path / "models" / "champion.json")
    assert record.variant == "champion" and record.registry is None
    assert record.artifact.s3_uri == uri and record.artifact.sha256 == digest
    assert record.artifact.size_bytes == len(local)
    assert record.artifact.etag == head["ETag"].strip('"')
    assert record.manifest.model_data == uri and record.manifest.artifact is None
    assert record.manifest.source.run_id == RUN_ID
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"published {uri}"
    assert out[1] == (f"promoted {RUN_ID} as champion: {uri} ({len(local)} bytes, sha256 {digest})")
    assert out[2] == ("wrote models/champion.json; commit it (git add models/champion.json) and "
                      'point the deploy config\'s variant champion at it: record = "models/champion.json"')

    # Promoting the same run again publishes nothing new and writes the same bytes.
    before = (tmp_path / "models" / "champion.json").read_bytes()
    assert main(promote_args(aws, "--variant", "champion")) == 0
    assert not capsys.readouterr().out.startswith("published")
    assert (tmp_path / "models" / "champion.json").read_bytes() == before

    # A deploy config naming the record synthesizes a Model serving exactly that S3 object.
    config = tmp_path / "deploy.toml"
    config.write_text(DEPLOY_CONFIG.format(record=tmp_path / "models" / "champion.json"))
    templates = synthesize(config, tmp_path / "cdk.out")
    models = [r for r in templates.template("inference")["Resources"].values()
              if r["Type"] == "AWS::SageMaker::Model"]
    assert [m["Properties"]["PrimaryContainer"]["ModelDataUrl"] for m in models] == [uri]


def test_a_sagemaker_trained_run_is_recorded_with_its_etag(aws, tmp_path):
    loaded = manifest_module.load(CHAMPION_MANIFEST)
    uri = f"s3://{BUCKET}/models/champion/job/output/model.tar.gz"
    run = aws.runs_dir / "champion" / "r1"
    manifest_module.write(loaded.with_updates(model_data=uri), run)
    put = s3().put_object(Bucket=BUCKET, Key="models/champion/job/output/model.tar.gz", Body=b"x" * 10)
    assert main(promote_args(aws, "--variant", "champion", "--run", str(run))) == 0
    record = model_record.load(tmp_path / "models" / "champion.json")
    # SageMaker writes no SHA256 checksum: the ETag identifies the object.
    assert record.artifact == model_record.ArtifactRef(uri, 10, None, put["ETag"].strip('"'))
    assert record.manifest.source.job_name == loaded.source.job_name


def test_a_run_can_be_promoted_into_another_slot(aws, tmp_path):
    run = local_run(aws, variant="challenger")
    records = tmp_path / "records"
    assert main(promote_args(aws, "--variant", "champion", "--run", str(run),
                             "--records-dir", str(records))) == 0
    record = model_record.load(records / "champion.json")
    assert record.variant == "champion"
    assert record.artifact.s3_uri.endswith(f"/models/challenger/published/{RUN_ID}/model.tar.gz")


def error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err.strip()


def test_a_missing_object_is_a_one_line_error(aws, tmp_path, capsys):
    uri = f"s3://{BUCKET}/models/champion/gone/model.tar.gz"
    run = aws.runs_dir / "champion" / "r1"
    manifest_module.write(manifest_module.load(CHAMPION_MANIFEST).with_updates(model_data=uri), run)
    assert main(promote_args(aws, "--variant", "champion", "--run", str(run))) == 2
    assert error_line(capsys) == (
        f"error: the model object {uri} does not exist; check the URI in {run}'s manifest "
        f"(model_data); for a run trained on this machine publish it again (xgbapi publish --run "
        f"{run}), then promote")
    assert not (tmp_path / "models").exists()


def test_a_checksum_mismatch_is_a_one_line_error(aws, tmp_path, capsys):
    run = local_run(aws)
    assert main(["publish", "--config", str(aws.config), "--run", str(run)]) == 0
    key = f"models/champion/published/{RUN_ID}/model.tar.gz"
    # Someone replaced the object after publishing.
    s3().put_object(Bucket=BUCKET, Key=key, Body=b"not the model", ChecksumAlgorithm="SHA256")
    capsys.readouterr()
    assert main(promote_args(aws, "--variant", "champion")) == 2
    local = run / "model.tar.gz"
    line = error_line(capsys)
    assert line.startswith(f"error: {local.resolve()} ({local.stat().st_size} bytes, sha256 "
                           f"{hashlib.sha256(local.read_bytes()).hexdigest()}) differs from "
                           f"s3://{BUCKET}/{key} (13 bytes, sha256 "
                           f"{hashlib.sha256(b'not the model').hexdigest()})")
    assert line.endswith(f"; publish the run again (xgbapi publish --run {aws.runs_dir}/champion/"
                         "latest), then promote")
    assert not (tmp_path / "models").exists()


def test_an_object_without_a_sha256_cannot_vouch_for_a_local_file(aws, capsys):
    run = local_run(aws)
    uri = f"s3://{BUCKET}/models/champion/old/model.tar.gz"
    manifest = manifest_module.load(run)
    manifest_module.write(manifest.with_updates(model_data=uri), run)
    s3().put_object(Bucket=BUCKET, Key="models/champion/old/model.tar.gz",
                    Body=(run / "model.tar.gz").read_bytes())  # botocore's default: CRC32 only
    assert main(promote_args(aws, "--variant", "champion")) == 2
    assert error_line(capsys).startswith(f"error: {uri} carries no SHA256 checksum, so it cannot "
                                         "be checked against")


def test_variant_is_required_and_checked(aws, capsys):
    with pytest.raises(SystemExit):
        main(["promote"])
    capsys.readouterr()
    assert main(promote_args(aws, "--variant", "bad name")) == 2


class FakeS3:
    """GetObjectAttributes refused (no permission / not implemented): HeadObject answers."""

    def __init__(self, code: str, head: dict[str, Any]) -> None:
        self.code, self.head = code, head

    def get_object_attributes(self, **_: Any) -> Any:
        raise ClientError({"Error": {"Code": self.code, "Message": "no"}}, "GetObjectAttributes")

    def head_object(self, **kwargs: Any) -> dict[str, Any]:
        assert kwargs["ChecksumMode"] == "ENABLED"
        return self.head


def test_head_object_is_the_fallback_and_composite_checksums_are_not_trusted(tmp_path):
    digest = hashlib.sha256(b"model").digest()
    head = {"ContentLength": 5, "ETag": '"abc"', "ChecksumSHA256": base64.b64encode(digest).decode()}
    found = promote.describe_object(FakeS3("AccessDenied", head), "s3://b-bucket/k", run=tmp_path)
    assert found == promote.S3Object(5, "abc", digest.hex())
    composite = dict(head, ChecksumSHA256=head["ChecksumSHA256"] + "-3", ChecksumType="COMPOSITE")
    found = promote.describe_object(FakeS3("NotImplemented", composite), "s3://b-bucket/k",
                                    run=tmp_path)
    assert found.sha256 is None
    with pytest.raises(CliError, match="S3 GetObjectAttributes of s3://b-bucket/k failed"):
        promote.describe_object(FakeS3("SlowDown", head), "s3://b-bucket/k", run=tmp_path)


def test_register_creates_a_pending_model_package_and_keeps_it_in_the_record(aws, tmp_path):
    from training import registry  # noqa: F401  (the project's own module: never skipped)
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    sagemaker.create_model_package_group(ModelPackageGroupName="xgb-demo-models")
    local_run(aws)
    assert main(promote_args(aws, "--variant", "champion", "--register")) == 0
    record = model_record.load(tmp_path / "models" / "champion.json")
    assert record.registry is not None and record.registry.approval_status == "PendingManualApproval"
    described = sagemaker.describe_model_package(ModelPackageName=record.registry.model_package_arn)
    (container,) = described["InferenceSpecification"]["Containers"]
    assert container["ModelDataUrl"] == record.artifact.s3_uri
    assert container["Image"] == record.manifest.image_uri
    assert described["ModelPackageGroupName"] == "xgb-demo-models"
