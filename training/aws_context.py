"""AWS session, credentials and the Data stack's outputs (bucket, execution role, KMS key).

The CLI never asks the user for bucket or role names: it reads them from the Data stack,
whose name comes from the deployment config's ``project.prefix`` (stack ``<prefix>-data``).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from contract.errors import CliError

# Output keys written by stacks/data_stack.py (not imported: that module needs aws_cdk).
OUTPUT_BUCKET = "DataBucketName"
OUTPUT_ROLE = "SageMakerExecutionRoleArn"
OUTPUT_KEY = "DataKeyArn"

NO_CREDENTIALS_FIX = ("configure credentials (aws configure, AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
                      "AWS_SECRET_ACCESS_KEY), or use --backend local")


@dataclass(frozen=True)
class DataStack:
    name: str
    bucket: str
    role_arn: str
    key_arn: str


def session(region: str) -> boto3.Session:
    """A session for ``region`` that is known to have credentials."""
    result = boto3.Session(region_name=region)
    if result.get_credentials() is None:
        raise CliError("no AWS credentials found for the sagemaker backend", NO_CREDENTIALS_FIX)
    return result


def client(aws: boto3.Session, service: str) -> Any:
    """Every AWS client the backend uses is made here (tests hook request capture in)."""
    return aws.client(service)


def stack_prefix(config_path: str | Path) -> str:
    """``project.prefix`` of the deployment config: only that key is read here."""
    try:
        raw = tomllib.loads(Path(config_path).read_text(encoding="utf-8"))
    except (FileNotFoundError, tomllib.TOMLDecodeError) as error:
        raise CliError(f"cannot read the deployment config {config_path} ({type(error).__name__})",
                       "pass --config with the config you deployed") from None
    prefix = raw.get("project", {}).get("prefix")
    if not isinstance(prefix, str) or not prefix:
        raise CliError(f"{config_path} has no project.prefix", "set [project] prefix = \"...\"")
    return prefix


def data_stack(aws: boto3.Session, prefix: str) -> DataStack:
    name = f"{prefix}-data"
    region = aws.region_name
    deploy_fix = (f"deploy the Data stack first (make deploy, phase one) in {region}, "
                  "or pass --config/--region matching the deployment")
    try:
        stacks = client(aws, "cloudformation").describe_stacks(StackName=name)["Stacks"]
    except NoCredentialsError:
        raise CliError("no AWS credentials found for the sagemaker backend", NO_CREDENTIALS_FIX) from None
    except ClientError as error:
        if "does not exist" in str(error):
            raise CliError(f"stack {name} does not exist in {region}", deploy_fix) from None
        raise CliError(f"cannot describe stack {name}: {error.response['Error'].get('Message', error)}",
                       "check the credentials' permissions (cloudformation:DescribeStacks)") from None
    except BotoCoreError as error:
        raise CliError(f"cannot reach CloudFormation in {region} ({error})",
                       "check the network and the region") from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    missing = [key for key in (OUTPUT_BUCKET, OUTPUT_ROLE, OUTPUT_KEY) if not outputs.get(key)]
    if missing:
        raise CliError(f"stack {name} has no output {', '.join(missing)}",
                       "deploy the Data stack of this project version (make deploy) and wait until "
                       "it is CREATE_COMPLETE")
    return DataStack(name=name, bucket=outputs[OUTPUT_BUCKET], role_arn=outputs[OUTPUT_ROLE],
                     key_arn=outputs[OUTPUT_KEY])
