"""SageMaker backend against moto (in-process): the exact requests, uploads, manifests, failures.

The backend starts its jobs through the SageMaker Python SDK; the requests the SDK sends are
captured with a botocore event hook on the boto3 session every client (ours and the SDK's) is
made from. moto accepts the jobs and reports them Completed at once but never writes artifacts
or transform output, so the transform test writes the output object itself when the job is
created. A failed job is something moto cannot produce: botocore's Stubber plays that part.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from training import aws_context, hyperparameters, local_runs, sagemaker_backend
from training import manifest as manifest_module
from training.cli import main
from training.data import Prepared
from training.images import image_uri

REGION = "us-east-1"
BUCKET = "xgb-demo-data-bucket-test"
ROLE = "arn:aws:iam::123456789012:role/xgb-demo-sagemaker"
IMAGE = image_uri(REGION, "3.0-5")


def _template(outputs: bool = True) -> str:
    template: dict[str, Any] = {"Resources": {"Bucket": {"Type": "AWS::S3::Bucket",
                                                         "Properties": {"BucketName": BUCKET}}}}
    if outputs:
        template["Outputs"] = {
            "DataBucketName": {"Value": {"Ref": "Bucket"}},
            "SageMakerExecutionRoleArn": {"Value": ROLE},
            "DataKeyArn": {"Value": "KEY_ARN"},
        }
    return json.dumps(template)


class Aws:
    """The moto account: a deployed Data stack, its KMS key, and every SageMaker request sent."""

    def __init__(self, tmp_path: Path) -> None:
        self.key_arn = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
        self.config = tmp_path / "config.toml"
        self.config.write_text('[project]\nprefix = "xgb-demo"\n')
        self.runs_dir = tmp_path / "runs"
        self.requests: dict[str, list[dict[str, Any]]] = {}
        self.on_request: dict[str, Any] = {}

    def deploy_data_stack(self, outputs: bool = True) -> None:
        boto3.client("cloudformation", region_name=REGION).create_stack(
            StackName="xgb-demo-data", TemplateBody=_template(outputs).replace("KEY_ARN", self.key_arn))

    def capture(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.requests.setdefault(model.name, []).append(copy.deepcopy(params))
        if model.name in self.on_request:
            self.on_request[model.name](params)

    def request(self, operation: str) -> dict[str, Any]:
        (only,) = self.requests[operation]
        return only

    def args(self, command: str, prepared: Prepared, *extra: str) -> list[str]:
        return [command, "--backend", "sagemaker", "--config", str(self.config), "--prepared",
                str(prepared.directory), "--runs-dir", str(self.runs_dir), *extra]


def _validate_sdk_config_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Speed only: the SDK re-validates its (constant) config against a JSON schema on every
    settings lookup, 0.2 s each and about ten per job; validate each distinct config once."""
    from sagemaker.core.config.config_manager import SageMakerConfig

    validate = SageMakerConfig.validate_sagemaker_config
    valid: list[dict[str, Any]] = []

    def once(config: dict[str, Any] | None = None) -> None:
        if config not in valid:
            validate(config)
            valid.append(copy.deepcopy(config))

    monkeypatch.setattr(SageMakerConfig, "validate_sagemaker_config", staticmethod(once))


@pytest.fixture
def aws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    monkeypatch.setattr(sagemaker_backend, "POLL_SECONDS", 0.0)
    _validate_sdk_config_once(monkeypatch)
    with mock_aws():
        state = Aws(tmp_path)
        original = aws_context.session

        def hooked(region: str) -> boto3.Session:
            made = original(region)
            # Clients copy the session's event hooks when created: this sees every request.
            made.events.register("before-parameter-build.sagemaker.*", state.capture)
            return made

        monkeypatch.setattr(aws_context, "session", hooked)
        yield state


