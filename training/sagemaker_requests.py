"""The SageMaker API requests the backend sends, built as plain dicts (and so testable as data).

Every S3 location is under one of bucket_layout's prefixes: the execution role may use no other.
The Data bucket is SSE-KMS with the Data stack's key, so job outputs and volumes use that key.
"""

from __future__ import annotations

from typing import Any

from training import bucket_layout
from training.hyperparameters import OBJECTIVE_METRIC, Range

CSV = "text/csv"
CHANNELS = ("train", "validation")
MAX_RUNTIME_SECONDS = 3600
VOLUME_SIZE_GB = 10
MAX_PAYLOAD_MB = 6  # the endpoint's 6 MB request limit: batches that fit an InvokeEndpoint too


def s3_uri(bucket: str, key: str) -> str:
    assert key.startswith(bucket_layout.ROLE_PREFIXES), f"{key} is outside the role's prefixes"
    return f"s3://{bucket}/{key}"


def dataset_prefix(run_id: str, channel: str) -> str:
    # One folder per channel: an S3Prefix channel reads every object below its prefix.
    return f"{bucket_layout.DATASETS}{run_id}/{channel}/"


def model_output_prefix(variant: str) -> str:
    return f"{bucket_layout.MODELS}{variant}/"


def _channels(bucket: str, run_id: str) -> list[dict[str, Any]]:
    return [{
        "ChannelName": channel,
        "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": s3_uri(bucket, dataset_prefix(run_id, channel)),
            "S3DataDistributionType": "FullyReplicated"}},
        "ContentType": CSV,
        "CompressionType": "None",
    } for channel in CHANNELS]


def _job_definition(*, image: str, role_arn: str, bucket: str, key_arn: str, run_id: str, variant: str,
                    instance_type: str) -> dict[str, Any]:
    return {
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
        "RoleArn": role_arn,
        "InputDataConfig": _channels(bucket, run_id),
        "OutputDataConfig": {"S3OutputPath": s3_uri(bucket, model_output_prefix(variant)),
                             "KmsKeyId": key_arn},
        "ResourceConfig": {"InstanceType": instance_type, "InstanceCount": 1,
                           "VolumeSizeInGB": VOLUME_SIZE_GB, "VolumeKmsKeyId": key_arn},
        "StoppingCondition": {"MaxRuntimeInSeconds": MAX_RUNTIME_SECONDS},
    }


def training_job(*, name: str, hyperparameters: dict[str, str], **definition: Any) -> dict[str, Any]:
    return {"TrainingJobName": name, "HyperParameters": dict(hyperparameters),
            **_job_definition(**definition)}


def tuning_job(*, name: str, static_hyperparameters: dict[str, str], ranges: tuple[Range, ...],
               max_jobs: int, max_parallel: int, **definition: Any) -> dict[str, Any]:
    integer = [r for r in ranges if r.integer]
    continuous = [r for r in ranges if not r.integer]
    tuned = {r.name for r in ranges}
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": "Bayesian",
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": OBJECTIVE_METRIC},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": max_jobs, "MaxParallelTrainingJobs": max_parallel},
            "ParameterRanges": {
                "IntegerParameterRanges": [
                    {"Name": r.name, "MinValue": r.format(r.low), "MaxValue": r.format(r.high),
                     "ScalingType": "Auto"} for r in integer],
                "ContinuousParameterRanges": [
                    {"Name": r.name, "MinValue": r.format(r.low), "MaxValue": r.format(r.high),
                     "ScalingType": "Auto"} for r in continuous],
                "CategoricalParameterRanges": [],
            },
            "TrainingJobEarlyStoppingType": "Off",
        },
        "TrainingJobDefinition": {
            # Tuned names must not also be static; SageMaker rejects the overlap.
            "StaticHyperParameters": {k: v for k, v in static_hyperparameters.items() if k not in tuned},
            **_job_definition(**definition),
        },
    }


def model(*, name: str, image: str, model_data: str, role_arn: str) -> dict[str, Any]:
    return {"ModelName": name, "ExecutionRoleArn": role_arn,
            "PrimaryContainer": {"Image": image, "ModelDataUrl": model_data}}


def transform_job(*, name: str, model_name: str, bucket: str, input_key: str, output_prefix: str,
                  key_arn: str, instance_type: str) -> dict[str, Any]:
    return {
        "TransformJobName": name,
        "ModelName": model_name,
        "BatchStrategy": "MultiRecord",
        "MaxPayloadInMB": MAX_PAYLOAD_MB,
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": s3_uri(bucket, input_key)}},
            "ContentType": CSV,
            "SplitType": "Line",
            "CompressionType": "None",
        },
        "TransformOutput": {"S3OutputPath": s3_uri(bucket, output_prefix), "Accept": CSV,
                            "AssembleWith": "Line", "KmsKeyId": key_arn},
        "TransformResources": {"InstanceType": instance_type, "InstanceCount": 1, "VolumeKmsKeyId": key_arn},
    }
