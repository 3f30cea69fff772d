"""The SageMaker Python SDK (v3) objects the sagemaker backend starts its jobs with.

Only the sagemaker backend imports this module, and only when it is about to start a job: the
SDK takes seconds to import, which ``--help``, the local backend and ``publish`` do not pay.

What the SDK is told, and why:
- Every S3 location is explicit and under one of bucket_layout's prefixes (the execution role
  may use no other), and ``Session(default_bucket=...)`` is the Data bucket, so the SDK never
  looks up or creates its own ``sagemaker-<region>-<account>`` bucket (that also calls STS).
- Role validation is off (``SAGEMAKER_VALIDATE_ROLE=false``): the SDK simulates a generic
  policy that includes VPC network-interface actions, which the Data stack's least-privilege
  role deliberately lacks, so the check would refuse a role that works.
- ``sagemaker_config`` is given, so a user's SDK defaults file cannot add settings the
  requests are tested without, and it opts out of the SDK's telemetry (an extra S3 request
  plus an STS call per job).
- The models for batch transform are created with boto3 by the backend, not here.
- A job on N > 1 instances is XGBoost's distributed training: the train channel is sharded by
  S3 key (each instance copies about 1/N of the train files), the validation channel stays
  fully replicated (every instance scores the whole validation set). The built-in container
  leaves a host that gets no train file out of the training (sagemaker-xgboost-container,
  algorithm_mode/train.py, "does not have training data"): N instances want at least N files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import boto3
from sagemaker.core.helper.session_helper import Session
from sagemaker.core.parameter import ContinuousParameter, IntegerParameter, ParameterRange
from sagemaker.core.resources import HyperParameterTuningJob, TrainingJob, TransformJob
from sagemaker.core.shapes import Channel, DataSource, S3DataSource
from sagemaker.core.training.configs import Compute, InputData, OutputDataConfig, StoppingCondition
from sagemaker.core.transformer import Transformer
from sagemaker.core.utils.utils import Unassigned
from sagemaker.train import ModelTrainer
from sagemaker.train.tuner import HyperparameterTuner

from training import sagemaker_requests as settings
from training.hyperparameters import OBJECTIVE_METRIC, Range

SDK_CONFIG: dict[str, Any] = {
    "SchemaVersion": "1.0",
    "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}},
}


@dataclass(frozen=True)
class JobDefinition:
    """What training jobs and the training jobs of a tuning job share."""

    image: str
    role_arn: str
    bucket: str
    key_arn: str
    dataset: str  # the prepared data's S3 name (sagemaker_requests.dataset_prefix)
    variant: str
    instance_type: str
    content_type: str = "text/csv"  # the prepared files' format: text/csv or text/libsvm
    instance_count: int = 1


def session(aws: boto3.Session, bucket: str) -> Session:
    os.environ["SAGEMAKER_VALIDATE_ROLE"] = "false"  # see the module docstring
    return Session(boto_session=aws, default_bucket=bucket, sagemaker_config=SDK_CONFIG)


def value(field: Any) -> Any:
    """A resource field, with the SDK's ``Unassigned`` placeholder as None."""
    return None if isinstance(field, Unassigned) else field


def channels(definition: JobDefinition) -> list[InputData]:
    """One folder per channel: an S3Prefix channel reads every object below its prefix.

    A URI string is what the SDK makes a FullyReplicated channel of (with InputMode File); the
    train channel of a job on several instances is an explicit S3DataSource sharded by S3 key
    instead (its channel has no InputMode: the job's TrainingInputMode, File, applies).
    """
    def source(channel: str) -> str | S3DataSource:
        uri = settings.s3_uri(definition.bucket, settings.dataset_prefix(definition.dataset, channel))
        if channel != "train" or definition.instance_count == 1:
            return uri
        return S3DataSource(s3_data_type="S3Prefix", s3_uri=uri, s3_data_distribution_type="ShardedByS3Key")

    return [InputData(channel_name=channel, content_type=definition.content_type, data_source=source(channel))
            for channel in settings.CHANNELS]


def _trainer(sm: Session, definition: JobDefinition, hyperparameters: dict[str, str],
             base_job_name: str) -> ModelTrainer:
    output = settings.s3_uri(definition.bucket, settings.model_output_prefix(definition.variant))
    return ModelTrainer(
        sagemaker_session=sm,
        role=definition.role_arn,
        training_image=definition.image,
        training_input_mode="File",
        base_job_name=base_job_name,
        compute=Compute(instance_type=definition.instance_type, instance_count=definition.instance_count,
                        volume_size_in_gb=settings.VOLUME_SIZE_GB, volume_kms_key_id=definition.key_arn),
        stopping_condition=StoppingCondition(max_runtime_in_seconds=settings.MAX_RUNTIME_SECONDS),
        output_data_config=OutputDataConfig(s3_output_path=output, kms_key_id=definition.key_arn,
                                            compression_type="GZIP"),
        hyperparameters=dict(hyperparameters),
    )


