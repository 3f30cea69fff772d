"""Jobs on N instances: the exact fields of the requests start_training, start_tuning and
start_transform send, for N = 1 (the requests every other test holds) and N = 3.

The SDK objects of training/sagemaker_sdk.py run on the dry run's recording session
(training/dry_run.py): it records each job request as botocore received it and stops before
anything is signed or sent. No moto, no credentials, no network. One SDK session serves the
module (each makes about ten boto3 clients, a second apiece on a new botocore session).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.training.test_sagemaker_backend import _validate_sdk_config_once
from training import dry_run
from training.hyperparameters import Range

REGION = "us-east-1"
BUCKET = "xgb-demo-data-bucket-test"
ROLE = "arn:aws:iam::123456789012:role/xgb-demo-sagemaker"
KEY = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5"
RUN_ID = "20261127T220501Z-1a2b3c"
DATASET = "ea71bc89c5b52802"  # a prepared data fingerprint

JOB_REQUESTS = frozenset({"CreateTrainingJob", "CreateHyperParameterTuningJob", "CreateTransformJob"})
Send = Callable[[str, Callable[[Any], object]], dict[str, Any]]


@pytest.fixture(scope="module")
def recorded() -> Iterator[tuple[dry_run.Recorder, Any]]:
    """The recorder, stopping at any job request, and an SDK session on its boto3 session."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        _validate_sdk_config_once(monkeypatch)
        monkeypatch.setenv("SAGEMAKER_VALIDATE_ROLE", "false")  # sagemaker_sdk.session sets it: restore it
        from training import sagemaker_sdk  # the SDK imports in seconds: only here, as in the backend

        recorder = dry_run.Recorder(final=JOB_REQUESTS)
        yield recorder, sagemaker_sdk.session(recorder.session(REGION), BUCKET)


@pytest.fixture
def send(recorded: tuple[dry_run.Recorder, Any]) -> Send:
    """``send(operation, start)``: the parameters of ``operation``, the one request ``start(sdk_session)``
    sends (any other request the dry run would answer or refuse as a Leak)."""
    recorder, sm = recorded

    def sent(operation: str, start: Callable[[Any], object]) -> dict[str, Any]:
        recorder.requests.clear()
        with pytest.raises(dry_run.Stop) as stopped:
            start(sm)
        (request,) = stopped.value.requests
        assert request.operation == operation
        return request.parameters

    return sent


def _definition(instance_count: int) -> Any:
    from training import sagemaker_sdk

    return sagemaker_sdk.JobDefinition(image=IMAGE, role_arn=ROLE, bucket=BUCKET, key_arn=KEY,
                                       dataset=DATASET, variant="champion", instance_type="ml.m5.large",
                                       instance_count=instance_count)


def _source(channel: str, distribution: str) -> dict[str, Any]:
    return {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/datasets/{DATASET}/{channel}/",
                             "S3DataDistributionType": distribution}}


def _channels(instance_count: int, *, training_job: bool) -> list[dict[str, Any]]:
    """On one instance both channels are the SDK's channels for a URI (FullyReplicated, and in a
    training job InputMode File); on several, train is sharded by S3 key and has no InputMode
    of its own (the job's TrainingInputMode, File, applies), validation is as on one."""
    file_mode = {"InputMode": "File"} if training_job else {}
    sharded = instance_count > 1
    train = {"ChannelName": "train", "DataSource": _source("train", "ShardedByS3Key" if sharded else
                                                           "FullyReplicated"),
             "ContentType": "text/csv", **({} if sharded else file_mode)}
    validation = {"ChannelName": "validation", "DataSource": _source("validation", "FullyReplicated"),
                  "ContentType": "text/csv", **file_mode}
    return [train, validation]


def _resources(instance_count: int) -> dict[str, Any]:
    return {"InstanceType": "ml.m5.large", "InstanceCount": instance_count, "VolumeSizeInGB": 10,
            "VolumeKmsKeyId": KEY}


