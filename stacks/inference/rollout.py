"""A guarded blue/green rollout: per-variant rollback alarms and the endpoint's DeploymentConfig."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from contract.config import RolloutSettings
from stacks.metrics import variant_metric


def rollback_alarms(scope: Construct, *, endpoint_name: str, variant_names: Sequence[str],
                    rollout: RolloutSettings) -> list[cloudwatch.Alarm]:
    """Two alarms per variant (5XX errors, model latency); a guarded update rolls back on either."""
    alarms = []
    for name in variant_names:
        alarms.append(cloudwatch.Alarm(
            scope, f"{name}-5xx-alarm",
            metric=variant_metric(endpoint_name, name, "Invocation5XXErrors", "Sum"),
            threshold=rollout.alarm_5xx_errors, evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=f"{endpoint_name}/{name}: >= {rollout.alarm_5xx_errors} "
                              "5XX invocation errors in a minute (rolls back a guarded update)"))
        alarms.append(cloudwatch.Alarm(
            scope, f"{name}-latency-alarm",
            metric=variant_metric(endpoint_name, name, "ModelLatency", "Average"),
            threshold=rollout.alarm_model_latency_ms * 1000,  # ModelLatency is in microseconds
            evaluation_periods=2, datapoints_to_alarm=2,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=f"{endpoint_name}/{name}: average model latency over "
                              f"{rollout.alarm_model_latency_ms:g} ms for 2 minutes "
                              "(rolls back a guarded update)"))
    return alarms


def deployment_config(rollout: RolloutSettings, alarms: Sequence[cloudwatch.IAlarm]) -> Any:
    """The endpoint's DeploymentConfig: only the chosen strategy's size and wait are set.

    None for strategy "none": SageMaker's plain update, the one that may change variant names.
    """
    if rollout.strategy == "none":
        return None
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
