"""Inference stack: one SageMaker Model per variant, one weighted EndpointConfig, one Endpoint.

Model and EndpointConfig names are left to CloudFormation. Every EndpointConfig property
requires replacement, so a changed weight or model creates a new config and CloudFormation
points the (fixed-name) endpoint at it: an in-place endpoint update, no downtime.

The update is a SageMaker blue/green deployment (all at once, canary or linear, from the
config) that rolls back on its own when a per-variant alarm (5XX errors, model latency) fires
and guardrails are on. Instance variants may autoscale on invocations per instance; when one
does, the endpoint keeps the current instance counts across updates (weights still come from
the config). See README "Safe rollouts and A/B operations".
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, CfnTag, Duration, Stack
from aws_cdk import aws_applicationautoscaling as autoscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from contract.config import AppConfig, RolloutSettings, VariantConfig, VariantModel

OUTPUT_ENDPOINT = "EndpointName"
OUTPUT_ENDPOINT_CONFIG = "EndpointConfigName"
SAGEMAKER_NAMESPACE = "AWS/SageMaker"
ALARM_PERIOD = Duration.minutes(1)
SCALE_IN_COOLDOWN_SECONDS = 300
SCALE_OUT_COOLDOWN_SECONDS = 60


def variant_metric(endpoint_name: str, variant: str, metric_name: str, statistic: str, *,
                   label: str | None = None) -> cloudwatch.Metric:
    """A per-variant SageMaker endpoint metric (ModelLatency is in microseconds)."""
    return cloudwatch.Metric(
        namespace=SAGEMAKER_NAMESPACE, metric_name=metric_name, statistic=statistic,
        period=ALARM_PERIOD, label=label,
        dimensions_map={"EndpointName": endpoint_name, "VariantName": variant})


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
        data_bucket: s3.IBucket | None = None,
        data_key: kms.IKey | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        # Hosting reads each model artifact with the execution role; grant exactly those objects.
        artifact_access = iam.Policy(self, "ModelArtifactRead", roles=[execution_role])

        variants = []
        for model in config.models:
            cfn_model = self._model(model, execution_role, artifact_access)
            variants.append(self._production_variant(model.variant, cfn_model))

        endpoint_config = sagemaker.CfnEndpointConfig(
            self, "EndpointConfig",
            production_variants=variants,
            kms_key_id=volume_key.key_arn if volume_key and config.endpoint.volume_kms else None,
            data_capture_config=self._data_capture(config, data_bucket, data_key),
        )
        self.alarms = self._alarms(config)
        autoscaled = any(v.autoscaling is not None for v in config.variants)
        self.endpoint = sagemaker.CfnEndpoint(
            self, "Endpoint",
            endpoint_name=config.endpoint_name,
            endpoint_config_name=endpoint_config.attr_endpoint_config_name,
            deployment_config=self._deployment_config(config.endpoint.rollout, self.alarms),
            # With autoscaling, an update keeps the instance counts the scaler chose; the weights
            # are excluded from retention, so the config's weights apply on every deploy.
            retain_all_variant_properties=autoscaled,
            exclude_retained_variant_properties=[
                sagemaker.CfnEndpoint.VariantPropertyProperty(variant_property_type="DesiredWeight")
            ] if autoscaled else None,
        )
        # The endpoint downloads the artifacts when it starts: the grant must exist first.
        self.endpoint.node.add_dependency(artifact_access)
        for variant in config.variants:
            if variant.autoscaling is not None:
                self._autoscaling(variant)

        CfnOutput(self, OUTPUT_ENDPOINT, value=self.endpoint.attr_endpoint_name,
                  description="SageMaker endpoint serving the weighted variants")
        CfnOutput(self, OUTPUT_ENDPOINT_CONFIG, value=endpoint_config.attr_endpoint_config_name,
                  description="The endpoint config this stack expects the endpoint to run")

    @staticmethod
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

    @staticmethod
    def _data_capture(config: AppConfig, bucket: s3.IBucket | None,
                      key: kms.IKey | None) -> Any:
        capture = config.endpoint.data_capture
        if capture is None:
            return None
        assert bucket is not None, "data capture needs the Data stack's bucket"
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

    def _alarms(self, config: AppConfig) -> list[cloudwatch.Alarm]:
        """Two alarms per variant; the blue/green update rolls back when one fires."""
        rollout = config.endpoint.rollout
        alarms = []
        for variant in config.variants:
            name = variant.name
            alarms.append(cloudwatch.Alarm(
                self, f"{name}-5xx-alarm",
                metric=variant_metric(config.endpoint_name, name, "Invocation5XXErrors", "Sum"),
                threshold=rollout.alarm_5xx_errors, evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=f"{config.endpoint_name}/{name}: >= {rollout.alarm_5xx_errors} "
                                  "5XX invocation errors in a minute (rolls back a guarded update)"))
            alarms.append(cloudwatch.Alarm(
                self, f"{name}-latency-alarm",
                metric=variant_metric(config.endpoint_name, name, "ModelLatency", "Average"),
                threshold=rollout.alarm_model_latency_ms * 1000,  # ModelLatency is in microseconds
                evaluation_periods=2, datapoints_to_alarm=2,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=f"{config.endpoint_name}/{name}: average model latency over "
                                  f"{rollout.alarm_model_latency_ms:g} ms for 2 minutes "
                                  "(rolls back a guarded update)"))
        return alarms

    @staticmethod
    def _deployment_config(rollout: RolloutSettings, alarms: list[cloudwatch.Alarm]) -> Any:
        endpoint = sagemaker.CfnEndpoint
        routing = endpoint.TrafficRoutingConfigProperty(
            type=rollout.strategy.upper(),
            wait_interval_in_seconds=rollout.wait_seconds if rollout.strategy != "all_at_once" else None,
            canary_size=endpoint.CapacitySizeProperty(
                type=rollout.canary_size.cfn_type, value=rollout.canary_size.value)
            if rollout.strategy == "canary" else None,
            linear_step_size=endpoint.CapacitySizeProperty(
                type=rollout.linear_step_size.cfn_type, value=rollout.linear_step_size.value)
            if rollout.strategy == "linear" else None,
        )
        return endpoint.DeploymentConfigProperty(
            blue_green_update_policy=endpoint.BlueGreenUpdatePolicyProperty(
                traffic_routing_configuration=routing,
                maximum_execution_timeout_in_seconds=rollout.max_execution_seconds,
                termination_wait_in_seconds=rollout.termination_wait_seconds,
            ),
            auto_rollback_configuration=endpoint.AutoRollbackConfigProperty(
                alarms=[endpoint.AlarmProperty(alarm_name=a.alarm_name) for a in alarms])
            if rollout.guardrails else None,
        )

    def _autoscaling(self, variant: VariantConfig) -> None:
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
        return cfn_model

