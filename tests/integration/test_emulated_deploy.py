"""`cdk bootstrap` + `cdk deploy` of every stack into moto on loopback, then a changed config.

What moto does not emulate is listed here (and in the README) rather than asserted around:
- it skips AWS::S3::BucketPolicy, the public-access block, AWS::ApiGateway::Stage, gateway
  responses, request validators and models (the stack still completes);
- it ignores the SageMaker Endpoint's EndpointName, the Model's EnableNetworkIsolation and
  the bucket's VersioningConfiguration;
- on an update it creates the new EndpointConfig but leaves the Endpoint on the old one;
- it skips AWS::CloudWatch::Alarm and the ApplicationAutoScaling target and policy (the
  Endpoint's DeploymentConfig naming the alarms is accepted);
- it has no Fn::GetStackOutput, so the emulated deploy uses strong references (ImportValue).
The templates' values for all of these are asserted in tests/infrastructure instead.
"""

from __future__ import annotations

import json

import boto3
import pytest

from tests.conftest import FIXTURES, write_config
from tools import emulator

TEST_CONFIG = (FIXTURES / "config" / "two_variants.toml").read_text()
# Adding a variant changes the slots: the documented way is one deploy without a deployment
# policy (a blue/green update must keep the variant names) and with guardrails off.
CHANGED = TEST_CONFIG.replace("weight = 0.7", "weight = 0.5").replace("weight = 0.3", "weight = 0.4").replace(
    "guardrails = true", "guardrails = false").replace('strategy = "canary"', 'strategy = "none"').replace(
    'canary_size = "25%"\n', "") + """
[[variants]]
name = "canary"
manifest = "tests/fixtures/manifests/challenger/manifest.json"
weight = 0.1
instance_type = "ml.m5.large"
instance_count = 1
"""


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    directory = tmp_path_factory.mktemp("emulated")
    config = write_config(directory, TEST_CONFIG)
    with emulator.moto_server() as url:
        env = emulator.aws_env(url)
        emulator.bootstrap(env)
        emulator.deploy(config, env, directory / "cdk.out")
        aws = emulator.clients(url)
        yield aws, config, env, directory


def outputs(aws, stack: str) -> dict[str, str]:
    (described,) = aws["cloudformation"].describe_stacks(StackName=stack)["Stacks"]
    assert described["StackStatus"] == "CREATE_COMPLETE" or described["StackStatus"].endswith(
        "UPDATE_COMPLETE")
    return {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}