@pytest.mark.parametrize("instance_count", [1, 3])
def test_a_training_job_runs_on_n_instances_with_the_train_files_sharded(instance_count: int,
                                                                         send: Send) -> None:
    from training import sagemaker_sdk

    request = send("CreateTrainingJob", lambda sm: sagemaker_sdk.start_training(
        sm, _definition(instance_count), {"num_round": "200"}, "xgb-demo-champion-1a2b3c"))

    assert request["ResourceConfig"] == _resources(instance_count)
    assert request["InputDataConfig"] == _channels(instance_count, training_job=True)
    assert request["AlgorithmSpecification"] == {"TrainingImage": IMAGE, "TrainingInputMode": "File"}


@pytest.mark.parametrize("instance_count", [1, 3])
def test_a_tuning_jobs_training_jobs_run_on_n_instances_with_the_train_files_sharded(
        instance_count: int, send: Send) -> None:
    """The SDK keeps the trainer's instance count in the tuning job's ResourceConfig; the sharded
    train channel reaches the request only through _Tuner (the SDK would fail on it)."""
    from training import sagemaker_sdk

    request = send("CreateHyperParameterTuningJob", lambda sm: sagemaker_sdk.start_tuning(
        sm, _definition(instance_count), name="xgb-demo-20261127220501-1a2b3c",
        static_hyperparameters={"num_round": "200"}, ranges=(Range("max_depth", 3, 12, integer=True),),
        max_jobs=4, max_parallel=2))

    definition = request["TrainingJobDefinition"]
    assert definition["ResourceConfig"] == _resources(instance_count)
    assert definition["InputDataConfig"] == _channels(instance_count, training_job=False)
    assert definition["AlgorithmSpecification"] == {"TrainingImage": IMAGE, "TrainingInputMode": "File"}
    assert request["HyperParameterTuningJobConfig"]["ResourceLimits"] == {
        "MaxNumberOfTrainingJobs": 4, "MaxParallelTrainingJobs": 2}


@pytest.mark.parametrize("content_type", ["text/csv", "text/libsvm"])
@pytest.mark.parametrize("instance_count", [1, 3])
def test_a_batch_transform_runs_on_n_instances_in_line_batches_of_at_most_6_mb(
        instance_count: int, content_type: str, send: Send) -> None:
    from training import sagemaker_sdk

    name = f"xgb-demo-eval-{RUN_ID}"
    request = send("CreateTransformJob", lambda sm: sagemaker_sdk.start_transform(
        sm, name=name, model_name=name, bucket=BUCKET, input_prefix=f"datasets/{DATASET}/test/",
        output_prefix=f"batch-transform/{RUN_ID}/output/", key_arn=KEY, instance_type="ml.m5.large",
        content_type=content_type, instance_count=instance_count))

    assert request == {
        "TransformJobName": name, "ModelName": name,
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                            "S3Uri": f"s3://{BUCKET}/datasets/{DATASET}/test/"}},
            "ContentType": content_type, "CompressionType": "None", "SplitType": "Line"},
        "TransformOutput": {"S3OutputPath": f"s3://{BUCKET}/batch-transform/{RUN_ID}/output/",
                            "Accept": "text/csv", "AssembleWith": "Line", "KmsKeyId": KEY},
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": instance_count,
                               "VolumeKmsKeyId": KEY},
        # 6: the built-in XGBoost container's default request limit (MAX_CONTENT_LENGTH, 6 MiB).
        "BatchStrategy": "MultiRecord", "MaxPayloadInMB": 6}


def test_one_instance_is_the_default_and_sends_the_sdks_uri_channels() -> None:
    """Callers that do not name an instance count keep the one-instance requests unchanged."""
    from training import sagemaker_sdk

    definition = sagemaker_sdk.JobDefinition(image=IMAGE, role_arn=ROLE, bucket=BUCKET, key_arn=KEY,
                                             dataset=DATASET, variant="champion", instance_type="ml.m5.large")
    assert definition.instance_count == 1
    assert [(c.channel_name, c.data_source) for c in sagemaker_sdk.channels(definition)] == [
        (channel, f"s3://{BUCKET}/datasets/{DATASET}/{channel}/") for channel in ("train", "validation")]
