"""``--dry-run`` for the sagemaker backend: the exact Create* requests, and no AWS call at all.

The dry run is the real submission code path (training/sagemaker_backend.py and the SDK objects of
training/sagemaker_sdk.py) on a boto3 session whose every client is hooked:

- ``before-parameter-build``: record the operation and its parameters, the same point the tests
  capture the real submission at, so a dry run prints what the real run sends.
- ``before-call`` (after botocore has validated the parameters, before anything is signed or
  sent): the command's last request raises ``Stop`` carrying every recorded request; a request
  the command makes on the way (evaluate's CreateModel) gets a canned success response; any
  other operation raises ``Leak``: a dry run that would call AWS is a bug, not a fallback.
- ``before-send``: ``Leak`` again, should a request ever get that far.

The session has dummy static credentials, so not even the credential chain (which may ask the
instance metadata service) is consulted. The backend skips its S3 uploads and the Data stack
lookup: the bucket, role and key come from ``--bucket``, ``--role-arn`` and ``--kms-key-arn``,
or are clearly marked placeholders.
"""

from __future__ import annotations

import argparse
import base64
import copy
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from contract.errors import CliError
from contract.names import Component, DataOutput, stack_name

if TYPE_CHECKING:  # boto3 and botocore load only when a dry run starts, not for every --help
    import boto3
    from botocore.awsrequest import AWSResponse

    from deployed.aws import DataStack
    from training.requests import DryRun

FLAGS = ("--bucket", "--role-arn", "--kms-key-arn")
_ACCOUNT_PLACEHOLDER = "<account>"


class Leak(RuntimeError):
    """The dry run reached an AWS call it must not make (a bug in the dry-run wiring)."""


@dataclass(frozen=True)
class Request:
    operation: str
    parameters: dict[str, Any]

    def document(self) -> dict[str, Any]:
        return {"operation": self.operation, "parameters": self.parameters}


class Stop(Exception):  # not an error: the dry run's planned end
    """Raised at the command's last request, before it is sent; carries every request recorded."""

    def __init__(self, requests: list[Request]) -> None:
        super().__init__(f"dry run stopped at {requests[-1].operation}")
        self.requests = list(requests)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("dry run (sagemaker backend)")
    group.add_argument("--dry-run", action="store_true",
                       help="print the job's exact SageMaker request(s) as JSON instead of submitting; "
                       "calls no AWS API, uploads nothing and writes no run")
    group.add_argument("--bucket", help="dry run: the Data bucket (default: a placeholder)")
    group.add_argument("--role-arn", help="dry run: the execution role ARN (default: a placeholder)")
    group.add_argument("--kms-key-arn", help="dry run: the Data stack's KMS key ARN (default: a placeholder)")


def check_arguments(args: argparse.Namespace) -> None:
    """``--dry-run`` needs the sagemaker backend; the stack-value flags need ``--dry-run``."""
    given = [flag for flag in FLAGS if getattr(args, flag[2:].replace("-", "_"), None)]
    if args.dry_run and args.backend != "sagemaker":
        raise CliError("--dry-run is for the sagemaker backend (a local run calls no AWS API)",
                       "add --backend sagemaker, or drop --dry-run")
    if given and not args.dry_run:
        raise CliError(f"{', '.join(given)} {'applies' if len(given) == 1 else 'apply'} only to --dry-run",
                       "a real run reads the bucket, role and key from the Data stack; add --dry-run or "
                       "drop them")
    role = getattr(args, "role_arn", None)
    if role and not (role.startswith("arn:") and ":iam::" in role and ":role/" in role):
        raise CliError(f"--role-arn {role!r} is not an IAM role ARN",
                       "pass e.g. arn:aws:iam::123456789012:role/xgb-demo-sagemaker")


def placeholder(output: str, stack: str) -> str:
    return f"<{output} of stack {stack}>"


def data_stack(stand_ins: DryRun, prefix: str) -> tuple[DataStack, list[str]]:
    """The Data stack's values from the flags, else placeholders; and the outputs left as placeholders.

    The role placeholder keeps the shape of an IAM role ARN: the SDK treats anything else as a
    role *name* and would look it up in IAM.
    """
    from deployed.aws import DataStack

    name = stack_name(prefix, Component.DATA)
    bucket = stand_ins.bucket or placeholder(DataOutput.BUCKET, name)
    role = stand_ins.role_arn or (f"arn:aws:iam::{_ACCOUNT_PLACEHOLDER}:role/"
                                  + placeholder(DataOutput.EXECUTION_ROLE, name))
    key = stand_ins.kms_key_arn or placeholder(DataOutput.KEY, name)
    missing = [str(output) for output, flag in ((DataOutput.BUCKET, stand_ins.bucket),
                                           (DataOutput.EXECUTION_ROLE, stand_ins.role_arn),
                                           (DataOutput.KEY, stand_ins.kms_key_arn)) if not flag]
    return DataStack(name=name, bucket=bucket, role_arn=role, key_arn=key), missing


@dataclass
class Recorder:
    """Hooks a boto3 session: records requests, answers the passed-through ones, stops at the last."""

    final: frozenset[str]
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)

    def session(self, region: str) -> boto3.Session:
        import boto3
        import botocore.session

        # Dummy static credentials: no credential chain (it may ask the instance metadata service).
        # The profile is not read either (AWS_PROFILE may name one this machine does not have).
        core = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
        made = boto3.Session(botocore_session=core, region_name=region, aws_access_key_id="dry-run",
                             aws_secret_access_key="dry-run")
        made.events.register("before-parameter-build", self._record)
        made.events.register("before-call", self._before_call)
        made.events.register("before-send", self._before_send)
        return made

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.requests.append(Request(model.name, copy.deepcopy(params)))

    def _before_call(self, model: Any, **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        if model.name in self.final:
            raise Stop(self.requests)
        if model.name in self.answers:
            from botocore.awsrequest import AWSResponse

            return AWSResponse("https://dry-run.invalid/", 200, {}, None), dict(self.answers[model.name])
        raise Leak(f"the dry run reached {model.service_model.service_name}:{model.name}, an AWS call")

    def _before_send(self, request: Any, **_: Any) -> None:
        raise Leak(f"the dry run was about to send {request.method} {request.url}")


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return {"base64": base64.b64encode(value).decode("ascii")}
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def render(requests: Iterable[Request]) -> str:
    """One pretty JSON document per request, in the order they would be sent (``jq`` reads the stream)."""
    return "\n".join(json.dumps(r.document(), indent=2, default=_json_default) for r in requests) + "\n"


def parse(text: str) -> list[dict[str, Any]]:
    """The documents of ``render``'s output (for tests and tools)."""
    decoder, documents, position = json.JSONDecoder(), [], 0
    while text[position:].strip():
        position += len(text[position:]) - len(text[position:].lstrip())
        document, position = decoder.raw_decode(text, position)
        documents.append(document)
    return documents
