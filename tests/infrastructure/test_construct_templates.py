"""Each construct's whole template, in a bare stack, for the settings that change its shape.

The stack snapshots (test_snapshots.py) synthesize the app once per session: too slow to run
per mutant in `make mutate`. These synthesize one construct at a time (a fraction of a second
each), so every property a construct writes, down to a cdk-nag acknowledgement's reason, is
checked by tests that run in its mutation runs. The least-privilege policies are asserted with
literal statements as well: a snapshot can be re-baselined, a statement written out in a test
is read in review. Re-baseline with `make snapshot-update`.
"""

from __future__ import annotations

import atexit
import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from syrupy.extensions.json import JSONSnapshotExtension

from contract.config import (
    ApiSettings,
    DataCaptureSettings,
    RolloutSettings,
    VariantModel,
    load_config,
)
from contract.encoding import Field, InputSpec, numeric_spec
from stacks.api.prediction_api import PredictionApi
from stacks.inference.endpoint import InferenceEndpoint
from stacks.storage.execution_role import SageMakerExecutionRole
from tests.conftest import ROOT, SERVERLESS, TEST_CONFIG, cdk_context

ASSET_HASH = re.compile(r"[0-9a-f]{64}")


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


def bare_stack(outdir: Path) -> Stack:
    return Stack(App(context=cdk_context(), outdir=str(outdir)), "Bare")


def template_of(stack: Stack) -> dict[str, Any]:
    """What `cdk synth` writes for the stack: its template, and the cdk-nag acknowledgements
    (construct path -> rule -> reason) its metadata records. Asset hashes are masked: a
    retrained artifact or an edited handler file changes them, and what is checked here is the
    construct's code."""
    app = stack.node.root
    assert isinstance(app, App)
    assembly = Path(app.synth().directory)
    manifest = json.loads((assembly / "manifest.json").read_text())["artifacts"][stack.artifact_id]
    metadata = json.loads((assembly / manifest["additionalMetadataFile"]).read_text())
    acknowledged: dict[str, dict[str, str]] = {}
    for path, entries in metadata.items():
        for entry in entries:
            if entry["type"] == "aws:cdk:acknowledged-rules":
                acknowledged.setdefault(path, {}).update(entry["data"])
    template = json.loads((assembly / stack.template_file).read_text())
    text = json.dumps({**template, "Acknowledged": acknowledged}, sort_keys=True)
    return json.loads(ASSET_HASH.sub("<asset-hash>", text))


def statements(template: dict[str, Any], policy_id_prefix: str) -> list[dict[str, Any]]:
    (policy,) = [r for logical_id, r in template["Resources"].items()
                 if r["Type"] == "AWS::IAM::Policy" and logical_id.startswith(policy_id_prefix)]
    return policy["Properties"]["PolicyDocument"]["Statement"]


# --- the SageMaker execution role -----------------------------------------------------------

@pytest.fixture(scope="module")
def execution_role(tmp_path_factory) -> dict[str, Any]:
    stack = bare_stack(tmp_path_factory.mktemp("role"))
    SageMakerExecutionRole(stack, "Execution", bucket=s3.Bucket(stack, "Data"), key=kms.Key(stack, "Key"))
    return template_of(stack)


def test_execution_role_template(execution_role, snapshot_json):
    assert execution_role == snapshot_json


def test_execution_role_policy_is_least_privilege_statement_by_statement(execution_role):
    bucket, key = "Data666C94C7", "Key961B73FD"
    bucket_arn = {"Fn::GetAtt": [bucket, "Arn"]}
    prefixes = ["datasets/", "models/", "batch-transform/", "data-capture/"]
    region, account = {"Ref": "AWS::Region"}, {"Ref": "AWS::AccountId"}
    partition = {"Ref": "AWS::Partition"}
    log_groups = {"Fn::Join": ["", ["arn:", partition, ":logs:", region, ":", account,
                                    ":log-group:/aws/sagemaker/*"]]}
    assert statements(execution_role, "ExecutionRoleDefaultPolicy") == [
        {"Sid": "ListProjectPrefixes", "Effect": "Allow", "Action": "s3:ListBucket",
         "Resource": bucket_arn,
         "Condition": {"StringLike": {"s3:prefix": [f"{p}*" for p in prefixes]}}},
        {"Sid": "ReadWriteProjectObjects", "Effect": "Allow",
         "Action": ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"],
         "Resource": [{"Fn::Join": ["", [bucket_arn, f"/{p}*"]]} for p in sorted(prefixes)]},
        {"Sid": "UseProjectKey", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
         "Resource": {"Fn::GetAtt": [key, "Arn"]}},
        {"Sid": "PullBuiltInXgboostImage", "Effect": "Allow",
         "Action": ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
         "Resource": {"Fn::Join": ["", [
             "arn:", partition, ":ecr:", region, ":",
             {"Fn::FindInMap": ["ExecutionXgboostRegistryD63EC542", region, "account"]},
             ":repository/sagemaker-xgboost"]]}},
        {"Sid": "EcrLogin", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        {"Sid": "WriteSageMakerLogs", "Effect": "Allow",
         "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams",
                    "logs:PutLogEvents"],
         "Resource": [log_groups, {"Fn::Join": ["", ["arn:", partition, ":logs:", region, ":", account,
                                                     ":log-group:/aws/sagemaker/*:log-stream:*"]]}]},
        {"Sid": "PutSageMakerMetrics", "Effect": "Allow", "Action": "cloudwatch:PutMetricData",
         "Resource": "*",
         "Condition": {"StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/*", "aws/sagemaker/*"]}}},
    ]
    (role,) = [r for r in execution_role["Resources"].values() if r["Type"] == "AWS::IAM::Role"]
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [{
        "Action": "sts:AssumeRole", "Effect": "Allow",
        "Principal": {"Service": "sagemaker.amazonaws.com"}}]
    assert "ManagedPolicyArns" not in role["Properties"]  # no *FullAccess


