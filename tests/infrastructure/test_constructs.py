"""Each component construct on a bare Stack, with minimal props (no cdk-nag, no other stacks)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Match, Template

from contract import names
from contract.config import ApiSettings, DataCaptureSettings, RolloutSettings, load_config
from contract.encoding import numeric_spec
from contract.limits import LAMBDA_TIMEOUT_SECONDS
from contract.request import REQUEST_SCHEMA
from stacks.api.prediction_api import PredictionApi
from stacks.api.request_model import json_schema
from stacks.inference.endpoint import InferenceEndpoint
from stacks.monitoring.dashboard import EndpointDashboard
from stacks.storage.data_storage import DataStorage
from tests.conftest import ROOT, TEST_CONFIG, cdk_context


def bare_stack(outdir: Path | None = None) -> Stack:
    app = App(context=cdk_context(), outdir=str(outdir) if outdir else None)
    return Stack(app, "Bare")


@pytest.fixture(scope="module")
def models():
    return load_config(TEST_CONFIG, base_dir=ROOT).models


# --- data storage ---------------------------------------------------------------------------

def test_data_storage_encrypts_the_data_bucket_with_its_key_and_logs_to_the_other_bucket():
    stack = bare_stack()
    storage = DataStorage(stack, "Storage")
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::KMS::Key", 1)
    template.resource_count_is("AWS::S3::Bucket", 2)
    key_id = stack.resolve(storage.key.key_arn)["Fn::GetAtt"][0]
    logs_id = stack.resolve(storage.access_logs.bucket_name)["Ref"]
    template.has_resource_properties("AWS::S3::Bucket", {
        "BucketEncryption": {"ServerSideEncryptionConfiguration": [Match.object_like({
            "ServerSideEncryptionByDefault": {
                "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": {"Fn::GetAtt": [key_id, "Arn"]}}})]},
        "LoggingConfiguration": {"DestinationBucketName": {"Ref": logs_id},
                                 "LogFilePrefix": "data-bucket/"},
    })
    template.has_resource_properties("AWS::IAM::Role", {"AssumeRolePolicyDocument": {
        "Statement": [Match.object_like({"Principal": {"Service": "sagemaker.amazonaws.com"}})]}})
    assert stack.resolve(storage.execution_role.role_arn)["Fn::GetAtt"][1] == "Arn"


# --- inference endpoint ---------------------------------------------------------------------

def endpoint_stack(models, **props) -> tuple[Stack, InferenceEndpoint]:
    stack = bare_stack()
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    props = {"rollout": RolloutSettings(), **props}
    return stack, InferenceEndpoint(stack, "Endpoint", endpoint_name="ep", models=models,
                                    execution_role=role, **props)


def test_endpoint_serves_one_model_per_variant_without_guardrails_by_default(models):
    stack, endpoint = endpoint_stack(models)
    template = Template.from_stack(stack)
    assert set(endpoint.models) == {"champion", "challenger"}
    template.resource_count_is("AWS::SageMaker::Model", 2)
    (config,) = template.find_resources("AWS::SageMaker::EndpointConfig").values()
    assert [v["VariantName"] for v in config["Properties"]["ProductionVariants"]] == [
        "champion", "challenger"]
    assert "KmsKeyId" not in config["Properties"] and "DataCaptureConfig" not in config["Properties"]
    (resource,) = template.find_resources("AWS::SageMaker::Endpoint").values()
    props = resource["Properties"]
    assert props["EndpointName"] == "ep"
    assert props["DeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"] == {
        "Type": "ALL_AT_ONCE"}
    assert "AutoRollbackConfiguration" not in props["DeploymentConfig"]
    assert len(endpoint.alarms) == 4  # two per variant; only guardrails wire them to rollback
    assert set(endpoint.scaling_targets) == {"champion"}  # only the champion autoscales
    template.resource_count_is("AWS::ApplicationAutoScaling::ScalingPolicy", 1)
    (policy,) = template.find_resources("AWS::IAM::Policy").values()
    assert [s["Sid"] for s in policy["Properties"]["PolicyDocument"]["Statement"]] == [
        "ReadModelchampion", "ReadModelchallenger"]


def test_endpoint_with_guardrails_volume_key_and_data_capture(models):
    stack = bare_stack()
    key = kms.Key(stack, "Key")
    bucket = s3.Bucket(stack, "Bucket")
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    endpoint = InferenceEndpoint(
        stack, "Endpoint", endpoint_name="ep", models=models[:1], execution_role=role,
        rollout=RolloutSettings(strategy="canary", guardrails=True), volume_key=key,
        data_capture=DataCaptureSettings(sampling_percentage=5), capture_bucket=bucket,
        capture_key=key)
    template = Template.from_stack(stack)
    key_arn = stack.resolve(key.key_arn)
    template.has_resource_properties("AWS::SageMaker::EndpointConfig", {
        "KmsKeyId": key_arn,
        "DataCaptureConfig": Match.object_like({"InitialSamplingPercentage": 5, "KmsKeyId": key_arn}),
    })
    rollback = stack.resolve(endpoint.endpoint.deployment_config)["autoRollbackConfiguration"]
    assert len(rollback["alarms"]) == len(endpoint.alarms) == 2


def test_endpoint_refuses_data_capture_without_a_bucket_and_an_empty_model_list(models):
    with pytest.raises(ValueError, match=r"^data capture needs the data bucket \(capture_bucket\)$"):
        endpoint_stack(models, data_capture=DataCaptureSettings())
    with pytest.raises(ValueError, match=r"^an endpoint needs at least one variant model$"):
        endpoint_stack(())


# --- prediction API -------------------------------------------------------------------------

INLINE = lambda_.Code.from_inline("def handler(event, context):\n    return {}\n")


def prediction_api(settings: ApiSettings | None = None, **props) -> tuple[Stack, PredictionApi]:
    stack = bare_stack(props.pop("outdir", None))
    props = {"code": INLINE, **props}
    return stack, PredictionApi(stack, "Api", endpoint_name="ep",
                                variants=[("champion", 1.0, numeric_spec(["a", "b"]))],
                                settings=settings or ApiSettings(), rest_api_name="x-predictions", **props)


def test_prediction_api_lambda_follows_the_contract():
    stack, api = prediction_api()
    api.allow_invoke("arn:aws:sagemaker:us-east-1:111111111111:endpoint/ep")
    template = Template.from_stack(stack)
    (function,) = template.find_resources("AWS::Lambda::Function").values()
    props = function["Properties"]
    assert props["Handler"] == names.HANDLER_ENTRY_POINT
    assert props["Timeout"] == LAMBDA_TIMEOUT_SECONDS
    assert props["Environment"]["Variables"] == {
        names.HandlerEnv.ENDPOINT_NAME: "ep", names.HandlerEnv.FEATURE_NAMES: '["a","b"]',
        names.HandlerEnv.VARIANTS: '[{"name":"champion","weight":1.0}]'}
    (policy,) = template.find_resources("AWS::IAM::Policy").values()
    logs, invoke = policy["Properties"]["PolicyDocument"]["Statement"]
    assert logs["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert invoke == {"Action": ["sagemaker:DescribeEndpoint", "sagemaker:InvokeEndpoint"],
                      "Effect": "Allow",
                      "Resource": "arn:aws:sagemaker:us-east-1:111111111111:endpoint/ep"}


def test_prediction_api_route_stage_and_request_model_follow_the_contract():
    stack, api = prediction_api()
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::ApiGateway::RestApi", {"Name": "x-predictions"})
    template.has_resource_properties("AWS::ApiGateway::Stage", {"StageName": names.API_STAGE})
    template.has_resource_properties("AWS::ApiGateway::Resource", {
        "PathPart": names.PREDICT_PATH.strip("/")})
    (model,) = template.find_resources("AWS::ApiGateway::Model").values()
    assert model["Properties"]["Schema"] == REQUEST_SCHEMA
    template.has_resource_properties("AWS::ApiGateway::Method", {"AuthorizationType": "AWS_IAM"})
    assert api.usage_plan is None and api.api_key is None
    assert names.PREDICT_PATH in json.dumps(stack.resolve(api.predict_url))


def test_prediction_api_with_api_keys_has_a_usage_plan():
    stack, api = prediction_api(ApiSettings(auth="api_key", throttle_rate_limit=5))
    template = Template.from_stack(stack)
    assert api.usage_plan is not None and api.api_key is not None
    template.has_resource_properties("AWS::ApiGateway::UsagePlan", {
        "Throttle": {"RateLimit": 5, "BurstLimit": 100}})
    template.has_resource_properties("AWS::ApiGateway::Method", {"ApiKeyRequired": True})


def test_the_handler_asset_carries_the_contract_package(tmp_path):
    stack, _ = prediction_api(outdir=tmp_path, code=None)  # the real handler folder
    app = stack.node.root
    assert isinstance(app, App)
    app.synth()
    (asset,) = [p for p in tmp_path.glob("asset.*") if (p / "handler.py").is_file()]
    assert (asset / "contract" / "names.py").is_file() and (asset / "contract" / "request.py").is_file()
    assert not list(asset.rglob("__pycache__")) and not list(asset.rglob("*.pyc"))


# --- request model converter ----------------------------------------------------------------

def test_a_richer_schema_converts_keyword_for_keyword():
    schema = {
        "$schema": "http://json-schema.org/draft-04/schema#", "type": "object",
        "required": ["rows"], "additionalProperties": False,
        "properties": {
            "rows": {"type": "array", "minItems": 1, "maxItems": 10,
                     "items": {"type": ["number", "null"]}},
            "mode": {"type": "string", "enum": ["a", "b"], "pattern": "^[ab]$"},
        },
    }
    stack = bare_stack()
    rest = apigw.RestApi(stack, "Api")
    rest.root.add_method("GET")
    rest.add_model("M", content_type="application/json", schema=json_schema(schema))
    (model,) = Template.from_stack(stack).find_resources("AWS::ApiGateway::Model").values()
    assert model["Properties"]["Schema"] == schema


@pytest.mark.parametrize("schema", [{"type": "object", "oneOf": []}, {"type": "tuple"},
                                    {"$schema": "https://json-schema.org/draft/2020-12/schema"}])
def test_the_converter_refuses_what_it_cannot_map(schema):
    with pytest.raises(ValueError):
        json_schema(schema)


# --- monitoring -----------------------------------------------------------------------------

def test_dashboard_graphs_each_variant_the_lambda_and_the_api():
    stack = bare_stack()
    function = lambda_.Function(stack, "Fn", runtime=lambda_.Runtime.PYTHON_3_14, handler="h.h",
                                code=INLINE)
    rest = apigw.RestApi(stack, "Api")
    rest.root.add_method("GET")
    monitoring = EndpointDashboard(stack, "Monitoring", dashboard_name="d", endpoint_name="ep",
                                   variant_names=["a", "b"], function=function, api=rest)
    template = Template.from_stack(stack)
    (dashboard,) = template.find_resources("AWS::CloudWatch::Dashboard").values()
    assert dashboard["Properties"]["DashboardName"] == "d"
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for variant in ("a", "b"):
        assert f'\\"{names.SAGEMAKER_NAMESPACE}\\",\\"Invocations\\",\\"EndpointName\\",\\"ep\\",' \
               f'\\"VariantName\\",\\"{variant}\\"' in body
    assert '\\"AWS/Lambda\\",\\"Duration\\"' in body and '\\"AWS/ApiGateway\\",\\"Count\\"' in body
    assert monitoring.dashboard.dashboard_name is not None
