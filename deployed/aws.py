"""AWS sessions and the deployed stacks' outputs, with AWS errors turned into user errors.

Nobody asks the user for bucket, role or URL: they are the outputs of the stacks, whose names
come from the deployment config's ``project.prefix`` (``contract.names``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from contract.errors import CliError
from contract.names import Component, DataOutput, stack_name

NO_CREDENTIALS_FIX = ("configure credentials (aws configure, AWS_PROFILE, aws sso login, or "
                      "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")


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
        raise CliError("no AWS credentials found", NO_CREDENTIALS_FIX)
    return result


def client(aws: boto3.Session, service: str) -> Any:
    """Every AWS client the sagemaker backend uses is made here (tests hook request capture in)."""
    return aws.client(service)


@contextmanager
def aws_errors(what: str, *, fix: str, credentials_fix: str = NO_CREDENTIALS_FIX) -> Iterator[None]:
    """Any AWS failure inside the block becomes one CliError saying ``what`` failed (no traceback)."""
    try:
        yield
    except NoCredentialsError:
        raise CliError("no AWS credentials found", credentials_fix) from None
    except ClientError as error:
        message = error.response.get("Error", {}).get("Message", str(error))
        raise CliError(f"{what} failed: {message}", fix) from None
    except BotoCoreError as error:
        raise CliError(f"{what} failed ({error})", "check the network, the region and the "
                       "credentials, then retry") from None


def aws_call(what: str, function: Any, *, fix: str, **kwargs: Any) -> Any:
    """``function(**kwargs)`` with :func:`aws_errors`."""
    with aws_errors(what, fix=fix):
        return function(**kwargs)


def stack_outputs(cloudformation: Any, name: str, region: str | None, *, required: Sequence[str],
                  deploy_fix: str, credentials_fix: str = NO_CREDENTIALS_FIX) -> dict[str, str]:
    """The outputs of stack ``name``; a missing stack or output is a CliError ending in ``deploy_fix``."""
    where = f" in {region}" if region else ""
    try:
        stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except NoCredentialsError:
        raise CliError(f"no AWS credentials found to look up stack {name}", credentials_fix) from None
    except ClientError as error:
        detail = error.response.get("Error", {})
        message = str(detail.get("Message", error))
        if "does not exist" in message:
            raise CliError(f"stack {name} does not exist{where}", deploy_fix) from None
        raise CliError(f"cannot describe stack {name}{where}: {message}",
                       "check the credentials may call cloudformation:DescribeStacks") from None
    except BotoCoreError as error:
        raise CliError(f"cannot reach CloudFormation{where} ({error})",
                       "check the network and the region") from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in (stacks[0].get("Outputs", []) if stacks else [])}
    missing = [key for key in required if not outputs.get(key)]
    if missing:
        raise CliError(f"stack {name}{where} has no output {', '.join(missing)}",
                       "deploy it with this project version (make deploy) and wait until it is "
                       "CREATE_COMPLETE")
    return outputs


def data_stack(aws: boto3.Session, prefix: str) -> DataStack:
    """The Data stack's bucket, execution role and key, for SageMaker jobs and publishing."""
    name = stack_name(prefix, Component.DATA)
    outputs = stack_outputs(
        client(aws, "cloudformation"), name, aws.region_name, required=DataOutput.ALL,
        deploy_fix=f"deploy the Data stack first (make deploy, phase one) in {aws.region_name}, "
                   "or pass --config/--region matching the deployment")
    return DataStack(name=name, bucket=outputs[DataOutput.BUCKET],
                     role_arn=outputs[DataOutput.EXECUTION_ROLE], key_arn=outputs[DataOutput.KEY])
