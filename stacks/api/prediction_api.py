"""The prediction API: the preprocessing Lambda behind a REST API's ``POST /predict``.

IAM auth by default (SigV4-signed callers), API keys with a usage plan, or no auth by explicit
opt-in. Stage throttling, JSON access logs, a request validator on the JSON shape
(contract.request.REQUEST_SCHEMA), and gateway errors in the same
``{"error": {"code", "message"}}`` form the handler uses.
"""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy, SymlinkFollowMode
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from contract.config import LOG_RETENTION_NAMES, ApiSettings
from contract.encoding import InputSpec
from contract.limits import LAMBDA_TIMEOUT_SECONDS
from contract.names import (
    API_STAGE,
    HANDLER_ENTRY_POINT,
    PREDICT_PATH,
    handler_setup,
)
from contract.request import REQUEST_SCHEMA
from stacks.api.request_model import json_schema
from stacks.nag import acknowledge

HANDLER_DIR = Path(__file__).resolve().parents[2] / "lambda" / "preprocess"
# Bytes in the asset folder change its hash; caches and editor litter must not.
ASSET_EXCLUDES = ["__pycache__", "*.pyc", ".DS_Store", "*.md", "tests"]
MEMORY_MB = 512
_ERROR_TEMPLATE = {"application/json": json.dumps(
    {"error": {"code": "$context.error.responseType", "message": "MESSAGE"}}
).replace('"MESSAGE"', "$context.error.messageString")}


def handler_code(files: Mapping[str, str]) -> lambda_.Code:
    """The handler folder as an asset. It follows symlinks: lambda/preprocess/contract links
    to the contract package, which the handler imports, and the asset must carry its files.

    Input specs with categorical or text fields ride in the asset (``files``: name -> content;
    a vocabulary does not fit Lambda's 4 KB of environment variables): the folder is copied with
    the files added. The asset hash is a hash of the content, so the template stays
    deterministic and a changed vocabulary shows in ``cdk diff`` as a new asset for the function.
    """
    source = HANDLER_DIR
    if files:
        staging = Path(tempfile.mkdtemp(prefix="xgbapi-handler-"))
        atexit.register(shutil.rmtree, staging, ignore_errors=True)  # CDK copies it at synth
        source = staging / "asset"
        shutil.copytree(HANDLER_DIR, source, ignore=shutil.ignore_patterns(*ASSET_EXCLUDES))
        for name, content in files.items():
            (source / name).write_text(content, encoding="utf-8")
    return lambda_.Code.from_asset(str(source), exclude=ASSET_EXCLUDES,
                                   follow_symlinks=SymlinkFollowMode.ALWAYS)


