"""The settings of the SageMaker jobs the backend starts, and the one request it sends itself.

The jobs are built with the SageMaker Python SDK (training/sagemaker_sdk.py) from these settings.
Every S3 location is under one of bucket_layout's prefixes: the execution role may use no other.
The Data bucket is SSE-KMS with the Data stack's key, so job outputs and volumes use that key.
"""

from __future__ import annotations

from typing import Any

from contract import bucket_layout

CSV = "text/csv"
CHANNELS = ("train", "validation")
MAX_RUNTIME_SECONDS = 3600
VOLUME_SIZE_GB = 10
MAX_PAYLOAD_MB = 6  # the container refuses bigger requests (MAX_CONTENT_LENGTH, 6 MiB by default)


def s3_uri(bucket: str, key: str) -> str:
    assert key.startswith(bucket_layout.ROLE_PREFIXES), f"{key} is outside the role's prefixes"
    return f"s3://{bucket}/{key}"


def dataset_prefix(dataset: str, split: str) -> str:
    """Under the prepared data's fingerprint (training.data.Prepared.fingerprint): the same data
    keeps its S3 place, so uploads resume and later jobs reuse it. One folder per split: an
    S3Prefix channel reads every object below its prefix."""
    return f"{bucket_layout.DATASETS}{dataset}/{split}/"


def model_output_prefix(variant: str) -> str:
    return f"{bucket_layout.MODELS}{variant}/"


def model(*, name: str, image: str, model_data: str, role_arn: str) -> dict[str, Any]:
    """CreateModel for the evaluation's batch transform, sent with boto3: the SDK v3 Model
    resource re-reads the model after creating it and fails on moto's empty VpcConfig."""
    return {"ModelName": name, "ExecutionRoleArn": role_arn,
            "PrimaryContainer": {"Image": image, "ModelDataUrl": model_data}}
