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
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from cli.main import main
from contract import manifest as manifest_module
from contract.images import image_uri
from deployed import aws as aws_context
from training import data, dry_run, hyperparameters, local_runs, runs, sagemaker_backend
from training.data import Prepared

# The sagemaker backend reads the deployment config (its prefix names the Data stack).
MINIMAL_CONFIG = ('[project]\nprefix = "xgb-demo"\n[[variants]]\nname = "champion"\n'
                  'manifest = "runs/champion/latest/manifest.json"\nweight = 1\n'
                  'instance_type = "ml.m5.large"\ninstance_count = 1\n')

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
        self.config.write_text(MINIMAL_CONFIG)
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


def _moto_best_training_job() -> None:
    """moto's tuning job names a best training job "FakeTrainingJobName"; make it exist."""
    sm = boto3.client("sagemaker", region_name=REGION)
    sm.create_training_job(
        TrainingJobName="FakeTrainingJobName", HyperParameters={**hyperparameters.DEFAULTS, "max_depth": "7"},
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"}, RoleArn=ROLE,
        OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/models/challenger/"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 3600})


def test_tune_sends_a_bayesian_tuning_job(aws: Aws, prepared: Prepared) -> None:
    aws.deploy_data_stack()
    _moto_best_training_job()
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


def _transform_writes_output(aws: Aws, prepared: Prepared) -> None:
    """Stand in for the container: one output file per test shard, one prediction per line
    (label + 1, so RMSE is exactly 1)."""

    def write(params: dict[str, Any]) -> None:
        out = params["TransformOutput"]["S3OutputPath"].removeprefix(f"s3://{BUCKET}/")
        for shard, labels in zip(prepared.shards["test"], data.test_label_batches(prepared), strict=True):
            body = "\n".join(repr(float(v) + 1) for v in labels) + "\n"
            boto3.client("s3", region_name=REGION).put_object(
                Bucket=BUCKET, Key=f"{out}{Path(shard.file).name}.out", Body=body.encode())

    aws.on_request["CreateTransformJob"] = write


def test_evaluate_runs_a_batch_transform_and_scores_it(aws: Aws, prepared: Prepared) -> None:
    aws.deploy_data_stack()
    assert main(aws.args("train", prepared)) == 0
    _transform_writes_output(aws, prepared)
    assert main(aws.args("evaluate", prepared, "--variant", "champion")) == 0

    request = aws.request("CreateTransformJob")
    assert request["BatchStrategy"] == "MultiRecord" and request["MaxPayloadInMB"] == 6
    transform_input = request["TransformInput"]
    assert transform_input["ContentType"] == "text/csv" and transform_input["SplitType"] == "Line"
    assert transform_input["DataSource"]["S3DataSource"]["S3Uri"] == \
        f"s3://{BUCKET}/datasets/{prepared.fingerprint()}/test/"
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
    assert err.strip().splitlines()[-1:] == [
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
        "from cli import main as cli",
        "from training import sagemaker_backend",
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
    # contract/images.py copies the SDK's registry accounts so synth needs no SDK: keep them equal.
    from sagemaker.core import image_uris

    from contract.images import registry_accounts, repository_name

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


# Dry runs: the same code path as the submissions above, stopped before the job request is sent.

RUN_ID = "20261127T220501Z-1a2b3c"
_SDK_TIMESTAMP = re.compile(r"-\d{14}$")  # ModelTrainer's "-YYYYmmddHHMMSS" (its own clock)
DRY_RUN_OPERATIONS = {"train": ["CreateTrainingJob"], "tune": ["CreateHyperParameterTuningJob"],
                      "evaluate": ["CreateModel", "CreateTransformJob"]}


def _normalized(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Only the SDK's timestamp in a training job name (and so in its model's S3 key) differs
    between two runs; the run id (job names, S3 prefixes) is fixed by the tests."""
    for document in documents:
        parameters = document["parameters"]
        if "TrainingJobName" in parameters:
            parameters["TrainingJobName"] = _SDK_TIMESTAMP.sub("-<timestamp>", parameters["TrainingJobName"])
        container = parameters.get("PrimaryContainer", {})
        if "ModelDataUrl" in container:
            container["ModelDataUrl"] = re.sub(r"-\d{14}/output/", "-<timestamp>/output/",
                                               container["ModelDataUrl"])
    return documents


def _sent(aws: Aws, operations: list[str]) -> list[dict[str, Any]]:
    """What the real submission sent, as botocore received it (not through the dry run's rendering)."""
    return _normalized([{"operation": operation, "parameters": copy.deepcopy(aws.request(operation))}
                        for operation in operations])


def _channels(input_mode: bool, dataset: str) -> list[dict[str, Any]]:
    return [{"ChannelName": channel, "DataSource": {"S3DataSource": {
                "S3DataType": "S3Prefix",
                "S3Uri": f"s3://{BUCKET}/datasets/{dataset}/{channel}/",
                "S3DataDistributionType": "FullyReplicated"}},
             "ContentType": "text/csv", **({"InputMode": "File"} if input_mode else {})}
            for channel in ("train", "validation")]


def expected_requests(command: str, key: str, dataset: str) -> list[dict[str, Any]]:
    """The requests each command sends, written out: the contract the dry run and the real
    submission are both held to (literal values, not the code's own constants). ``dataset``:
    the prepared data's fingerprint, which names its S3 folder."""
    image = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5"
    algorithm = {"TrainingInputMode": "File", "TrainingImage": image}
    output = {"KmsKeyId": key, "CompressionType": "GZIP"}
    resources = {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10,
                 "VolumeKmsKeyId": key}
    if command == "train":
        return [{"operation": "CreateTrainingJob", "parameters": {
            "TrainingJobName": "xgb-demo-champion-1a2b3c-<timestamp>",
            "HyperParameters": {"max_depth": "5", "eta": "0.2", "gamma": "4", "min_child_weight": "6",
                                "subsample": "0.8", "objective": "reg:squarederror",
                                "eval_metric": "rmse", "early_stopping_rounds": "10",
                                "num_round": "200"},
            "AlgorithmSpecification": algorithm, "RoleArn": ROLE,
            "InputDataConfig": _channels(input_mode=True, dataset=dataset),
            "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/models/champion/", **output},
            "ResourceConfig": resources, "StoppingCondition": {"MaxRuntimeInSeconds": 3600}}}]
    if command == "tune":
        def auto(name: str, low: str, high: str) -> dict[str, str]:
            return {"Name": name, "MinValue": low, "MaxValue": high, "ScalingType": "Auto"}

        return [{"operation": "CreateHyperParameterTuningJob", "parameters": {
            "HyperParameterTuningJobName": "xgb-demo-20261127220501-1a2b3c",
            "HyperParameterTuningJobConfig": {
                "Strategy": "Bayesian",
                "ResourceLimits": {"MaxParallelTrainingJobs": 3, "MaxNumberOfTrainingJobs": 20},
                "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "validation:rmse"},
                "ParameterRanges": {
                    "IntegerParameterRanges": [auto("max_depth", "3", "12")],
                    "ContinuousParameterRanges": [auto("eta", "0.05", "0.5"),
                                                  auto("min_child_weight", "2", "8"),
                                                  auto("subsample", "0.5", "0.9"),
                                                  auto("gamma", "0", "10")]},
                "TrainingJobEarlyStoppingType": "Off"},
            "TrainingJobDefinition": {
                "AlgorithmSpecification": algorithm, "RoleArn": ROLE,
                "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/models/challenger/", **output},
                "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
                "StaticHyperParameters": {"objective": "reg:squarederror", "eval_metric": "rmse",
                                          "early_stopping_rounds": "10", "num_round": "200"},
                "InputDataConfig": _channels(input_mode=False, dataset=dataset),
                "ResourceConfig": resources}}}]
    name = f"xgb-demo-eval-{RUN_ID}"
    return [
        {"operation": "CreateModel", "parameters": {
            "ModelName": name, "ExecutionRoleArn": ROLE,
            "PrimaryContainer": {"Image": image, "ModelDataUrl": (
                f"s3://{BUCKET}/models/champion/xgb-demo-champion-1a2b3c-<timestamp>/output/model.tar.gz")}}},
        {"operation": "CreateTransformJob", "parameters": {
            "TransformJobName": name, "ModelName": name,
            "TransformInput": {
                "DataSource": {"S3DataSource": {
                    "S3DataType": "S3Prefix",
                    "S3Uri": f"s3://{BUCKET}/datasets/{dataset}/test/"}},
                "ContentType": "text/csv", "CompressionType": "None", "SplitType": "Line"},
            "TransformOutput": {"S3OutputPath": f"s3://{BUCKET}/batch-transform/{RUN_ID}/output/",
                                "Accept": "text/csv", "AssembleWith": "Line", "KmsKeyId": key},
            "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1,
                                   "VolumeKmsKeyId": key},
            "BatchStrategy": "MultiRecord", "MaxPayloadInMB": 6}},
    ]


