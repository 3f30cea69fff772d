"""API stack: the preprocessing Lambda behind a REST API's ``POST /predict``.

IAM auth by default (SigV4-signed callers), API keys with a usage plan, or no auth by explicit
opt-in. Stage throttling, JSON access logs, a request validator on the JSON shape, and gateway
errors in the same ``{"error": {"code", "message"}}`` form the handler uses.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from contract.config import LOG_RETENTION_NAMES, AppConfig
from stacks.metrics import variant_metric
from stacks.nag import acknowledge

HANDLER_DIR = Path(__file__).resolve().parent.parent / "lambda" / "preprocess"
# Bytes in the asset folder change its hash; caches and editor litter must not.
ASSET_EXCLUDES = ["__pycache__", "*.pyc", ".DS_Store", "*.md", "tests"]
LAMBDA_TIMEOUT = Duration.seconds(25)  # under API Gateway's 29 s integration timeout
STAGE_NAME = "v1"
OUTPUT_URL = "PredictUrl"
OUTPUT_DASHBOARD = "DashboardName"

# API Gateway checks the top-level shape; the handler reports precise, per-field errors.
REQUEST_SCHEMA = apigw.JsonSchema(
    schema=apigw.JsonSchemaVersion.DRAFT4,
    type=apigw.JsonSchemaType.OBJECT,
    required=["instances"],
    properties={
        "instances": apigw.JsonSchema(type=apigw.JsonSchemaType.ARRAY),
        "target_variant": apigw.JsonSchema(type=apigw.JsonSchemaType.STRING),
        "inference_id": apigw.JsonSchema(type=apigw.JsonSchemaType.STRING),
    },
)
_ERROR_TEMPLATE = {"application/json": json.dumps(
    {"error": {"code": "$context.error.responseType", "message": "MESSAGE"}}
).replace('"MESSAGE"', "$context.error.messageString")}


class ApiStack(Stack):
    function: lambda_.Function
    api: apigw.RestApi

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: AppConfig,
        endpoint_name: str,
        endpoint_arn: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        retention = logs.RetentionDays[LOG_RETENTION_NAMES[config.api.log_retention_days]]
        self.function = self._function(config, endpoint_name, endpoint_arn, retention)
        self.api = self._rest_api(config, retention)

        predict = self.api.root.add_resource("predict")
        auth = config.api.auth
        method = predict.add_method(
            "POST",
            apigw.LambdaIntegration(self.function, proxy=True),
            authorization_type=(apigw.AuthorizationType.IAM if auth == "iam"
                                else apigw.AuthorizationType.NONE),
            api_key_required=auth == "api_key",
            request_validator=apigw.RequestValidator(
                self, "RequestValidator", rest_api=self.api,
                validate_request_body=True, validate_request_parameters=True),
            # The handler reads JSON or CSV; without a Content-Type it could only guess.
            request_parameters={"method.request.header.Content-Type": True},
            request_models={"application/json": self.api.add_model(
                "PredictRequest", content_type="application/json", schema=REQUEST_SCHEMA)},
        )
        if auth == "api_key":
            self._usage_plan(config)
        acknowledge(method, "AwsSolutions-COG4",
                    f"Callers authenticate with {'SigV4 (IAM)' if auth == 'iam' else 'API keys'}"
                    " or, for auth = none, by the config's explicit opt-in; no Cognito pool.")
        if auth != "iam":
            acknowledge(method, "AwsSolutions-APIG4",
                        "The config chose API-key or no authorization explicitly (api.auth).")

        CfnOutput(self, OUTPUT_URL, value=self.api.url_for_path("/predict"),
                  description="POST prediction requests here")
        # Here, not in the Inference stack: this stack sees the endpoint, the Lambda and the API
        # without a dependency cycle (it already depends on the Inference stack).
        self.dashboard = self._dashboard(config)
        CfnOutput(self, OUTPUT_DASHBOARD, value=self.dashboard.dashboard_name,
                  description="CloudWatch dashboard: variants, Lambda and API side by side")

    def _function(self, config: AppConfig, endpoint_name: str, endpoint_arn: str,
                  retention: logs.RetentionDays) -> lambda_.Function:
        log_group = logs.LogGroup(self, "PreprocessLogs", retention=retention,
                                  removal_policy=RemovalPolicy.RETAIN)
        # Own role instead of AWSLambdaBasicExecutionRole: writes to its log group only.
        role = iam.Role(self, "PreprocessRole",
                        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        role.add_to_policy(iam.PolicyStatement(
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[log_group.log_group_arn],
        ))
        role.add_to_policy(iam.PolicyStatement(
            actions=["sagemaker:InvokeEndpoint"], resources=[endpoint_arn]))
        return lambda_.Function(
            self, "Preprocess",
            runtime=lambda_.Runtime.PYTHON_3_14,
            architecture=lambda_.Architecture.ARM_64,
            handler="handler.handler",
            code=lambda_.Code.from_asset(str(HANDLER_DIR), exclude=ASSET_EXCLUDES),
            timeout=LAMBDA_TIMEOUT,
            memory_size=512,
            role=role,
            log_group=log_group,
            environment={
                "ENDPOINT_NAME": endpoint_name,
                "FEATURE_NAMES": json.dumps(list(config.feature_names), separators=(",", ":")),
            },
            description="Validates prediction requests and forwards them to the SageMaker endpoint",
        )

    def _rest_api(self, config: AppConfig, retention: logs.RetentionDays) -> apigw.RestApi:
        access_logs = logs.LogGroup(self, "ApiAccessLogs", retention=retention,
                                    removal_policy=RemovalPolicy.RETAIN)
        api = apigw.RestApi(
            self, "PredictionApi",
            rest_api_name=f"{config.prefix}-predictions",
            description="Prediction API in front of the SageMaker endpoint",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=False,
            deploy_options=apigw.StageOptions(
                stage_name=STAGE_NAME,
                throttling_rate_limit=config.api.throttle_rate_limit,
                throttling_burst_limit=config.api.throttle_burst_limit,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=True, http_method=True, ip=True, protocol=True, request_time=True,
                    resource_path=True, response_length=True, status=True, user=True),
                metrics_enabled=True,
            ),
        )
        for response_type in (apigw.ResponseType.DEFAULT_4_XX, apigw.ResponseType.DEFAULT_5_XX):
            api.add_gateway_response(f"Json{response_type.response_type}",
                                     type=response_type, templates=_ERROR_TEMPLATE)
        acknowledge(api.deployment_stage, "AwsSolutions-APIG3",
                    "WAF is an account-level cost decision; the stage is throttled and the route "
                    "authenticated. Associate a WebACL with the stage ARN to add one.")
        acknowledge(api.deployment_stage, "AwsSolutions-APIG6",
                    "Execution logging needs the account-wide API Gateway CloudWatch role, which "
                    "this app does not own (disableCloudWatchRole); JSON access logs are on.")
        return api

    def _dashboard(self, config: AppConfig) -> cloudwatch.Dashboard:
        """Per-variant invocations, latency and errors; the Lambda's and the API's beside them."""
        names = [v.name for v in config.variants]

        def per_variant(metric_name: str, statistic: str) -> list[cloudwatch.IMetric]:
            return [variant_metric(config.endpoint_name, n, metric_name, statistic,
                                   label=f"{n} {metric_name}") for n in names]

        def graph(title: str, metrics: list[cloudwatch.IMetric], unit: str = "") -> cloudwatch.GraphWidget:
            return cloudwatch.GraphWidget(title=title, left=metrics, width=8, height=6,
                                          left_y_axis=cloudwatch.YAxisProps(label=unit, show_units=False))

        minute = Duration.minutes(1)
        dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=f"{config.prefix}-endpoint")
        dashboard.add_widgets(
            graph("Invocations per variant", per_variant("Invocations", "Sum"), "count/min"),
            graph("Model latency per variant (avg)", per_variant("ModelLatency", "Average"), "µs"),
            graph("Invocation errors per variant",
                  per_variant("Invocation5XXErrors", "Sum") + per_variant("Invocation4XXErrors", "Sum"),
                  "count/min"),
        )
        dashboard.add_widgets(
            graph("Lambda invocations, errors, throttles", [
                self.function.metric_invocations(period=minute),
                self.function.metric_errors(period=minute),
                self.function.metric_throttles(period=minute)], "count/min"),
            graph("Lambda duration", [
                self.function.metric_duration(period=minute, statistic="p50"),
                self.function.metric_duration(period=minute, statistic="p99")], "ms"),
            graph("API requests, 4XX, 5XX, latency", [
                self.api.metric_count(period=minute),
                self.api.metric_client_error(period=minute),
                self.api.metric_server_error(period=minute)], "count/min"),
        )
        return dashboard

    def _usage_plan(self, config: AppConfig) -> None:
        key = self.api.add_api_key("ClientKey")
        plan = self.api.add_usage_plan(
            "ClientPlan",
            throttle=apigw.ThrottleSettings(rate_limit=config.api.throttle_rate_limit,
                                            burst_limit=config.api.throttle_burst_limit),
        )
        plan.add_api_key(key)
        plan.add_api_stage(stage=self.api.deployment_stage)
