"""The inference endpoint: one SageMaker Model per variant, one weighted EndpointConfig, one Endpoint.

Model and EndpointConfig names are left to CloudFormation. Every EndpointConfig property
requires replacement, so a changed weight or model creates a new config and CloudFormation
points the (fixed-name) endpoint at it: an in-place endpoint update, no downtime.

The update is a SageMaker blue/green deployment (all at once, canary or linear) that rolls back
on its own when a per-variant alarm (5XX errors, model latency) fires and guardrails are on.
Instance variants may autoscale on invocations per instance; when one does, the endpoint keeps
the current instance counts across updates (weights still come from the config).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import ArnFormat, CfnTag, Stack
from aws_cdk import aws_applicationautoscaling as autoscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from contract.config import DataCaptureSettings, RolloutSettings, VariantConfig, VariantModel
from stacks.inference.rollout import deployment_config, rollback_alarms

SCALE_IN_COOLDOWN_SECONDS = 300
SCALE_OUT_COOLDOWN_SECONDS = 60


class InferenceEndpoint(Construct):
    """The endpoint serving ``models`` under ``endpoint_name``, updated by ``rollout``.

    ``volume_key`` encrypts the instances' ML storage volumes (None: AWS-managed). With
    ``data_capture``, requests and responses go to ``capture_bucket``, encrypted with
    ``capture_key`` when the settings ask for KMS.
    """

    artifact_access: iam.Policy
    # cloudwatch:DescribeAlarms on the rollback alarms: SageMaker reads them with the execution
    # role during a guarded update (None when guardrails are off).
    alarm_access: iam.Policy | None
    models: dict[str, sagemaker.CfnModel]
    endpoint_config: sagemaker.CfnEndpointConfig
    alarms: list[cloudwatch.Alarm]
    endpoint: sagemaker.CfnEndpoint
    scaling_targets: dict[str, autoscaling.CfnScalableTarget]

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoint_name: str,
        models: Sequence[VariantModel],
        rollout: RolloutSettings,
        execution_role: iam.IRole,
        volume_key: kms.IKey | None = None,
        data_capture: DataCaptureSettings | None = None,
        capture_bucket: s3.IBucket | None = None,
        capture_key: kms.IKey | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if not models:
            raise ValueError("an endpoint needs at least one variant model")
        variants = [model.variant for model in models]
        # Hosting reads each model artifact with the execution role; grant exactly those objects.
        self.artifact_access = iam.Policy(self, "ModelArtifactRead", roles=[execution_role])

        self.models = {}
        production_variants = []
        for model in models:
            cfn_model = self._model(model, execution_role)
            self.models[model.variant.name] = cfn_model
            production_variants.append(_production_variant(model.variant, cfn_model))

        self.endpoint_config = sagemaker.CfnEndpointConfig(
            self, "EndpointConfig",
            production_variants=production_variants,
            kms_key_id=volume_key.key_arn if volume_key else None,
            data_capture_config=_data_capture(data_capture, capture_bucket, capture_key),
        )
        self.alarms = rollback_alarms(self, endpoint_name=endpoint_name,
                                      variant_names=[v.name for v in variants], rollout=rollout)
        autoscaled = any(v.autoscaling is not None for v in variants)
        self.endpoint = sagemaker.CfnEndpoint(
            self, "Endpoint",
            endpoint_name=endpoint_name,
            endpoint_config_name=self.endpoint_config.attr_endpoint_config_name,
            deployment_config=deployment_config(rollout, self.alarms),
            # With autoscaling, an update keeps the instance counts the scaler chose; the weights
            # are excluded from retention, so the config's weights apply on every deploy.
            retain_all_variant_properties=autoscaled,
            exclude_retained_variant_properties=[
                sagemaker.CfnEndpoint.VariantPropertyProperty(variant_property_type="DesiredWeight")
            ] if autoscaled else None,
        )
        # The endpoint downloads the artifacts when it starts: the grant must exist first.
        self.endpoint.node.add_dependency(self.artifact_access)
        self.alarm_access = None
        if rollout.guardrails and self.endpoint.deployment_config is not None:
            # "Ensure that your IAM execution role has permission to perform the
            # cloudwatch:DescribeAlarms action on the auto-rollback alarms" (deployment guardrails
            # guide): exactly these alarms, and before the update that watches them.
            # ARNs from the alarm names (Ref), the same ARN as GetAtt Arn; the AWS emulator the
            # tests deploy into resolves Ref of an alarm but not its GetAtt.
            alarm_arns = [Stack.of(self).format_arn(
                service="cloudwatch", resource="alarm", resource_name=alarm.alarm_name,
                arn_format=ArnFormat.COLON_RESOURCE_NAME) for alarm in self.alarms]
            self.alarm_access = iam.Policy(self, "RollbackAlarmRead", roles=[execution_role],
                                           statements=[iam.PolicyStatement(
                                               actions=["cloudwatch:DescribeAlarms"],
                                               resources=alarm_arns)])
            self.endpoint.node.add_dependency(self.alarm_access)
        self.scaling_targets = {
            variant.name: self._autoscaling(variant)
            for variant in variants if variant.autoscaling is not None
        }

    def _model(self, model: VariantModel, role: iam.IRole) -> sagemaker.CfnModel:
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
        self.artifact_access.add_statements(iam.PolicyStatement(
            sid=f"ReadModel{name.replace('-', '')}",
            actions=["s3:GetObject"],
            resources=[object_arn],
        ))
        return sagemaker.CfnModel(
            self, f"{name}-model",
            execution_role_arn=role.role_arn,
            # SageMaker Serverless Inference does not support network isolation.
            enable_network_isolation=model.variant.serverless is None,
            primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(
                image=manifest.image_uri,
                model_data_url=model_data_url,
            ),
            tags=[
                CfnTag(key="variant", value=name),
                CfnTag(key="model-run-id", value=manifest.source.run_id),
            ],
        )

    def _autoscaling(self, variant: VariantConfig) -> autoscaling.CfnScalableTarget:
        assert variant.autoscaling is not None
        settings = variant.autoscaling
        target = autoscaling.CfnScalableTarget(
            self, f"{variant.name}-scaling-target",
            service_namespace="sagemaker",
            scalable_dimension="sagemaker:variant:DesiredInstanceCount",
            # The endpoint's name attribute makes the target wait for the endpoint to exist.
            resource_id=f"endpoint/{self.endpoint.attr_endpoint_name}/variant/{variant.name}",
            min_capacity=settings.min_instances,
            max_capacity=settings.max_instances,
        )
        autoscaling.CfnScalingPolicy(
            self, f"{variant.name}-scaling-policy",
            policy_name=f"{variant.name}-invocations-per-instance",
            policy_type="TargetTrackingScaling",
            scaling_target_id=target.ref,
            target_tracking_scaling_policy_configuration=(
                autoscaling.CfnScalingPolicy.TargetTrackingScalingPolicyConfigurationProperty(
                    target_value=settings.target_invocations_per_instance,
                    predefined_metric_specification=(
                        autoscaling.CfnScalingPolicy.PredefinedMetricSpecificationProperty(
                            predefined_metric_type="SageMakerVariantInvocationsPerInstance")),
                    scale_in_cooldown=SCALE_IN_COOLDOWN_SECONDS,
                    scale_out_cooldown=SCALE_OUT_COOLDOWN_SECONDS,
                )),
        )
        return target


def _production_variant(variant: VariantConfig, cfn_model: sagemaker.CfnModel) -> Any:
    if variant.serverless is not None:
        return sagemaker.CfnEndpointConfig.ProductionVariantProperty(
            variant_name=variant.name,
            model_name=cfn_model.attr_model_name,
            initial_variant_weight=variant.weight,
            serverless_config=sagemaker.CfnEndpointConfig.ServerlessConfigProperty(
                memory_size_in_mb=variant.serverless.memory_mb,
                max_concurrency=variant.serverless.max_concurrency),
        )
    return sagemaker.CfnEndpointConfig.ProductionVariantProperty(
        variant_name=variant.name,
        model_name=cfn_model.attr_model_name,
        initial_variant_weight=variant.weight,
        instance_type=variant.instance_type,
        initial_instance_count=variant.instance_count,
    )


def _data_capture(capture: DataCaptureSettings | None, bucket: s3.IBucket | None,
                  key: kms.IKey | None) -> Any:
    if capture is None:
        return None
    if bucket is None:
        raise ValueError("data capture needs the data bucket (capture_bucket)")
    return sagemaker.CfnEndpointConfig.DataCaptureConfigProperty(
        enable_capture=True,
        initial_sampling_percentage=capture.sampling_percentage,
        destination_s3_uri=bucket.s3_url_for_object(capture.prefix.rstrip("/")),
        kms_key_id=key.key_arn if capture.kms and key is not None else None,
        capture_options=[
            sagemaker.CfnEndpointConfig.CaptureOptionProperty(capture_mode="Input"),
            sagemaker.CfnEndpointConfig.CaptureOptionProperty(capture_mode="Output"),
        ],
        capture_content_type_header=sagemaker.CfnEndpointConfig.CaptureContentTypeHeaderProperty(
            csv_content_types=["text/csv"], json_content_types=["application/json"]),
    )