@pytest.mark.parametrize("command", ["train", "tune", "evaluate"])
def test_the_dry_run_prints_exactly_what_the_real_submission_sends(
        command: str, aws: Aws, prepared: Prepared, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(runs, "new_run_id", lambda now=None: RUN_ID)  # the same run id for both
    aws.deploy_data_stack()
    if command == "evaluate":
        assert main(aws.args("train", prepared)) == 0
        _transform_writes_output(aws, prepared)
        aws.requests.clear()
    if command == "tune":
        _moto_best_training_job()
    s3 = boto3.client("s3", region_name=REGION)
    objects_before = s3.list_objects_v2(Bucket=BUCKET).get("KeyCount", 0)
    runs_before = sorted(p.relative_to(aws.runs_dir) for p in aws.runs_dir.rglob("*")) \
        if aws.runs_dir.exists() else []
    capsys.readouterr()

    stack_values = ["--bucket", BUCKET, "--role-arn", ROLE, "--kms-key-arn", aws.key_arn]
    assert main(aws.args(command, prepared, "--dry-run", *stack_values)) == 0
    out, err = capsys.readouterr()
    printed = dry_run.parse(out)
    assert [d["operation"] for d in printed] == DRY_RUN_OPERATIONS[command]
    assert "placeholder" not in err and "<" not in out
    # Nothing reached moto's account: no request, no upload, no run written.
    assert aws.requests == {}
    assert s3.list_objects_v2(Bucket=BUCKET).get("KeyCount", 0) == objects_before
    assert (sorted(p.relative_to(aws.runs_dir) for p in aws.runs_dir.rglob("*"))
            if aws.runs_dir.exists() else []) == runs_before

    # What the dry run printed is the written-out request; so is what the real submission sends.
    dataset = prepared.fingerprint()  # what it is made of: test_streaming_prepare.py
    assert _normalized(printed) == expected_requests(command, aws.key_arn, dataset)
    assert main(aws.args(command, prepared)) == 0
    assert _sent(aws, DRY_RUN_OPERATIONS[command]) == expected_requests(command, aws.key_arn, dataset)


class _NoNetwork:
    """Every connection attempt, by botocore or anything else, is recorded and refused."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import socket

        from botocore.httpsession import URLLib3Session

        self.attempts: list[str] = []

        def refuse(what: str) -> Any:
            def refused(*args: Any, **_: Any) -> Any:
                self.attempts.append(f"{what} {args[1:]!r}")
                raise OSError(f"network use in a dry run: {what}")
            return refused

        monkeypatch.setattr(URLLib3Session, "send", refuse("botocore send"))
        monkeypatch.setattr(socket.socket, "connect", refuse("socket connect"))
        monkeypatch.setattr(socket, "create_connection", refuse("socket create_connection"))


@pytest.mark.parametrize("command", ["train", "tune", "evaluate"])
def test_a_dry_run_calls_no_aws_api_and_marks_the_stack_values_as_placeholders(
        command: str, prepared: Prepared, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # No moto, no credentials anywhere, no network: the dry run must still succeed.
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                     "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_PROFILE", "not-configured-here")  # a real run would fail on it
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    _validate_sdk_config_once(monkeypatch)

    def never(*_: Any, **__: Any) -> Any:
        raise AssertionError("a dry run looked up AWS")

    monkeypatch.setattr(aws_context, "session", never)
    monkeypatch.setattr(aws_context, "data_stack", never)
    config = tmp_path / "config.toml"
    config.write_text(MINIMAL_CONFIG)
    runs_dir = tmp_path / "runs"
    run_args: list[str] = []
    if command == "evaluate":
        run = local_runs.train_run(prepared, runs_dir, "champion", hyperparameters.with_overrides([]),
                                   "3.0-5", REGION)
        in_s3 = manifest_module.load(run).with_updates(model_data=f"s3://{BUCKET}/models/champion/m.tar.gz")
        manifest_module.write(in_s3, run)
        run_args = ["--run", str(run)]
    written = sorted(runs_dir.rglob("*")) if runs_dir.exists() else []
    network = _NoNetwork(monkeypatch)
    capsys.readouterr()

    code = main([command, "--backend", "sagemaker", "--dry-run", "--config", str(config), "--prepared",
                 str(prepared.directory), "--runs-dir", str(runs_dir), *run_args])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert network.attempts == []
    assert (sorted(runs_dir.rglob("*")) if runs_dir.exists() else []) == written

    printed = dry_run.parse(out)
    assert [d["operation"] for d in printed] == DRY_RUN_OPERATIONS[command]
    text = json.dumps(printed)
    bucket = "<DataBucketName of stack xgb-demo-data>"
    role = "arn:aws:iam::<account>:role/<SageMakerExecutionRoleArn of stack xgb-demo-data>"
    key = "<DataKeyArn of stack xgb-demo-data>"
    assert f"s3://{bucket}/" in text and key in text
    if command == "evaluate":
        assert printed[0]["parameters"]["ExecutionRoleArn"] == role
        assert printed[1]["parameters"]["TransformOutput"]["KmsKeyId"] == key
    else:
        parameters = printed[0]["parameters"]
        definition = parameters.get("TrainingJobDefinition", parameters)
        assert definition["RoleArn"] == role
        assert definition["OutputDataConfig"]["KmsKeyId"] == key
        assert definition["ResourceConfig"]["VolumeKmsKeyId"] == key
        train_and_validation = sum(s.bytes for split in ("train", "validation")
                                   for s in prepared.shards[split])
        assert f"would upload 2 shard(s), {train_and_validation} bytes, from {prepared.directory} to " \
            f"s3://{bucket}/datasets/{prepared.fingerprint()}/ (SSE-KMS; shards already there with the " \
            "same SHA-256 are skipped)" in err
    assert ("<placeholders> stand in for the output(s) DataBucketName, SageMakerExecutionRoleArn, DataKeyArn "
            "of stack xgb-demo-data; pass --bucket, --role-arn and --kms-key-arn") in err
    assert "Traceback" not in err


@pytest.mark.parametrize("extra, message", [
    (["--dry-run"], "error: --dry-run is for the sagemaker backend"),
    (["--backend", "local", "--dry-run"], "error: --dry-run is for the sagemaker backend"),
    (["--backend", "sagemaker", "--bucket", "b"], "error: --bucket applies only to --dry-run"),
    (["--backend", "sagemaker", "--dry-run", "--role-arn", "my-role"], "error: --role-arn 'my-role' is not"),
])
@pytest.mark.parametrize("command", ["train", "tune", "evaluate"])
def test_dry_run_misuse_is_a_one_line_error(command: str, extra: list[str], message: str, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, "--prepared", str(tmp_path / "none"), "--runs-dir", str(tmp_path), *extra]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and err.startswith(message), err
    assert list(tmp_path.iterdir()) == []


# Multi-instance jobs and resumed uploads, through the whole command against moto.

@pytest.fixture(scope="module")
def sharded(tmp_path_factory: pytest.TempPathFactory) -> Prepared:
    """The diabetes data in shards small enough for 3 instances (train: 5 shards)."""
    return data.write_prepared(data.load_table(None), tmp_path_factory.mktemp("sharded") / "p",
                               shard_mb=0.012)


def test_a_transform_output_with_a_missing_row_is_a_clear_error(aws: Aws, sharded: Prepared,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    aws.deploy_data_stack()
    assert main(aws.args("train", sharded)) == 0

    def short(params: dict[str, Any]) -> None:
        out = params["TransformOutput"]["S3OutputPath"].removeprefix(f"s3://{BUCKET}/")
        for shard in sharded.shards["test"]:
            boto3.client("s3", region_name=REGION).put_object(
                Bucket=BUCKET, Key=f"{out}{Path(shard.file).name}.out", Body=b"1.0\n" * (shard.rows - 1))

    aws.on_request["CreateTransformJob"] = short
    capsys.readouterr()
    assert main(aws.args("evaluate", sharded)) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    first = sharded.shards["test"][0]
    assert last.startswith("error: transform output batch-transform/") and last.endswith(
        f"/output/part-00000.csv.out has {first.rows - 1} predictions for {first.rows} test rows; "
        "check that the test shards have one record per line and no header")


def test_more_instances_than_train_shards_is_refused_before_any_upload(
        aws: Aws, prepared: Prepared, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(aws.args("train", prepared, "--instance-count", "2")) == 2
    train_mb = prepared.shards["train"][0].bytes / 1024**2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"error: --instance-count 2 needs at least 2 train shards; {prepared.directory} has 1; re-run "
        f"`xgbapi prepare` with --shard-mb {train_mb / 2 * 0.9:.3g} or less, or use --instance-count 1"]
    assert aws.requests == {}  # refused before the Data stack is even looked up


@pytest.mark.parametrize("argv", [["train", "--instance-count", "2"], ["evaluate", "--instance-count", "0",
                                                                       "--backend", "sagemaker"]])
def test_instance_count_misuse_is_a_one_line_error(argv: list[str], prepared: Prepared,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*argv, "--prepared", str(prepared.directory)]) == 2
    expected = ("error: --instance-count 2 needs --backend sagemaker; the local backend runs on this "
                "machine; drop --instance-count") if argv[0] == "train" else \
        "error: --instance-count 0 must be at least 1; e.g. --instance-count 2"
    assert capsys.readouterr().err.strip().splitlines() == [expected]


def test_a_second_run_on_the_same_data_uploads_nothing(aws: Aws, sharded: Prepared,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    aws.deploy_data_stack()
    assert main(aws.args("train", sharded)) == 0
    first = capsys.readouterr().err
    puts: list[str] = []
    s3 = boto3.client("s3", region_name=REGION)
    # A shard lost halfway through an earlier run: only it is sent again.
    s3.delete_object(Bucket=BUCKET, Key=f"datasets/{sharded.fingerprint()}/validation/part-00001.csv")
    original = aws_context.client

    def counting(session: Any, service: str) -> Any:
        client = original(session, service)
        if service == "s3":
            client.meta.events.register("before-call.s3.PutObject",
                                        lambda params, **_: puts.append(params["url_path"]))
        return client

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(aws_context, "client", counting)
        assert main(aws.args("train", sharded)) == 0
    second = capsys.readouterr().err
    shards = len(sharded.shards["train"]) + len(sharded.shards["validation"])
    assert f"upload: {shards} shards" in first
    assert "upload: 1 shard, " in second and f"{shards - 1} already there (skipped)" in second
    assert len(puts) == 1 and puts[0].endswith("/validation/part-00001.csv")


@pytest.mark.parametrize("command", ["train", "evaluate"])  # tune's request: test_multi_instance_sdk.py
def test_the_dry_run_of_a_multi_instance_job_is_what_the_submission_sends(
        command: str, aws: Aws, sharded: Prepared, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(runs, "new_run_id", lambda now=None: RUN_ID)
    aws.deploy_data_stack()
    if command == "evaluate":
        assert main(aws.args("train", sharded)) == 0
        _transform_writes_output(aws, sharded)
        aws.requests.clear()
    stack_values = ["--bucket", BUCKET, "--role-arn", ROLE, "--kms-key-arn", aws.key_arn]
    capsys.readouterr()
    assert main(aws.args(command, sharded, "--instance-count", "3", "--dry-run", *stack_values)) == 0
    printed = _normalized(dry_run.parse(capsys.readouterr().out))
    assert main(aws.args(command, sharded, "--instance-count", "3")) == 0
    assert printed == _sent(aws, DRY_RUN_OPERATIONS[command])
    request = printed[-1]["parameters"]
    prefix = f"s3://{BUCKET}/datasets/{sharded.fingerprint()}"
    if command == "evaluate":
        assert request["TransformResources"]["InstanceCount"] == 3
        assert request["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] == f"{prefix}/test/"
        assert (request["BatchStrategy"], request["MaxPayloadInMB"], request["TransformInput"]["SplitType"],
                request["TransformOutput"]["AssembleWith"]) == ("MultiRecord", 6, "Line", "Line")
        # Every output file was read, in order, against its shard's labels: predictions are label + 1.
        assert len(sharded.shards["test"]) > 1
        manifest = manifest_module.load(aws.runs_dir / "champion" / "latest")
        assert (manifest.metrics["rmse"], manifest.metrics["mae"]) == (pytest.approx(1.0), pytest.approx(1.0))
        return
    assert request["ResourceConfig"]["InstanceCount"] == 3
    assert {c["ChannelName"]: c["DataSource"]["S3DataSource"] for c in request["InputDataConfig"]} == {
        "train": {"S3DataType": "S3Prefix", "S3Uri": f"{prefix}/train/",
                  "S3DataDistributionType": "ShardedByS3Key"},
        "validation": {"S3DataType": "S3Prefix", "S3Uri": f"{prefix}/validation/",
                       "S3DataDistributionType": "FullyReplicated"}}
    listed = boto3.client("s3", region_name=REGION).list_objects_v2(
        Bucket=BUCKET, Prefix=f"datasets/{sharded.fingerprint()}/train/")["Contents"]
    assert [o["Key"].rsplit("/", 1)[1] for o in listed] == [f"part-0000{i}.csv" for i in range(5)]