def _definition_checks(definition: dict[str, Any], aws: Aws, variant: str) -> str:
    """The parts training and tuning jobs share; returns the run's dataset prefix."""
    assert definition["AlgorithmSpecification"] == {"TrainingImage": IMAGE, "TrainingInputMode": "File"}
    assert definition["RoleArn"] == ROLE
    channels = {c["ChannelName"]: c for c in definition["InputDataConfig"]}
    assert sorted(channels) == ["train", "validation"]
    uris = []
    for name, channel in channels.items():
        assert channel["ContentType"] == "text/csv"
        source = channel["DataSource"]["S3DataSource"]
        assert source["S3DataType"] == "S3Prefix"
        assert source["S3Uri"].startswith(f"s3://{BUCKET}/datasets/")
        assert source["S3Uri"].endswith(f"/{name}/")
        uris.append(source["S3Uri"])
    assert definition["OutputDataConfig"] == {"S3OutputPath": f"s3://{BUCKET}/models/{variant}/",
                                              "KmsKeyId": aws.key_arn, "CompressionType": "GZIP"}
    assert definition["ResourceConfig"] == {"InstanceType": "ml.m5.large", "InstanceCount": 1,
                                            "VolumeSizeInGB": 10, "VolumeKmsKeyId": aws.key_arn}
    assert definition["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600}
    # The uploads are where the channels read, encrypted with the Data stack's key.
    s3 = boto3.client("s3", region_name=REGION)
    for uri in uris:
        prefix = uri.removeprefix(f"s3://{BUCKET}/")
        (item,) = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)["Contents"]
        head = s3.head_object(Bucket=BUCKET, Key=item["Key"])
        assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == aws.key_arn
    return uris[0].rsplit("/", 3)[0]


def test_train_sends_the_training_job_and_writes_a_manifest(aws: Aws, prepared: Prepared) -> None:
    aws.deploy_data_stack()
    assert main(aws.args("train", prepared, "--variant", "champion")) == 0

    request = aws.request("CreateTrainingJob")
    assert request["HyperParameters"] == hyperparameters.DEFAULTS  # all strings, eval_metric included
    assert all(isinstance(v, str) for v in request["HyperParameters"].values())
    _definition_checks(request, aws, "champion")

    manifest = manifest_module.load(aws.runs_dir / "champion" / "latest")
    name = request["TrainingJobName"]
    assert manifest.source.kind == "sagemaker-training" and manifest.source.job_name == name
    # The SDK appends a timestamp to the base name, which carries the run id's random part.
    random_part = manifest.source.run_id.rsplit("-", 1)[1]
    assert name.startswith(f"xgb-demo-champion-{random_part}-") and len(name) <= 63
    assert manifest.model_data == f"s3://{BUCKET}/models/champion/{name}/output/model.tar.gz"
    assert manifest.artifact is None and manifest.image_uri == IMAGE
    assert manifest.feature_names == prepared.feature_names


