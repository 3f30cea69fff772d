"""API stack: the prediction API (preprocessing Lambda, REST API ``POST /predict``) and the
dashboard that shows the endpoint's variants beside the Lambda and the API.

A short composer: it builds :class:`stacks.api.prediction_api.PredictionApi` and
:class:`stacks.monitoring.dashboard.EndpointDashboard`, grants the Lambda the Inference stack's
endpoint, and publishes :class:`contract.names.ApiOutput`.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from contract.config import AppConfig
from contract.names import ApiOutput, dashboard_name, rest_api_name
from stacks.api.prediction_api import PredictionApi
from stacks.monitoring.dashboard import EndpointDashboard

# The dashboard's logical ID from when this stack created it directly (id "Dashboard").
DASHBOARD_LOGICAL_ID = "Dashboard9E4231ED"


class ApiStack(Stack):
    prediction_api: PredictionApi
    monitoring: EndpointDashboard

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
        if config.input_spec is None:
            raise ValueError("the API stack needs trained models (composition builds it only then)")
        # "Default" is left out of logical IDs: the Lambda, its role and log group, and the REST
        # API keep the IDs they had when this stack created them directly.
        self.prediction_api = PredictionApi(
            self, "Default",
            endpoint_name=endpoint_name,
            variants=config.handler_variants,
            settings=config.api,
            rest_api_name=rest_api_name(config.prefix),
        )
        self.prediction_api.allow_invoke(endpoint_arn)
        CfnOutput(self, ApiOutput.PREDICT_URL, value=self.prediction_api.predict_url,
                  description="POST prediction requests here")

        # The dashboard lives here, not in the Inference stack or a stack of its own: this stack
        # sees the endpoint, the Lambda and the API without a dependency cycle (it already
        # depends on the Inference stack), and the dashboard has a fixed name, so moving it to
        # another stack would let this stack's next update delete the dashboard by that name.
        self.monitoring = EndpointDashboard(
            self, "Monitoring",
            dashboard_name=dashboard_name(config.prefix),
            endpoint_name=config.endpoint_name,
            variant_names=[v.name for v in config.variants],
            function=self.function,
            api=self.api,
        )
        # Only one child per scope can be "Default", so the dashboard keeps its logical ID
        # explicitly: a new one would make CloudFormation create a second dashboard of the same
        # name (which fails) and then delete the old one.
        dashboard = self.monitoring.dashboard.node.default_child
        assert isinstance(dashboard, cloudwatch.CfnDashboard)
        dashboard.override_logical_id(DASHBOARD_LOGICAL_ID)
        CfnOutput(self, ApiOutput.DASHBOARD, value=self.dashboard.dashboard_name,
                  description="CloudWatch dashboard: variants, Lambda and API side by side")

    @property
    def function(self) -> lambda_.Function:
        return self.prediction_api.function

    @property
    def api(self) -> apigw.RestApi:
        return self.prediction_api.api

    @property
    def dashboard(self) -> cloudwatch.Dashboard:
        return self.monitoring.dashboard
