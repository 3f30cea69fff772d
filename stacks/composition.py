"""Composes the stacks from a validated config; app.py and the tests both call :func:`compose`."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import App, Environment, Stack

from contract.config import AppConfig
from contract.names import Component
from stacks import nag
from stacks.api_stack import ApiStack
from stacks.data_stack import DataStack
from stacks.inference_stack import InferenceStack


@dataclass(frozen=True)
class Stacks:
    data: DataStack
    inference: InferenceStack | None
    api: ApiStack | None

    def all(self) -> list[Stack]:
        return [s for s in (self.data, self.inference, self.api) if s is not None]


def compose(app: App, config: AppConfig) -> Stacks:
    env = Environment(account=config.account, region=config.region) if (
        config.account or config.region) else None
    common = {"env": env, "analytics_reporting": False}
    nag.enable_checks(app)

    data = DataStack(app, config.stack_name(Component.DATA), prefix=config.prefix, description=(
        f"{config.prefix}: data bucket, KMS key, SageMaker execution role and model package "
        "group (retained)"), **common)
    if not config.has_models:
        return Stacks(data=data, inference=None, api=None)

    inference = InferenceStack(
        app, config.stack_name(Component.INFERENCE),
        description=f"{config.prefix}: SageMaker models, weighted endpoint config and endpoint",
        config=config, execution_role=data.execution_role,
        volume_key=data.key if config.endpoint.volume_kms else None,
        data_bucket=data.bucket, data_key=data.key, **common)
    api = ApiStack(
        app, config.stack_name(Component.API),
        description=f"{config.prefix}: preprocessing Lambda and REST API POST /predict",
        config=config, endpoint_name=inference.endpoint.attr_endpoint_name,
        endpoint_arn=inference.endpoint.ref, **common)
    return Stacks(data=data, inference=inference, api=api)
