"""`xgbapi status|traffic|ab-report` against moto in-process (SageMaker, CloudFormation, CloudWatch), and
botocore Stubber for what moto cannot produce (an endpoint left on an older config by a
rolled-back update: moto has no UpdateEndpoint)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from cli.main import EXIT_USAGE, main
from operations import endpoint as ops
from tests.conftest import ROOT

REGION = "us-east-1"
ENDPOINT = "xgb-ops-endpoint"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5"
CONFIG = f"""
[project]
prefix = "xgb-ops"

[[variants]]
name = "champion"
manifest = "{ROOT}/tests/fixtures/manifests/champion/manifest.json"
weight = 0.9
instance_count = 2

[[variants]]
name = "challenger"
manifest = "{ROOT}/tests/fixtures/manifests/challenger/manifest.json"
weight = 0.1
"""
# What the Inference stack holds, reduced to the resources `status` reads. moto ignores the
# Endpoint's EndpointName in a template, so the endpoint is created with boto3 on the stack's config.
STACK = {
    "Resources": {
        "championmodel": {"Type": "AWS::SageMaker::Model", "Properties": {
            "ExecutionRoleArn": "arn:aws:iam::123456789012:role/sagemaker",
            "PrimaryContainer": {"Image": IMAGE, "ModelDataUrl": "s3://bucket/champion.tar.gz"}}},
        "challengermodel": {"Type": "AWS::SageMaker::Model", "Properties": {
            "ExecutionRoleArn": "arn:aws:iam::123456789012:role/sagemaker",
            "PrimaryContainer": {"Image": IMAGE, "ModelDataUrl": "s3://bucket/challenger.tar.gz"}}},
        "EndpointConfig": {"Type": "AWS::SageMaker::EndpointConfig", "Properties": {
            "ProductionVariants": [
                {"VariantName": "champion", "ModelName": {"Fn::GetAtt": ["championmodel", "ModelName"]},
                 "InitialVariantWeight": 0.9, "InstanceType": "ml.m5.large", "InitialInstanceCount": 2},
                {"VariantName": "challenger",
                 "ModelName": {"Fn::GetAtt": ["challengermodel", "ModelName"]},
                 "InitialVariantWeight": 0.1, "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}]}},
    }
}


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    return path


@pytest.fixture
def credentials(monkeypatch):
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)


@pytest.fixture
def stack(credentials):
    """The Inference stack in moto's CloudFormation, and the endpoint on the stack's config."""
    with mock_aws():
        cloudformation = boto3.client("cloudformation", region_name=REGION)
        cloudformation.create_stack(StackName="xgb-ops-inference", TemplateBody=json.dumps(STACK))
        resources = cloudformation.list_stack_resources(StackName="xgb-ops-inference")
        (resource,) = [r for r in resources["StackResourceSummaries"]
                       if r["LogicalResourceId"] == "EndpointConfig"]
        boto3.client("sagemaker", region_name=REGION).create_endpoint(
            EndpointName=ENDPOINT, EndpointConfigName=resource["PhysicalResourceId"].rsplit("/", 1)[-1])
        yield


@pytest.fixture
def aws(credentials):
    """Just the endpoint (created with boto3: faster than a stack), for traffic and ab-report."""
    with mock_aws():
        sagemaker = boto3.client("sagemaker", region_name=REGION)
        variants = []
        for name, weight, count in (("champion", 0.9, 2), ("challenger", 0.1, 1)):
            sagemaker.create_model(
                ModelName=f"{name}-model", ExecutionRoleArn="arn:aws:iam::123456789012:role/x",
                PrimaryContainer={"Image": IMAGE, "ModelDataUrl": f"s3://bucket/{name}.tar.gz"})
            variants.append({"VariantName": name, "ModelName": f"{name}-model",
                             "InitialVariantWeight": weight, "InstanceType": "ml.m5.large",
                             "InitialInstanceCount": count})
        sagemaker.create_endpoint_config(EndpointConfigName="config-1", ProductionVariants=variants)
        sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName="config-1")
        yield


def run(capsys, *args: str, clients=None) -> tuple[int, str, str]:
    if clients is None:
        code = main(list(args))
    else:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(ops, "_boto3_client", clients)
            code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("command", ["status", "traffic", "ab-report"])
def test_every_command_has_help(capsys, command):
    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert "--config" in out and "--region" in out


def test_status_reports_the_variants_and_that_the_endpoint_runs_the_stacks_config(stack, capsys,
                                                                                 config_path):
    code, out, _ = run(capsys, "status", "--config", str(config_path))
    assert code == 0, out
    assert f"endpoint {ENDPOINT} ({REGION}): InService" in out
    assert "config in sync: yes" in out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith("champ")
            or line.startswith("challenger")}
    # variant, weight, share, desired, config, config share, instances now/desired
    assert rows["champion"][:7] == ["champion", "0.900", "90.0%", "0.900", "0.900", "90.0%", "2/2"]
    assert rows["challenger"][:7] == ["challenger", "0.100", "10.0%", "0.100", "0.100", "10.0%", "1/1"]


def test_status_detects_a_silent_rollback(capsys, config_path):
    """The endpoint still runs the old config although the stack now holds a new one."""
    sagemaker = boto3.client("sagemaker", region_name=REGION, aws_access_key_id="x",
                             aws_secret_access_key="x")
    cloudformation = boto3.client("cloudformation", region_name=REGION, aws_access_key_id="x",
                                  aws_secret_access_key="x")
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    with Stubber(sagemaker) as sm, Stubber(cloudformation) as cfn:
        sm.add_response("describe_endpoint", {
            "EndpointName": ENDPOINT, "EndpointArn": f"arn:aws:sagemaker:{REGION}:1:endpoint/{ENDPOINT}",
            "EndpointConfigName": "EndpointConfig-OLD", "EndpointStatus": "InService",
            "FailureReason": "Rolled back: alarm xgb-ops-challenger-5xx is in ALARM",
            "CreationTime": now, "LastModifiedTime": now,
            "ProductionVariants": [
                {"VariantName": "champion", "CurrentWeight": 0.9, "DesiredWeight": 0.9,
                 "CurrentInstanceCount": 2, "DesiredInstanceCount": 2},
                {"VariantName": "challenger", "CurrentWeight": 0.1, "DesiredWeight": 0.1,
                 "CurrentInstanceCount": 1, "DesiredInstanceCount": 1}]},
            {"EndpointName": ENDPOINT})
        cfn.add_response("list_stack_resources", {"StackResourceSummaries": [
            {"LogicalResourceId": "EndpointConfig", "ResourceType": "AWS::SageMaker::EndpointConfig",
             "PhysicalResourceId": f"arn:aws:sagemaker:{REGION}:1:endpoint-config/EndpointConfig-NEW",
             "ResourceStatus": "UPDATE_COMPLETE", "LastUpdatedTimestamp": now}]},
            {"StackName": "xgb-ops-inference"})
        code, out, _ = run(capsys, "status", "--config", str(config_path),
                           clients=lambda service, region: {"sagemaker": sagemaker,
                                                            "cloudformation": cloudformation}[service])
    assert code == ops.EXIT_OUT_OF_SYNC
    assert "config in sync: NO" in out
    assert "failure reason: Rolled back: alarm xgb-ops-challenger-5xx is in ALARM" in out
    assert ("WARNING: the endpoint runs EndpointConfig-OLD, not the stack's EndpointConfig-NEW. "
            "The last update most likely rolled back") in out


def test_status_without_the_stack_says_what_to_do(capsys, config_path, aws):
    code, _, err = run(capsys, "status", "--config", str(config_path))
    assert code == EXIT_USAGE
    assert err.startswith("error: stack xgb-ops-inference does not exist; deploy the Inference stack")


def test_traffic_shifts_weights_and_prints_the_permanent_config_change(aws, capsys, config_path):
    code, out, _ = run(capsys, "traffic", "--config", str(config_path))
    assert code == 0 and "weights match the config." in out
    code, out, _ = run(capsys, "traffic", "--config", str(config_path),
                       "--set", "champion=0", "--set", "challenger=1")
    assert code == 0, out
    assert f"requested on {ENDPOINT}: challenger weight=1, champion weight=0" in out
    assert "WARNING: the endpoint's weights drift from the config:" in out
    assert f"To make these weights permanent, change {config_path}:" in out
    assert '[[variants]] name = "champion":  weight = 0.9  ->  weight = 0' in out
    assert '[[variants]] name = "challenger":  weight = 0.1  ->  weight = 1' in out
    variants = boto3.client("sagemaker", region_name=REGION).describe_endpoint(
        EndpointName=ENDPOINT)["ProductionVariants"]
    assert {v["VariantName"]: v["DesiredWeight"] for v in variants} == {"champion": 0, "challenger": 1}


BAD_SHIFTS = [
    (["--set", "canary=1"], "error: the endpoint has no variant canary; use one of challenger, champion"),
    (["--set", "champion=-1"], "error: --set 'champion=-1' is not NAME=VALUE with a number >= 0"),
    (["--set", "champion=0", "--set", "challenger=0"], "error: these weights would send no traffic"),
    (["--instances", "champion=0"], "error: --instances must be at least 1"),
]


def test_traffic_refuses_bad_shifts(aws, capsys, config_path):
    for args, message in BAD_SHIFTS:  # one emulated account for all (the setup is the slow part)
        code, _, err = run(capsys, "traffic", "--config", str(config_path), *args)
        assert code == EXIT_USAGE and err.startswith(message), err
    variants = boto3.client("sagemaker", region_name=REGION).describe_endpoint(
        EndpointName=ENDPOINT)["ProductionVariants"]
    assert [v["DesiredWeight"] for v in variants] == [0.9, 0.1]  # nothing was changed


def _put(cloudwatch, variant: str, metric: str, values: list[float], when: datetime) -> None:
    cloudwatch.put_metric_data(Namespace="AWS/SageMaker", MetricData=[{
        "MetricName": metric, "Value": value, "Timestamp": when - timedelta(minutes=10 + 5 * i),
        "Dimensions": [{"Name": "EndpointName", "Value": ENDPOINT},
                       {"Name": "VariantName", "Value": variant}]} for i, value in enumerate(values)])


def test_ab_report_table_significance_and_chart(aws, capsys, config_path, tmp_path):
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    now = datetime.now(UTC)
    _put(cloudwatch, "champion", "Invocations", [600, 400], now)
    _put(cloudwatch, "champion", "Invocation5XXErrors", [6, 4], now)
    _put(cloudwatch, "champion", "ModelLatency", [2000, 4000], now)  # microseconds
    _put(cloudwatch, "challenger", "Invocations", [1000], now)
    _put(cloudwatch, "challenger", "Invocation5XXErrors", [40], now)
    _put(cloudwatch, "challenger", "Invocation4XXErrors", [3], now)
    _put(cloudwatch, "challenger", "ModelLatency", [5000], now)
    _put(cloudwatch, "challenger", "ModelLatency", [9000], now - timedelta(days=3))  # outside the window
    chart = tmp_path / "report" / "ab.png"
    code, out, _ = run(capsys, "ab-report", "--config", str(config_path), "--hours", "6",
                       "--chart", str(chart))
    assert code == 0, out
    rows = {line.split()[0]: line for line in out.splitlines()
            if line.startswith(("champion ", "challenger "))}
    assert rows["champion"].split()[:8] == [
        "champion", "20261101T120000Z-champ", "1000", "10", "1.000%", "0", "3.0", "0.12"]
    assert rows["challenger"].split()[:8] == [
        "challenger", "20261102T090000Z-chall", "1000", "40", "4.000%", "3", "5.0", "-"]
    assert "(baseline)" in rows["champion"]
    expected = ops.two_proportion_z_test(10, 1000, 40, 1000)
    assert expected is not None
    assert f"z={expected.z:+.2f} p={expected.p_value:.4f} SIGNIFICANT" in rows["challenger"]
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_ab_report_without_traffic_is_not_a_test(aws, capsys, config_path):
    code, out, _ = run(capsys, "ab-report", "--config", str(config_path), "--no-chart")
    assert code == 0
    assert "n/a (no traffic or no errors)" in out


def test_two_proportion_z_test_matches_the_textbook_value():
    # 10/1000 vs 40/1000: pooled p = 0.025, se = sqrt(0.025 * 0.975 * 0.002) = 0.0069821
    result = ops.two_proportion_z_test(10, 1000, 40, 1000)
    assert result is not None
    assert math.isclose(result.z, 0.03 / math.sqrt(0.025 * 0.975 * 0.002), rel_tol=1e-12)
    assert math.isclose(result.p_value, 1.7337e-05, rel_tol=1e-3)
    assert ops.two_proportion_z_test(0, 0, 1, 10) is None
    assert ops.two_proportion_z_test(0, 100, 0, 100) is None  # no errors anywhere: undefined


def test_serverless_variants_show_memory_and_concurrency_instead_of_instances():
    (state,) = ops.describe_variants({"ProductionVariants": [{
        "VariantName": "champion", "CurrentWeight": 1.0, "DesiredWeight": 1.0,
        "CurrentServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 20}}]})
    assert state.serverless == "2048 MB / 20" and state.current_instances is None