# --- the inference endpoint -----------------------------------------------------------------

def endpoint_models(case: str, tmp_path: Path) -> list[VariantModel]:
    if case == "serverless":
        path = tmp_path / "serverless.toml"
        path.write_text(SERVERLESS)
        return list(load_config(path, base_dir=ROOT).models)
    return list(load_config(TEST_CONFIG, base_dir=ROOT).models)


def endpoint_stack(case: str, tmp_path: Path) -> tuple[Stack, InferenceEndpoint]:
    stack = bare_stack(tmp_path / "cdk.out")
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    models = endpoint_models(case, tmp_path)
    if case == "guarded":
        key, bucket = kms.Key(stack, "Key"), s3.Bucket(stack, "Bucket")
        endpoint = InferenceEndpoint(
            stack, "Endpoint", endpoint_name="ep", models=models, execution_role=role,
            rollout=RolloutSettings(strategy="canary", guardrails=True), volume_key=key,
            data_capture=DataCaptureSettings(sampling_percentage=5), capture_bucket=bucket,
            capture_key=key)
    else:
        endpoint = InferenceEndpoint(stack, "Endpoint", endpoint_name="ep", models=models,
                                     execution_role=role, rollout=RolloutSettings())
    return stack, endpoint


@pytest.mark.parametrize("case", ["defaults", "guarded", "serverless"])
def test_endpoint_template(case, tmp_path, snapshot_json):
    stack, _ = endpoint_stack(case, tmp_path)
    assert template_of(stack) == snapshot_json


def test_endpoint_grants_read_of_exactly_each_model_artifact(tmp_path):
    stack, _ = endpoint_stack("defaults", tmp_path)
    template = template_of(stack)
    published = load_config(TEST_CONFIG, base_dir=ROOT).models[0].manifest.model_data
    assert published is not None and published.startswith("s3://")
    bucket_and_key = published.removeprefix("s3://")
    champion, challenger = statements(template, "EndpointModelArtifactRead")
    assert champion == {"Sid": "ReadModelchampion", "Effect": "Allow", "Action": "s3:GetObject",
                        "Resource": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"},
                                                       f":s3:::{bucket_and_key}"]]}}
    assert challenger["Sid"] == "ReadModelchallenger" and challenger["Action"] == "s3:GetObject"
    # The local artifact: its asset object, in the bootstrap bucket, not a bucket-wide grant.
    assert challenger["Resource"] == {"Fn::Join": ["", [
        "arn:", {"Ref": "AWS::Partition"}, ":s3:::",
        {"Fn::Sub": "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}"}, "/<asset-hash>.gz"]]}


def test_guardrails_read_exactly_the_rollback_alarms(tmp_path):
    stack, endpoint = endpoint_stack("guarded", tmp_path)
    (statement,) = statements(template_of(stack), "EndpointRollbackAlarmRead")
    alarm_ids = [stack.get_logical_id(a.node.default_child) for a in endpoint.alarms]  # type: ignore[arg-type]
    assert statement["Action"] == "cloudwatch:DescribeAlarms"
    assert sorted(r["Fn::Join"][1][-1]["Ref"] for r in statement["Resource"]) == sorted(alarm_ids)
    assert len(alarm_ids) == 4  # 5XX errors and model latency of each variant


# --- the prediction API ---------------------------------------------------------------------

INLINE = lambda_.Code.from_inline("def handler(event, context):\n    return {}\n")
RAW_SPEC = InputSpec((Field("island", "categorical", categories=("Biscoe", "Dream")),
                      Field("bill_mm", "numeric")))


@pytest.mark.parametrize("case", ["iam", "api_key", "none", "raw_spec"])
def test_prediction_api_template(case, tmp_path, snapshot_json):
    stack = bare_stack(tmp_path / "cdk.out")
    settings = ApiSettings(auth=case if case in ("iam", "api_key", "none") else "iam",
                           throttle_rate_limit=7, throttle_burst_limit=9, log_retention_days=30)
    spec = RAW_SPEC if case == "raw_spec" else numeric_spec(["a", "b"])
    api = PredictionApi(stack, "Api", endpoint_name="ep", variants=[("champion", 1.0, spec)],
                        settings=settings, rest_api_name="x-predictions",
                        code=None if case == "raw_spec" else INLINE)
    api.allow_invoke("arn:aws:sagemaker:us-east-1:111111111111:endpoint/ep")
    assert template_of(stack) == snapshot_json


