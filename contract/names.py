"""Names shared across components: stacks, their outputs, the Lambda's environment, metrics.

Renaming a stack output here renames it in the template and in every reader at once; the
readers (training, the client, operations) find deployed resources through these outputs.
Plain classes of string constants, not enums: the Lambda imports this module at every cold
start, and enum classes cost time to build there.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the Lambda imports this module at cold start; the encoder only when it needs it
    from contract.encoding import InputSpec


class Component:
    """The three stacks, in deploy order: ``<project.prefix>-<component>``."""

    DATA = "data"
    INFERENCE = "inference"
    API = "api"


def stack_name(prefix: str, component: str) -> str:
    """``component`` is one of :class:`Component`'s constants."""
    return f"{prefix}-{component}"


def endpoint_name(prefix: str) -> str:
    return f"{prefix}-endpoint"


def dashboard_name(prefix: str) -> str:
    return f"{prefix}-endpoint"


def rest_api_name(prefix: str) -> str:
    return f"{prefix}-predictions"


def model_package_group_name(prefix: str) -> str:
    """The SageMaker model package group (model registry) of the project, in the Data stack."""
    return f"{prefix}-models"


class DataOutput:
    """Outputs of the Data stack (training and publishing read them with DescribeStacks)."""

    BUCKET = "DataBucketName"
    EXECUTION_ROLE = "SageMakerExecutionRoleArn"
    KEY = "DataKeyArn"
    # For people and consoles; promote derives the group's name from the prefix
    # (model_package_group_name). Not in ALL: a Data stack deployed before it still works.
    MODEL_PACKAGE_GROUP = "ModelPackageGroupName"

    ALL = (BUCKET, EXECUTION_ROLE, KEY)


class InferenceOutput:
    ENDPOINT = "EndpointName"
    # The config CloudFormation last deployed: `status` compares it with the live endpoint's.
    ENDPOINT_CONFIG = "EndpointConfigName"

    ALL = (ENDPOINT, ENDPOINT_CONFIG)


class ApiOutput:
    PREDICT_URL = "PredictUrl"
    DASHBOARD = "DashboardName"

    ALL = (PREDICT_URL, DASHBOARD)


class HandlerEnv:
    """Environment variables of the preprocessing Lambda (the API stack sets the first two)."""

    ENDPOINT_NAME = "ENDPOINT_NAME"
    FEATURE_NAMES = "FEATURE_NAMES"  # JSON list, in training order: a plain numeric model
    INPUT_SPEC_FILE = "INPUT_SPEC_FILE"  # the input spec's file, relative to the asset root: any other
    MAX_ROWS = "MAX_ROWS"
    MAX_BODY_BYTES = "MAX_BODY_BYTES"
    NULL_POLICY = "NULL_POLICY"  # "missing" or "reject"
    ENDPOINT_ACCEPT = "ENDPOINT_ACCEPT"  # "text/csv" or "application/json"
    CONNECT_TIMEOUT_SECONDS = "CONNECT_TIMEOUT_SECONDS"
    READ_TIMEOUT_SECONDS = "READ_TIMEOUT_SECONDS"
    MAX_ATTEMPTS = "MAX_ATTEMPTS"


# The input spec of a model with categorical or text fields rides in the Lambda's asset under
# this name: a 5000-token vocabulary is far over Lambda's 4 KB of environment variables.
INPUT_SPEC_FILENAME = "input_spec.json"


def handler_environment(endpoint_name: str, spec: InputSpec, *,
                        spec_file: str = INPUT_SPEC_FILENAME) -> dict[str, str]:
    """The variables the API stack sets on the function (the others keep their defaults).

    A plain numeric model's feature names fit in a variable (and keep the templates of numeric
    models as they were); any other spec is a file in the asset, named by INPUT_SPEC_FILE.
    """
    if spec.plain_numeric:
        return {HandlerEnv.ENDPOINT_NAME: endpoint_name,
                HandlerEnv.FEATURE_NAMES: json.dumps(list(spec.field_names), separators=(",", ":"))}
    return {HandlerEnv.ENDPOINT_NAME: endpoint_name, HandlerEnv.INPUT_SPEC_FILE: spec_file}


# The Lambda's entry point inside its asset (lambda/preprocess/handler.py, function handler).
HANDLER_ENTRY_POINT = "handler.handler"
SAGEMAKER_NAMESPACE = "AWS/SageMaker"  # CloudWatch namespace of endpoint metrics
API_STAGE = "v1"
# Where commands look when neither flags, the config nor the AWS configuration name a region.
DEFAULT_REGION = "us-east-1"
# The local mirror's ports (xgbapi serve, make serve-local) and so the client's --local URL.
LOCAL_API_PORT = 8080
LOCAL_RUNTIME_PORT = 8081
PREDICT_PATH = "/predict"
