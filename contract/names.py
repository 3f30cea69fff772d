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
    from collections.abc import Sequence

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
    VARIANTS = "VARIANTS"  # JSON list of {name, weight[, spec]}: the variants the handler assigns
    INPUT_SPEC_DIR = "INPUT_SPEC_DIR"  # where spec files are (local hosts; Lambda: the asset root)
    WEIGHTS_TTL_SECONDS = "WEIGHTS_TTL_SECONDS"
    SAGEMAKER_API_URL = "SAGEMAKER_API_URL"  # local hosts: the local server's control plane
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
    """The variables of a handler that encodes with one ``spec`` and leaves the choice of variant
    to SageMaker (the others keep their defaults).

    A plain numeric model's feature names fit in a variable; any other spec is a file in the
    asset (``spec_file``), named by INPUT_SPEC_FILE.
    """
    if spec.plain_numeric:
        return {HandlerEnv.ENDPOINT_NAME: endpoint_name,
                HandlerEnv.FEATURE_NAMES: json.dumps(list(spec.field_names), separators=(",", ":"))}
    return {HandlerEnv.ENDPOINT_NAME: endpoint_name, HandlerEnv.INPUT_SPEC_FILE: spec_file}


def handler_setup(endpoint_name: str,
                  variants: Sequence[tuple[str, float, InputSpec]]) -> tuple[dict[str, str], dict[str, str]]:
    """What the API stack gives the function for ``variants`` (name, config weight, input spec):
    its environment variables and the spec files its asset carries (file name -> content).

    Variants that share one spec (the usual case) get it once, as ``handler_environment`` does;
    variants whose specs differ get one file each, named in VARIANTS, and the handler encodes a
    request with the spec of the variant it assigned.
    """
    specs = {spec for _, _, spec in variants}
    files: dict[str, str] = {}
    entries: list[dict[str, object]] = []
    if len(specs) == 1:
        (shared,) = specs
        environment = handler_environment(endpoint_name, shared)
        if not shared.plain_numeric:
            files[INPUT_SPEC_FILENAME] = shared.to_json()
        entries = [{"name": name, "weight": weight} for name, weight, _ in variants]
    else:
        environment = {HandlerEnv.ENDPOINT_NAME: endpoint_name}
        for name, weight, spec in variants:
            file = f"input_spec.{name}.json"  # variant names are letters, digits and hyphens
            files[file] = spec.to_json()
            entries.append({"name": name, "weight": weight, "spec": file})
    environment[HandlerEnv.VARIANTS] = json.dumps(entries, separators=(",", ":"))
    return environment, files


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