def test_tune_sends_a_bayesian_tuning_job(aws: Aws, prepared: Prepared) -> None:
    aws.deploy_data_stack()
    # moto's tuning job names a best training job "FakeTrainingJobName"; make it exist.
    sm = boto3.client("sagemaker", region_name=REGION)
    sm.create_training_job(
        TrainingJobName="FakeTrainingJobName", HyperParameters={**hyperparameters.DEFAULTS, "max_depth": "7"},
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"}, RoleArn=ROLE,
        OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/models/challenger/"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 3600})
    assert main(aws.args("tune", prepared, "--variant", "challenger")) == 0

    request = aws.request("CreateHyperParameterTuningJob")
    assert len(request["HyperParameterTuningJobName"]) <= 32
    config = request["HyperParameterTuningJobConfig"]
    assert config["Strategy"] == "Bayesian"
    assert config["HyperParameterTuningJobObjective"] == {"Type": "Minimize", "MetricName": "validation:rmse"}
    assert config["ResourceLimits"] == {"MaxNumberOfTrainingJobs": 20, "MaxParallelTrainingJobs": 3}
    ranges = config["ParameterRanges"]
    assert ranges["IntegerParameterRanges"] == [
        {"Name": "max_depth", "MinValue": "3", "MaxValue": "12", "ScalingType": "Auto"}]
    assert {r["Name"]: (r["MinValue"], r["MaxValue"]) for r in ranges["ContinuousParameterRanges"]} == {
        "eta": ("0.05", "0.5"), "min_child_weight": ("2", "8"), "subsample": ("0.5", "0.9"),
        "gamma": ("0", "10")}
    definition = request["TrainingJobDefinition"]
    assert definition["StaticHyperParameters"] == {
        "objective": "reg:squarederror", "eval_metric": "rmse", "early_stopping_rounds": "10",
        "num_round": "200"}
    _definition_checks(definition, aws, "challenger")

    manifest = manifest_module.load(aws.runs_dir / "challenger" / "latest")
    assert manifest.source.kind == "sagemaker-tuning" and manifest.source.job_name == "FakeTrainingJobName"
    assert manifest.hyperparameters["max_depth"] == "7"
    assert manifest.model_data == f"s3://{BUCKET}/models/challenger/FakeTrainingJobName/output/model.tar.gz"


def test_evaluate_runs_a_batch_transform_and_scores_it(aws: Aws, prepared: Prepared) -> None:
    aws.deploy_data_stack()
    assert main(aws.args("train", prepared)) == 0
    _, labels = prepared.load_test()

    def transform_writes_output(params: dict[str, Any]) -> None:
        # Stand in for the container: one prediction per line (label + 1, so RMSE is exactly 1).
        out = params["TransformOutput"]["S3OutputPath"].removeprefix(f"s3://{BUCKET}/")
        body = "\n".join(repr(float(v) + 1) for v in labels) + "\n"
        boto3.client("s3", region_name=REGION).put_object(Bucket=BUCKET, Key=f"{out}test.csv.out",
                                                          Body=body.encode())

    aws.on_request["CreateTransformJob"] = transform_writes_output
    assert main(aws.args("evaluate", prepared, "--variant", "champion")) == 0

    request = aws.request("CreateTransformJob")
    assert request["BatchStrategy"] == "MultiRecord" and request["MaxPayloadInMB"] == 6
    transform_input = request["TransformInput"]
    assert transform_input["ContentType"] == "text/csv" and transform_input["SplitType"] == "Line"
    assert transform_input["DataSource"]["S3DataSource"]["S3Uri"].startswith(f"s3://{BUCKET}/batch-transform/")
    assert request["TransformOutput"]["S3OutputPath"].startswith(f"s3://{BUCKET}/batch-transform/")
    assert request["TransformOutput"]["Accept"] == "text/csv"
    assert request["TransformOutput"]["KmsKeyId"] == aws.key_arn
    model = aws.request("CreateModel")
    assert model["ModelName"] == request["ModelName"]
    assert model["PrimaryContainer"]["Image"] == IMAGE
    assert aws.request("DeleteModel")["ModelName"] == model["ModelName"]  # evaluation model cleaned up

    manifest = manifest_module.load(aws.runs_dir / "champion" / "latest")
    assert manifest.metrics["rmse"] == pytest.approx(1.0) and manifest.metrics["mae"] == pytest.approx(1.0)
    assert "r2" in manifest.metrics


def test_publish_uploads_a_local_artifact_under_models(aws: Aws, prepared: Prepared) -> None:
    aws.deploy_data_stack()
    run = local_runs.train_run(prepared, aws.runs_dir, "champion", hyperparameters.with_overrides([]),
                               "3.0-5", REGION)
    assert main(["publish", "--config", str(aws.config), "--run", str(run)]) == 0
    manifest = manifest_module.load(run)
    key = f"models/champion/published/{run.name}/model.tar.gz"
    assert manifest.model_data == f"s3://{BUCKET}/{key}" and manifest.artifact == "model.tar.gz"
    s3 = boto3.client("s3", region_name=REGION)
    head = s3.head_object(Bucket=BUCKET, Key=key)
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == aws.key_arn
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == (run / "model.tar.gz").read_bytes()


def _failed_description(name: str) -> dict[str, Any]:
    return {"TrainingJobName": name,
            "TrainingJobArn": f"arn:aws:sagemaker:{REGION}:123456789012:training-job/x",
            "ModelArtifacts": {"S3ModelArtifacts": ""}, "TrainingJobStatus": "Failed",
            "SecondaryStatus": "Failed", "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
            "CreationTime": datetime(2026, 11, 27, tzinfo=UTC),
            "FailureReason": "AlgorithmError: label column has NaN"}


def _stub_sagemaker(monkeypatch: pytest.MonkeyPatch, queue: Callable[[Stubber, Any], None]) -> list[Stubber]:
    """Every SageMaker client made from the backend's session is one client with a Stubber.

    The SDK makes its own clients from that session: sharing one stubbed client makes its queue
    the job's whole life as the backend and the SDK see it. ``queue`` fills it.
    """
    original = aws_context.session
    stubbers: list[Stubber] = []

    def stubbed(region: str) -> boto3.Session:
        made = original(region)
        make_client = made.client
        shared = make_client("sagemaker")
        stubber = Stubber(shared)
        queue(stubber, shared)
        stubber.activate()
        stubbers.append(stubber)

        def client(service: str, *args: Any, **kwargs: Any) -> Any:
            return shared if service == "sagemaker" else make_client(service, *args, **kwargs)

        made.client = client  # type: ignore[method-assign]
        return made

    monkeypatch.setattr(aws_context, "session", stubbed)
    return stubbers


def test_a_failed_training_job_is_a_clear_error_and_writes_no_run(
        aws: Aws, prepared: Prepared, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    aws.deploy_data_stack()

    def queue(stubber: Stubber, client: Any) -> None:
        failed = _failed_description("x")
        in_progress = {**failed, "TrainingJobStatus": "InProgress", "SecondaryStatus": "Training"}
        stubber.add_response("create_training_job", {"TrainingJobArn": "arn:x"})
        stubber.add_response("describe_training_job", in_progress)  # the SDK reads the job it created
        stubber.add_response("describe_training_job", in_progress)  # first poll
        stubber.add_response("describe_training_job", failed)

        def echo_name(params: dict[str, Any], **_: Any) -> None:
            for description in (in_progress, failed):  # queued by reference: describe the submitted job
                description["TrainingJobName"] = params["TrainingJobName"]

        client.meta.events.register("before-parameter-build.sagemaker.CreateTrainingJob", echo_name)

    stubbers = _stub_sagemaker(monkeypatch, queue)
    assert main(aws.args("train", prepared)) == 2
    err = capsys.readouterr().err
    assert ": InProgress (" in err  # progress lines while waiting
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: training job xgb-demo-champion-") and "failed: AlgorithmError" in last
    assert "Traceback" not in err
    stubbers[0].assert_no_pending_responses()
    assert not (aws.runs_dir / "champion").exists()  # nothing written for the failed run


def test_a_refused_job_is_a_one_line_error(aws: Aws, prepared: Prepared, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    aws.deploy_data_stack()

    def queue(stubber: Stubber, _: Any) -> None:
        stubber.add_client_error("create_hyper_parameter_tuning_job", "ResourceLimitExceeded",
                                 "The account-level service limit for ml.m5.large is 0 Instances")

    stubbers = _stub_sagemaker(monkeypatch, queue)
    assert main(aws.args("tune", prepared)) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        "error: SageMaker CreateHyperParameterTuningJob failed: The account-level service limit for "
        "ml.m5.large is 0 Instances; fix the cause named there (quota, permissions, region) and retry"]
    stubbers[0].assert_no_pending_responses()
    assert not (aws.runs_dir / "challenger").exists()


def test_ctrl_c_while_waiting_says_how_to_stop_the_job() -> None:
    lines: list[str] = []

    def interrupted() -> tuple[str, str | None]:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sagemaker_backend.wait(interrupted, kind="training job", name="job-1",
                               stop_hint="aws sagemaker stop-training-job --training-job-name job-1",
                               poll_seconds=0, say=lines.append)
    assert "still running in AWS" in lines[-1] and "stop-training-job --training-job-name job-1" in lines[-1]


def test_the_sdk_is_imported_only_when_a_sagemaker_job_starts(prepared: Prepared, tmp_path: Path) -> None:
    import subprocess
    import sys

    code = "\n".join([
        "import contextlib, sys",
        "from training import cli, sagemaker_backend",
        f"args = ['train', '--prepared', {str(prepared.directory)!r}, '--runs-dir', {str(tmp_path)!r}]",
        "assert cli.main(args) == 0",
        "with contextlib.suppress(SystemExit):",
        "    cli.main(['train', '--help'])",
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'sagemaker'))",
    ])
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("framework_version", ["1.7-1", "3.0-5"])
def test_image_registry_matches_the_sdk(framework_version: str) -> None:
    # training/images.py copies the SDK's registry accounts so synth needs no SDK: keep them equal.
    from sagemaker.core import image_uris

    from training.images import registry_accounts, repository_name

    sdk = image_uris.config_for_framework("xgboost")["training"]["versions"][framework_version]
    assert sdk["repository"] == repository_name()
    ours = registry_accounts()
    assert ours == {region: sdk["registries"][region] for region in ours}
    assert {r for r in sdk["registries"] if not r.startswith(("us-iso", "eu-iso"))} == set(ours)
    # The full URI as the SDK builds it, one region per partition (each call parses botocore's
    # endpoint table, so not all of them).
    for region in ("us-east-1", "eu-west-1", "cn-north-1", "us-gov-west-1"):
        assert image_uri(region, framework_version) == image_uris.retrieve(
            "xgboost", region=region, version=framework_version), region
