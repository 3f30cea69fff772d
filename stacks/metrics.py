"""Per-variant SageMaker endpoint metrics: the rollback alarms and the dashboard read the same."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch

from contract.names import SAGEMAKER_NAMESPACE

PERIOD = Duration.minutes(1)


def variant_metric(endpoint_name: str, variant: str, metric_name: str, statistic: str, *,
                   label: str | None = None) -> cloudwatch.Metric:
    """A per-variant SageMaker endpoint metric (ModelLatency is in microseconds)."""
    return cloudwatch.Metric(
        namespace=SAGEMAKER_NAMESPACE, metric_name=metric_name, statistic=statistic,
        period=PERIOD, label=label,
        dimensions_map={"EndpointName": endpoint_name, "VariantName": variant})