class PredictionApi(Construct):
    """``POST /predict`` on a REST API named ``rest_api_name``, proxied to the Lambda.

    The Lambda calls ``endpoint_name``, assigns each request one of ``variants`` (name, config
    weight, input spec) and encodes its rows with that variant's spec; the
    composing stack grants it ``sagemaker:InvokeEndpoint`` (see :meth:`allow_invoke`).
    """

    log_group: logs.LogGroup
    role: iam.Role
    function: lambda_.Function
    access_logs: logs.LogGroup
    api: apigw.RestApi
    method: apigw.Method
    usage_plan: apigw.UsagePlan | None
    api_key: apigw.IApiKey | None

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoint_name: str,
        variants: Sequence[tuple[str, float, InputSpec]],
        settings: ApiSettings,
        rest_api_name: str,
        code: lambda_.Code | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        retention = logs.RetentionDays[LOG_RETENTION_NAMES[settings.log_retention_days]]
        environment, files = handler_setup(endpoint_name, variants)
        self._function(environment, retention, code or handler_code(files))
        self._rest_api(settings, rest_api_name, retention)

        predict = self.api.root.add_resource(PREDICT_PATH.strip("/"))
        auth = settings.auth
        self.method = predict.add_method(
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
                "PredictRequest", content_type="application/json",
                schema=json_schema(REQUEST_SCHEMA))},
        )
        self.usage_plan, self.api_key = self._usage_plan(settings) if auth == "api_key" else (None, None)
        acknowledge(self.method, "AwsSolutions-COG4",
                    f"Callers authenticate with {'SigV4 (IAM)' if auth == 'iam' else 'API keys'}"
                    " or, for auth = none, by the config's explicit opt-in; no Cognito pool.")
        if auth != "iam":
            acknowledge(self.method, "AwsSolutions-APIG4",
                        "The config chose API-key or no authorization explicitly (api.auth).")

    @property
    def predict_url(self) -> str:
        return self.api.url_for_path(PREDICT_PATH)

    def allow_invoke(self, endpoint_arn: str) -> None:
        """Let the Lambda call this one endpoint and nothing else: InvokeEndpoint, and
        DescribeEndpoint for the live variant weights it assigns requests by."""
        self.role.add_to_policy(iam.PolicyStatement(
            actions=["sagemaker:InvokeEndpoint", "sagemaker:DescribeEndpoint"],
            resources=[endpoint_arn]))

    def _function(self, environment: dict[str, str], retention: logs.RetentionDays,
                  code: lambda_.Code) -> None:
        self.log_group = logs.LogGroup(self, "PreprocessLogs", retention=retention,
                                       removal_policy=RemovalPolicy.RETAIN)
        # Own role instead of AWSLambdaBasicExecutionRole: writes to its log group only.
        self.role = iam.Role(self, "PreprocessRole",
                             assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        self.role.add_to_policy(iam.PolicyStatement(
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[self.log_group.log_group_arn],
        ))
        self.function = lambda_.Function(
            self, "Preprocess",
            runtime=lambda_.Runtime.PYTHON_3_14,
            architecture=lambda_.Architecture.ARM_64,
            handler=HANDLER_ENTRY_POINT,
            code=code,
            timeout=Duration.seconds(LAMBDA_TIMEOUT_SECONDS),
            memory_size=MEMORY_MB,
            role=self.role,
            log_group=self.log_group,
            environment=environment,
            description="Validates prediction requests and forwards them to the SageMaker endpoint",
        )

    def _rest_api(self, settings: ApiSettings, rest_api_name: str,
                  retention: logs.RetentionDays) -> None:
        self.access_logs = logs.LogGroup(self, "ApiAccessLogs", retention=retention,
                                         removal_policy=RemovalPolicy.RETAIN)
        self.api = apigw.RestApi(
            self, "PredictionApi",
            rest_api_name=rest_api_name,
            description="Prediction API in front of the SageMaker endpoint",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=False,
            deploy_options=apigw.StageOptions(
                stage_name=API_STAGE,
                throttling_rate_limit=settings.throttle_rate_limit,
                throttling_burst_limit=settings.throttle_burst_limit,
                access_log_destination=apigw.LogGroupLogDestination(self.access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=True, http_method=True, ip=True, protocol=True, request_time=True,
                    resource_path=True, response_length=True, status=True, user=True),
                metrics_enabled=True,
            ),
        )
        for response_type in (apigw.ResponseType.DEFAULT_4_XX, apigw.ResponseType.DEFAULT_5_XX):
            self.api.add_gateway_response(f"Json{response_type.response_type}",
                                          type=response_type, templates=_ERROR_TEMPLATE)
        acknowledge(self.api.deployment_stage, "AwsSolutions-APIG3",
                    "WAF is an account-level cost decision; the stage is throttled and the route "
                    "authenticated. Associate a WebACL with the stage ARN to add one.")
        acknowledge(self.api.deployment_stage, "AwsSolutions-APIG6",
                    "Execution logging needs the account-wide API Gateway CloudWatch role, which "
                    "this app does not own (disableCloudWatchRole); JSON access logs are on.")

    def _usage_plan(self, settings: ApiSettings) -> tuple[apigw.UsagePlan, apigw.IApiKey]:
        key = self.api.add_api_key("ClientKey")
        plan = self.api.add_usage_plan(
            "ClientPlan",
            throttle=apigw.ThrottleSettings(rate_limit=settings.throttle_rate_limit,
                                            burst_limit=settings.throttle_burst_limit),
        )
        plan.add_api_key(key)
        plan.add_api_stage(stage=self.api.deployment_stage)
        return plan, key