def test_data_bucket_key_and_execution_role(deployed):
    aws, *_ = deployed
    data = outputs(aws, "xgb-test-data")
    bucket = data["DataBucketName"]
    encryption = aws["s3"].get_bucket_encryption(Bucket=bucket)
    rule = encryption["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": data["DataKeyArn"]}
    role_name = data["SageMakerExecutionRoleArn"].rsplit("/", 1)[1]
    role = aws["iam"].get_role(RoleName=role_name)["Role"]
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    assert trust["Statement"][0]["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    assert aws["iam"].list_attached_role_policies(RoleName=role_name)["AttachedPolicies"] == []
    policies = aws["iam"].list_role_policies(RoleName=role_name)["PolicyNames"]
    statements = [s for name in policies for s in _document(aws, role_name, name)["Statement"]]
    sids = {s.get("Sid") for s in statements}
    assert {"ReadWriteProjectObjects", "PullBuiltInXgboostImage", "ReadModelchampion",
            "ReadModelchallenger"} <= sids
    pull = next(s for s in statements if s.get("Sid") == "PullBuiltInXgboostImage")
    assert pull["Resource"] == "arn:aws:ecr:us-east-1:683313688378:repository/sagemaker-xgboost"


def _document(aws, role_name: str, policy_name: str) -> dict:
    document = aws["iam"].get_role_policy(RoleName=role_name, PolicyName=policy_name)["PolicyDocument"]
    return json.loads(document) if isinstance(document, str) else document


def test_models_endpoint_config_and_endpoint(deployed):
    aws, *_ = deployed
    sagemaker = aws["sagemaker"]
    endpoint_name = outputs(aws, "xgb-test-inference")["EndpointName"]
    endpoint = sagemaker.describe_endpoint(EndpointName=endpoint_name)
    assert endpoint["EndpointStatus"] == "InService"
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    assert config["KmsKeyId"] == outputs(aws, "xgb-test-data")["DataKeyArn"]
    variants = {v["VariantName"]: v for v in config["ProductionVariants"]}
    assert {n: (v["InitialVariantWeight"], v["InstanceType"], v["InitialInstanceCount"])
            for n, v in variants.items()} == {
        "champion": (0.7, "ml.m5.large", 2), "challenger": (0.3, "ml.c5.xlarge", 1)}
    champion = sagemaker.describe_model(ModelName=variants["champion"]["ModelName"])
    assert champion["PrimaryContainer"]["Image"] == (
        "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5")
    assert champion["PrimaryContainer"]["ModelDataUrl"].endswith(
        "xgb-demo-20261101T120000Z-champ/output/model.tar.gz")
    challenger = sagemaker.describe_model(ModelName=variants["challenger"]["ModelName"])
    artifact = challenger["PrimaryContainer"]["ModelDataUrl"]  # the local artifact, as an asset
    bucket, key = artifact.removeprefix("s3://").split("/", 1)
    assert aws["s3"].head_object(Bucket=bucket, Key=key)["ContentLength"] > 0


def test_data_capture_and_dashboard(deployed):
    aws, _, env, _ = deployed
    sagemaker = aws["sagemaker"]
    endpoint = sagemaker.describe_endpoint(EndpointName=outputs(aws, "xgb-test-inference")["EndpointName"])
    assert endpoint["EndpointConfigName"] == outputs(aws, "xgb-test-inference")["EndpointConfigName"]
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    capture = config["DataCaptureConfig"]
    bucket = outputs(aws, "xgb-test-data")["DataBucketName"]
    assert capture["DestinationS3Uri"] == f"s3://{bucket}/data-capture/xgb-test"
    assert capture["InitialSamplingPercentage"] == 20
    dashboard = outputs(aws, "xgb-test-api")["DashboardName"]
    assert dashboard == "xgb-test-endpoint"
    cloudwatch = boto3.client("cloudwatch", endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                              aws_access_key_id="testing", aws_secret_access_key="testing")
    body = json.loads(cloudwatch.get_dashboard(DashboardName=dashboard)["DashboardBody"])
    assert len(body["widgets"]) == 6


def test_lambda_environment_and_api_route(deployed):
    aws, *_ = deployed
    (function,) = [f for f in aws["lambda"].list_functions()["Functions"]
                   if f["FunctionName"].startswith("xgb-test-api-")]
    assert function["Runtime"] == "python3.14" and function["Timeout"] == 25
    variables = function["Environment"]["Variables"]
    assert json.loads(variables["FEATURE_NAMES"]) == ["f0", "f1", "f2"]
    assert variables["ENDPOINT_NAME"] == outputs(aws, "xgb-test-inference")["EndpointName"]
    # The function's role may call the endpoint by its ARN (a policy on the name matches nothing).
    endpoint = aws["sagemaker"].describe_endpoint(EndpointName=variables["ENDPOINT_NAME"])
    role_name = function["Role"].rsplit("/", 1)[1]
    statements = [s for name in aws["iam"].list_role_policies(RoleName=role_name)["PolicyNames"]
                  for s in _document(aws, role_name, name)["Statement"]]
    (invoke,) = [s for s in statements if "sagemaker:InvokeEndpoint" in s["Action"]]
    assert endpoint["EndpointArn"].startswith("arn:aws:sagemaker:us-east-1:")
    assert invoke["Resource"] == endpoint["EndpointArn"]
    (api,) = [a for a in aws["apigateway"].get_rest_apis()["items"] if a["name"] == "xgb-test-predictions"]
    resources = {r["path"]: r for r in aws["apigateway"].get_resources(restApiId=api["id"])["items"]}
    method = aws["apigateway"].get_method(restApiId=api["id"], resourceId=resources["/predict"]["id"],
                                          httpMethod="POST")
    assert method["authorizationType"] == "AWS_IAM"
    assert method["methodIntegration"]["type"] == "AWS_PROXY"


def test_a_changed_config_deploys_a_new_endpoint_config(deployed):
    aws, config, env, directory = deployed
    sagemaker = aws["sagemaker"]
    before = {c["EndpointConfigName"] for c in sagemaker.list_endpoint_configs()["EndpointConfigs"]}
    config.write_text(CHANGED)
    emulator.deploy(config, env, directory / "cdk.out.changed")
    after = {c["EndpointConfigName"] for c in sagemaker.list_endpoint_configs()["EndpointConfigs"]}
    (new_config,) = after - before
    variants = sagemaker.describe_endpoint_config(EndpointConfigName=new_config)["ProductionVariants"]
    assert [(v["VariantName"], v["InitialVariantWeight"]) for v in variants] == [
        ("champion", 0.5), ("challenger", 0.4), ("canary", 0.1)]
    (stack,) = aws["cloudformation"].describe_stacks(StackName="xgb-test-inference")["Stacks"]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    resources = aws["cloudformation"].list_stack_resources(StackName="xgb-test-inference")
    physical = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources["StackResourceSummaries"]}
    assert physical["EndpointConfig"].endswith(new_config)
