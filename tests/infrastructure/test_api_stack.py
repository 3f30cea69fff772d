"""The API stack: Lambda settings and permissions, REST API auth, throttling, logs, validation."""

import json

import pytest
from aws_cdk.assertions import Match, Template

from contract.limits import API_INTEGRATION_TIMEOUT_SECONDS, LAMBDA_TIMEOUT_SECONDS
from tests.conftest import FIXTURES, synthesize, write_config


def api(synthesized) -> Template:
    return Template.from_json(synthesized.template("api"))


def test_lambda_runtime_timeout_and_environment_from_the_manifest(synthesized):
    (function,) = api(synthesized).find_resources("AWS::Lambda::Function").values()
    props = function["Properties"]
    assert props["Runtime"].startswith("python3.") and int(props["Runtime"].split(".")[1]) >= 12
    # The Lambda answers before API Gateway gives up on it.
    assert props["Timeout"] == LAMBDA_TIMEOUT_SECONDS < API_INTEGRATION_TIMEOUT_SECONDS
    assert props["Handler"] == "handler.handler"
    env = props["Environment"]["Variables"]
    assert json.loads(env["FEATURE_NAMES"]) == ["f0", "f1", "f2"]
    assert env["ENDPOINT_NAME"]["Fn::GetStackOutput"]["StackName"] == "xgb-test-inference"
    assert "Layers" not in props  # no third-party packages


