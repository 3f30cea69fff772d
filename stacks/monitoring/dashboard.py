"""The endpoint dashboard: per-variant invocations, latency and errors; the Lambda's and the
API's beside them."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from stacks.metrics import variant_metric


class EndpointDashboard(Construct):
    dashboard: cloudwatch.Dashboard

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        dashboard_name: str,
        endpoint_name: str,
        variant_names: Sequence[str],
        function: lambda_.IFunction,
        api: apigw.RestApiBase,
    ) -> None:
        super().__init__(scope, construct_id)

        def per_variant(metric_name: str, statistic: str) -> list[cloudwatch.IMetric]:
            return [variant_metric(endpoint_name, n, metric_name, statistic,
                                   label=f"{n} {metric_name}") for n in variant_names]

        def graph(title: str, metrics: list[cloudwatch.IMetric], unit: str = "") -> cloudwatch.GraphWidget:
            return cloudwatch.GraphWidget(title=title, left=metrics, width=8, height=6,
                                          left_y_axis=cloudwatch.YAxisProps(label=unit, show_units=False))

        minute = Duration.minutes(1)
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=dashboard_name)
        self.dashboard.add_widgets(
            graph("Invocations per variant", per_variant("Invocations", "Sum"), "count/min"),
            graph("Model latency per variant (avg)", per_variant("ModelLatency", "Average"), "µs"),
            graph("Invocation errors per variant",
                  per_variant("Invocation5XXErrors", "Sum") + per_variant("Invocation4XXErrors", "Sum"),
                  "count/min"),
        )
        self.dashboard.add_widgets(
            graph("Lambda invocations, errors, throttles", [
                function.metric_invocations(period=minute),
                function.metric_errors(period=minute),
                function.metric_throttles(period=minute)], "count/min"),
            graph("Lambda duration", [
                function.metric_duration(period=minute, statistic="p50"),
                function.metric_duration(period=minute, statistic="p99")], "ms"),
            graph("API requests, 4XX, 5XX, latency", [
                api.metric_count(period=minute),
                api.metric_client_error(period=minute),
                api.metric_server_error(period=minute)], "count/min"),
        )
