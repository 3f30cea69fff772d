"""Inference stack: the SageMaker endpoint (models, weighted endpoint config, rollout, scaling).

A short composer: :class:`stacks.inference.endpoint.InferenceEndpoint` builds the resources;
this stack hands it the Data stack's role, key and bucket and publishes the endpoint's names
(:class:`contract.names.InferenceOutput`). See README "Safe rollouts and A/B operations".
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from contract.config import AppConfig
from contract.names import InferenceOutput
from stacks.inference.endpoint import InferenceEndpoint


class InferenceStack(Stack):
    inference: InferenceEndpoint

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: AppConfig,
        execution_role: iam.IRole,
        volume_key: kms.IKey | None,
        data_bucket: s3.IBucket | None = None,
        data_key: kms.IKey | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        # "Default" is left out of logical IDs: the endpoint, its configs, alarms and scaling
        # keep the IDs they had when this stack created them directly.
        self.inference = InferenceEndpoint(
            self, "Default",
            endpoint_name=config.endpoint_name,
            models=config.models,
            rollout=config.endpoint.rollout,
            execution_role=execution_role,
            volume_key=volume_key if config.endpoint.volume_kms else None,
            data_capture=config.endpoint.data_capture,
            capture_bucket=data_bucket,
            capture_key=data_key,
        )

        CfnOutput(self, InferenceOutput.ENDPOINT, value=self.endpoint.attr_endpoint_name,
                  description="SageMaker endpoint serving the weighted variants")
        CfnOutput(self, InferenceOutput.ENDPOINT_CONFIG,
                  value=self.inference.endpoint_config.attr_endpoint_config_name,
                  description="The endpoint config this stack expects the endpoint to run")

    @property
    def endpoint(self) -> sagemaker.CfnEndpoint:
        return self.inference.endpoint