def test_lambda_may_invoke_only_this_endpoint_and_write_its_own_logs(synthesized):
    template = api(synthesized)
    roles = template.find_resources("AWS::IAM::Role")
    assert all("ManagedPolicyArns" not in r["Properties"] for r in roles.values())
    (policy,) = template.find_resources("AWS::IAM::Policy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    # InvokeEndpoint, and DescribeEndpoint for the live weights the Lambda assigns variants by
    invoke = [s for s in statements
              if s["Action"] == ["sagemaker:DescribeEndpoint", "sagemaker:InvokeEndpoint"]]
    assert len(invoke) == 1
    # The resource is the endpoint's ARN: the Inference stack's output of {"Ref": <the
    # AWS::SageMaker::Endpoint>} (Ref of an endpoint is its ARN; its name would be a policy that
    # matches nothing).
    reference = invoke[0]["Resource"]["Fn::GetStackOutput"]
    assert reference["StackName"] == "xgb-test-inference"
    inference = synthesized.template("inference")
    assert inference["Outputs"][reference["OutputName"]]["Value"] == {"Ref": "Endpoint"}
    assert inference["Resources"]["Endpoint"]["Type"] == "AWS::SageMaker::Endpoint"
    logs = [s for s in statements if s is not invoke[0]]
    (log_group_id,) = template.find_resources("AWS::Logs::LogGroup", {
        "Properties": {"LogGroupName": Match.absent()}}).keys() & {
        f["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        for f in template.find_resources("AWS::Lambda::Function").values()}
    assert logs == [{"Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Effect": "Allow",
                     "Resource": {"Fn::GetAtt": [log_group_id, "Arn"]}}]


def test_post_predict_uses_iam_auth_lambda_proxy_and_a_validator(synthesized):
    template = api(synthesized)
    template.has_resource_properties("AWS::ApiGateway::Resource", {"PathPart": "predict"})
    template.has_resource_properties("AWS::ApiGateway::Method", {
        "HttpMethod": "POST",
        "AuthorizationType": "AWS_IAM",
        "Integration": Match.object_like({"Type": "AWS_PROXY", "IntegrationHttpMethod": "POST"}),
        "RequestValidatorId": Match.any_value(),
        "RequestModels": {"application/json": Match.any_value()},
        "RequestParameters": {"method.request.header.Content-Type": True},
    })
    template.has_resource_properties("AWS::ApiGateway::RequestValidator", {
        "ValidateRequestBody": True, "ValidateRequestParameters": True})
    template.resource_count_is("AWS::ApiGateway::UsagePlan", 0)


def test_stage_is_throttled_and_writes_json_access_logs(synthesized):
    template = api(synthesized)
    (stage,) = template.find_resources("AWS::ApiGateway::Stage").values()
    props = stage["Properties"]
    settings = props["MethodSettings"][0]
    assert (settings["ThrottlingRateLimit"], settings["ThrottlingBurstLimit"]) == (50, 100)
    access = props["AccessLogSetting"]
    assert json.loads(access["Format"])["requestId"] == "$context.requestId"
    assert ":log-group:" in json.dumps(access["DestinationArn"])
    template.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 90})


def test_gateway_errors_use_the_handlers_error_shape(synthesized):
    responses = api(synthesized).find_resources("AWS::ApiGateway::GatewayResponse")
    assert {r["Properties"]["ResponseType"] for r in responses.values()} == {
        "DEFAULT_4XX", "DEFAULT_5XX"}
    for response in responses.values():
        template = response["Properties"]["ResponseTemplates"]["application/json"]
        assert template.startswith('{"error": {"code": "$context.error.responseType"')


def synthesize_api(tmp_path_factory, api_table: str) -> Template:
    directory = tmp_path_factory.mktemp("api")
    text = (FIXTURES / "config" / "two_variants.toml").read_text()
    config = write_config(directory, f"{text}\n[api]\n{api_table}\n")
    return Template.from_json(synthesize(config, directory / "cdk.out").template("api"))


@pytest.fixture(scope="module")
def api_key_api(tmp_path_factory) -> Template:
    return synthesize_api(tmp_path_factory, 'auth = "api_key"')


def test_no_auth_only_by_explicit_opt_in(tmp_path_factory):
    template = synthesize_api(tmp_path_factory, 'auth = "none"\nallow_unauthenticated = true')
    (method,) = template.find_resources("AWS::ApiGateway::Method").values()
    assert method["Properties"]["AuthorizationType"] == "NONE"
    assert "ApiKeyRequired" not in method["Properties"] or not method["Properties"]["ApiKeyRequired"]
    template.resource_count_is("AWS::ApiGateway::UsagePlan", 0)


def test_api_key_mode_requires_a_key_and_a_usage_plan(api_key_api):
    api_key_api.has_resource_properties("AWS::ApiGateway::Method", {
        "HttpMethod": "POST", "AuthorizationType": "NONE", "ApiKeyRequired": True})
    api_key_api.resource_count_is("AWS::ApiGateway::ApiKey", 1)
    api_key_api.has_resource_properties("AWS::ApiGateway::UsagePlan", {
        "Throttle": {"RateLimit": 50, "BurstLimit": 100},
        "ApiStages": [Match.object_like({"Stage": Match.any_value()})]})
    api_key_api.resource_count_is("AWS::ApiGateway::UsagePlanKey", 1)


def test_dashboard_shows_every_variant_beside_the_lambda_and_the_api(synthesized):
    template = Template.from_json(synthesized.template("api"))
    (dashboard,) = template.find_resources("AWS::CloudWatch::Dashboard").values()
    assert dashboard["Properties"]["DashboardName"] == "xgb-test-endpoint"
    body = "".join(p if isinstance(p, str) else json.dumps(p)
                   for p in dashboard["Properties"]["DashboardBody"]["Fn::Join"][1])
    for variant in ("champion", "challenger"):
        for metric in ("Invocations", "ModelLatency", "Invocation5XXErrors", "Invocation4XXErrors"):
            assert (f'"AWS/SageMaker","{metric}","EndpointName","xgb-test-endpoint",'
                    f'"VariantName","{variant}"') in body, (variant, metric)
    for namespace_metric in ('"AWS/Lambda","Invocations"', '"AWS/Lambda","Errors"', '"AWS/Lambda","Duration"',
                             '"AWS/ApiGateway","Count"', '"AWS/ApiGateway","5XXError"'):
        assert namespace_metric in body, namespace_metric


def test_request_model_is_the_contracts_schema(synthesized):
    """API Gateway validates with the contract's schema (the local API front reads it too)."""
    from contract.request import REQUEST_SCHEMA

    (model,) = api(synthesized).find_resources("AWS::ApiGateway::Model").values()
    assert model["Properties"]["Schema"] == REQUEST_SCHEMA
