"""Inference stack: one SageMaker Model per variant, one weighted EndpointConfig, one Endpoint.

Model and EndpointConfig names are left to CloudFormation. Every EndpointConfig property
requires replacement, so a changed weight or model creates a new config and CloudFormation
points the (fixed-name) endpoint at it: an in-place endpoint update, no downtime.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, CfnTag, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from stacks.config import AppConfig, VariantModel

OUTPUT_ENDPOINT = "EndpointName"


class InferenceStack(Stack):
    endpoint: sagemaker.CfnEndpoint

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: AppConfig,
        execution_role: iam.IRole,
        volume_key: kms.IKey | None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        # Hosting reads each model artifact with the execution role; grant exactly those objects.
        artifact_access = iam.Policy(self, "ModelArtifactRead", roles=[execution_role])

        variants = []
        for model in config.models:
            cfn_model = self._model(model, execution_role, artifact_access)
            variants.append(sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                variant_name=model.variant.name,
                model_name=cfn_model.attr_model_name,
                initial_variant_weight=model.variant.weight,
                instance_type=model.variant.instance_type,
                initial_instance_count=model.variant.instance_count,
            ))

        endpoint_config = sagemaker.CfnEndpointConfig(
            self, "EndpointConfig",
            production_variants=variants,
            kms_key_id=volume_key.key_arn if volume_key and config.endpoint.volume_kms else None,
        )
        self.endpoint = sagemaker.CfnEndpoint(
            self, "Endpoint",
            endpoint_name=config.endpoint_name,
            endpoint_config_name=endpoint_config.attr_endpoint_config_name,
        )
        # The endpoint downloads the artifacts when it starts: the grant must exist first.
        self.endpoint.node.add_dependency(artifact_access)

        CfnOutput(self, OUTPUT_ENDPOINT, value=self.endpoint.attr_endpoint_name,
                  description="SageMaker endpoint serving the weighted variants")

    def _model(self, model: VariantModel, role: iam.IRole,
               artifact_access: iam.Policy) -> sagemaker.CfnModel:
        name = model.variant.name
        manifest = model.manifest
        if manifest.model_data is not None:
            model_data_url = manifest.model_data
            bucket, _, key = manifest.model_data.removeprefix("s3://").partition("/")
            object_arn = Stack.of(self).format_arn(
                service="s3", region="", account="", resource=bucket, resource_name=key)
        else:
            # Trained on this machine and not published: ship the artifact as a CDK asset.
            assert model.artifact_path is not None  # guaranteed by config validation
            asset = s3_assets.Asset(self, f"{name}-artifact", path=str(model.artifact_path))
            model_data_url = asset.s3_object_url
            object_arn = asset.bucket.arn_for_objects(asset.s3_object_key)
        artifact_access.add_statements(iam.PolicyStatement(
            sid=f"ReadModel{name.replace('-', '')}",
            actions=["s3:GetObject"],
            resources=[object_arn],
        ))
        cfn_model = sagemaker.CfnModel(
            self, f"{name}-model",
            execution_role_arn=role.role_arn,
            enable_network_isolation=True,
            primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(
                image=manifest.image_uri,
                model_data_url=model_data_url,
            ),
            tags=[
                CfnTag(key="variant", value=name),
                CfnTag(key="model-run-id", value=manifest.source.run_id),
            ],
        )
        return cfn_model