def start_training(sm: Session, definition: JobDefinition, hyperparameters: dict[str, str],
                   base_job_name: str) -> TrainingJob:
    """Submit the training job (the SDK appends a timestamp to ``base_job_name``); do not wait."""
    trainer = _trainer(sm, definition, hyperparameters, base_job_name)
    trainer.train(input_data_config=channels(definition), wait=False, logs=False)
    job: TrainingJob = trainer._latest_training_job  # the SDK's documented way to the job
    return job


class _Tuner(HyperparameterTuner):  # type: ignore[misc]
    """HyperparameterTuner that keeps the trainer's volume KMS key and explicit S3 data sources.

    sagemaker-train 1.27 builds the tuning job's ResourceConfig from instance type, count
    and volume size only, so its training jobs would write unencrypted-by-our-key volumes.
    (The instance count it does keep: the training jobs run on the trainer's N instances.)

    sagemaker-train 1.27 also makes every InputData a channel as if its data source were a URI
    string, with S3DataDistributionType FullyReplicated written in: an S3DataSource (the sharded
    train channel) fails the shape's validation instead of being sent. Channel objects it passes
    through unchanged, so an InputData with an S3DataSource is handed to it as one.
    """

    def _build_training_job_definition(self, inputs: Any) -> Any:
        inputs = [_channel(i) if isinstance(i, InputData) and isinstance(i.data_source, S3DataSource) else i
                  for i in inputs]
        definition = super()._build_training_job_definition(inputs)
        definition.resource_config.volume_kms_key_id = self.model_trainer.compute.volume_kms_key_id
        return definition


def _channel(data: InputData) -> Channel:
    """The channel ModelTrainer.train makes of an InputData with an S3DataSource (no InputMode)."""
    return Channel(channel_name=data.channel_name, content_type=data.content_type,
                   data_source=DataSource(s3_data_source=data.data_source))


def _parameter_range(r: Range) -> ParameterRange:
    # The SDK writes int(2) as "2" and float(2.0) as "2.0": send whole numbers as ints.
    low, high = (int(v) if float(v).is_integer() else v for v in (r.low, r.high))
    return IntegerParameter(low, high) if r.integer else ContinuousParameter(low, high)


def start_tuning(sm: Session, definition: JobDefinition, *, name: str, static_hyperparameters: dict[str, str],
                 ranges: tuple[Range, ...], max_jobs: int, max_parallel: int) -> HyperParameterTuningJob:
    """Submit a Bayesian tuning job minimizing validation:rmse; do not wait."""
    tuner = _Tuner(
        # The tuner leaves the tuned names out of the static hyperparameters itself.
        model_trainer=_trainer(sm, definition, static_hyperparameters, name),
        objective_metric_name=OBJECTIVE_METRIC,
        objective_type="Minimize",
        strategy="Bayesian",
        hyperparameter_ranges={r.name: _parameter_range(r) for r in ranges},
        max_jobs=max_jobs,
        max_parallel_jobs=max_parallel,
        early_stopping_type="Off",
    )
    tuner.tune(inputs=channels(definition), job_name=name, wait=False)
    job: HyperParameterTuningJob = tuner.latest_tuning_job
    return job


def training_job(aws: boto3.Session, name: str) -> TrainingJob:
    job: TrainingJob = TrainingJob.get(training_job_name=name, session=aws, region=aws.region_name)
    return job


def start_transform(sm: Session, *, name: str, model_name: str, bucket: str, input_prefix: str,
                    output_prefix: str, key_arn: str, instance_type: str,
                    content_type: str = settings.CSV, instance_count: int = 1) -> TransformJob:
    """Submit the batch transform over the test file(s) (CSV or libsvm): one record per line, CSV
    out; do not wait.

    On several instances batch transform spreads the input objects under ``input_prefix`` across
    them: more instances than objects leave some idle. Each object is still split into
    MultiRecord batches by line and its output assembled by line, as on one instance.
    """
    transformer = Transformer(
        model_name=model_name,
        instance_count=instance_count,
        instance_type=instance_type,
        strategy="MultiRecord",
        max_payload=settings.MAX_PAYLOAD_MB,
        assemble_with="Line",
        accept=settings.CSV,
        output_path=settings.s3_uri(bucket, output_prefix),
        output_kms_key=key_arn,
        volume_kms_key=key_arn,
        sagemaker_session=sm,
    )
    transformer.transform(data=settings.s3_uri(bucket, input_prefix), data_type="S3Prefix",
                          content_type=content_type, compression_type="None", split_type="Line",
                          job_name=name, wait=False, logs=False)
    job: TransformJob = transformer.latest_transform_job
    return job