def test_the_lambda_may_invoke_and_describe_the_endpoint_by_its_arn_and_write_its_logs(tmp_path):
    stack = bare_stack(tmp_path / "cdk.out")
    api = PredictionApi(stack, "Api", endpoint_name="ep", variants=[("champion", 1.0, numeric_spec(["a"]))],
                        settings=ApiSettings(), rest_api_name="x-predictions", code=INLINE)
    api.allow_invoke("arn:aws:sagemaker:us-east-1:111111111111:endpoint/ep")
    log_group = stack.get_logical_id(api.log_group.node.default_child)  # type: ignore[arg-type]
    assert statements(template_of(stack), "ApiPreprocessRoleDefaultPolicy") == [
        {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": {"Fn::GetAtt": [log_group, "Arn"]}},
        {"Effect": "Allow", "Action": ["sagemaker:DescribeEndpoint", "sagemaker:InvokeEndpoint"],
         "Resource": "arn:aws:sagemaker:us-east-1:111111111111:endpoint/ep"},
    ]


@pytest.mark.parametrize(("kms_wanted", "with_key", "encrypted"), [
    (True, True, True), (False, True, False), (True, False, False)])
def test_data_capture_is_encrypted_only_when_asked_and_a_key_is_given(kms_wanted, with_key, encrypted,
                                                                     tmp_path):
    stack = bare_stack(tmp_path / "cdk.out")
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    key = kms.Key(stack, "Key") if with_key else None
    InferenceEndpoint(
        stack, "Endpoint", endpoint_name="ep", models=endpoint_models("defaults", tmp_path)[:1],
        execution_role=role, rollout=RolloutSettings(), capture_bucket=s3.Bucket(stack, "Bucket"),
        capture_key=key, data_capture=DataCaptureSettings(prefix="capture/run-X/", kms=kms_wanted))
    (config,) = [r for r in template_of(stack)["Resources"].values()
                 if r["Type"] == "AWS::SageMaker::EndpointConfig"]
    capture = config["Properties"]["DataCaptureConfig"]
    assert ("KmsKeyId" in capture) is encrypted
    # The prefix without its trailing slash: SageMaker adds the path below it.
    assert capture["DestinationS3Uri"]["Fn::Join"][1][-1] == "/capture/run-X"


def test_hyphenated_variants_get_their_models_and_statement_ids(tmp_path):
    path = tmp_path / "hyphen.toml"
    path.write_text(SERVERLESS.replace('name = "champion"', 'name = "champion-2"'))
    models = list(load_config(path, base_dir=ROOT).models)
    stack = bare_stack(tmp_path / "cdk.out")
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    endpoint = InferenceEndpoint(stack, "Endpoint", endpoint_name="ep", models=models,
                                 execution_role=role, rollout=RolloutSettings())
    (statement,) = statements(template_of(stack), "EndpointModelArtifactRead")
    assert statement["Sid"] == "ReadModelchampion2"  # IAM statement ids are alphanumeric
    assert list(endpoint.models) == ["champion-2"]
    assert stack.resolve(endpoint.models["champion-2"].attr_model_name) == {
        "Fn::GetAtt": [stack.get_logical_id(endpoint.models["champion-2"]), "ModelName"]}
    assert endpoint.alarm_access is None  # no guardrails, no alarm grant



def test_a_raw_spec_rides_in_the_asset_as_utf8_whatever_the_locale(tmp_path, ascii_locale, monkeypatch):
    cleanups: list[tuple[Any, ...]] = []
    monkeypatch.setattr(atexit, "register", lambda fn, *args, **kwargs: cleanups.append((fn, args, kwargs)))
    spec = InputSpec((Field("review", "text", vocabulary=("good", "café")),))
    stack = bare_stack(tmp_path / "cdk.out")
    PredictionApi(stack, "Api", endpoint_name="ep", variants=[("champion", 1.0, spec)],
                  settings=ApiSettings(), rest_api_name="x-predictions")
    app = stack.node.root
    assert isinstance(app, App)
    app.synth()
    (asset,) = [p for p in (tmp_path / "cdk.out").glob("asset.*") if (p / "handler.py").is_file()]
    assert (asset / "input_spec.json").read_bytes() == spec.to_json().encode("utf-8")
    assert (asset / "contract" / "encoding.py").is_file()  # the link to the contract, followed
    assert not list(asset.rglob("__pycache__"))
    # The staging copy is removed when the process ends, quietly even if it is gone already.
    ((fn, args, kwargs),) = cleanups
    (staging,) = args
    assert Path(staging).is_dir()
    fn(*args, **kwargs)
    fn(*args, **kwargs)
    assert not Path(staging).exists()
