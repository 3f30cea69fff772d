"""The Inference stack takes models from manifests and variants from the config."""

import json

import pytest
from aws_cdk.assertions import Match, Template

from contract.config import RolloutSettings, StepSize, load_config
from stacks.inference.rollout import deployment_config
from tests.conftest import ROOT, SERVERLESS, TEST_CONFIG, synthesize, write_config


def inference(synthesized) -> dict:
    return synthesized.template("inference")


def test_one_model_per_variant_from_its_manifest(synthesized):
    config = load_config(TEST_CONFIG, base_dir=ROOT)
    models = Template.from_json(inference(synthesized)).find_resources("AWS::SageMaker::Model")
    assert len(models) == len(config.models) == 2
    by_variant = {next(t["Value"] for t in m["Properties"]["Tags"] if t["Key"] == "variant"): m
                  for m in models.values()}
    for model in config.models:
        props = by_variant[model.variant.name]["Properties"]
        assert props["EnableNetworkIsolation"] is True
        assert props["PrimaryContainer"]["Image"] == model.manifest.image_uri
        assert "ModelName" not in props  # left to CloudFormation: replaceable
    assert by_variant["champion"]["Properties"]["PrimaryContainer"]["ModelDataUrl"] == (
        config.models[0].manifest.model_data)
    # The locally trained challenger ships as an asset (hash masked by the snapshot, not here).
    local_url = by_variant["challenger"]["Properties"]["PrimaryContainer"]["ModelDataUrl"]
    assert local_url["Fn::Sub"].startswith("s3://cdk-") and local_url["Fn::Sub"].endswith(".gz")


def test_endpoint_config_has_weighted_variants_and_kms_volume_key(synthesized):
    template = Template.from_json(inference(synthesized))
    template.resource_count_is("AWS::SageMaker::EndpointConfig", 1)
    (config,) = template.find_resources("AWS::SageMaker::EndpointConfig").values()
    props = config["Properties"]
    assert "EndpointConfigName" not in props
    assert props["KmsKeyId"]["Fn::GetStackOutput"]["StackName"] == "xgb-test-data"
    variants = [{k: v for k, v in variant.items() if k != "ModelName"}
                for variant in props["ProductionVariants"]]
    assert variants == [
        {"VariantName": "champion", "InitialVariantWeight": 0.7, "InstanceType": "ml.m5.large",
         "InitialInstanceCount": 2},
        {"VariantName": "challenger", "InitialVariantWeight": 0.3,
         "InstanceType": "ml.c5.xlarge", "InitialInstanceCount": 1},
    ]


def test_endpoint_has_a_fixed_name_and_follows_the_config(synthesized):
    template = Template.from_json(inference(synthesized))
    template.has_resource("AWS::SageMaker::Endpoint", {
        "Properties": {
            "EndpointName": "xgb-test-endpoint",
            "EndpointConfigName": {"Fn::GetAtt": [Match.any_value(), "EndpointConfigName"]},
        },
        "DependsOn": Match.array_with([Match.string_like_regexp("ModelArtifactRead")]),
    })


def test_execution_role_may_read_exactly_the_model_artifacts(synthesized):
    template = Template.from_json(inference(synthesized))
    policy = template.find_resources("AWS::IAM::Policy")["ModelArtifactRead1C33178A"]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert [s["Action"] for s in statements] == ["s3:GetObject", "s3:GetObject"]
    rendered = json.dumps([s["Resource"] for s in statements])
    assert "models/champion/xgb-demo-20261101T120000Z-champ/output/model.tar.gz" in rendered
    assert "*" not in rendered
    assert policy["Properties"]["Roles"][0]["Fn::GetStackOutput"]["StackName"] == "xgb-test-data"


def test_the_execution_role_may_describe_exactly_the_rollback_alarms_before_the_update(synthesized):
    """Auto-rollback reads the alarms with the execution role (deployment guardrails guide)."""
    resources = inference(synthesized)["Resources"]
    policy = resources["RollbackAlarmRead2F21585C"]["Properties"]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Action"] == "cloudwatch:DescribeAlarms"
    alarms = sorted(i for i, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm")
    assert len(alarms) == 4
    arns = [json.dumps(arn) for arn in statement["Resource"]]
    assert all(":cloudwatch:" in arn and ":alarm:" in arn for arn in arns)
    assert sorted(next(i for i in alarms if f'"Ref": "{i}"' in arn) for arn in arns) == alarms
    assert policy["Roles"][0]["Fn::GetStackOutput"]["StackName"] == "xgb-test-data"
    (endpoint,) = [r for r in resources.values() if r["Type"] == "AWS::SageMaker::Endpoint"]
    assert "RollbackAlarmRead2F21585C" in endpoint["DependsOn"]


def test_strategy_none_deploys_without_a_deployment_policy_or_alarm_grant():
    """The plain update a variant-set change needs: no DeploymentConfig, no DescribeAlarms grant."""
    from tests.tools.test_update_checks import BASE, changed, inference_template

    raw = changed(BASE, lambda c: c["endpoint"]["rollout"].update(
        strategy="none", guardrails=False, canary_size=None))
    raw["endpoint"]["rollout"] = {k: v for k, v in raw["endpoint"]["rollout"].items() if v is not None}
    resources = inference_template(raw)["Resources"]
    (endpoint,) = [r for r in resources.values() if r["Type"] == "AWS::SageMaker::Endpoint"]
    assert "DeploymentConfig" not in endpoint["Properties"]
    assert "RollbackAlarmRead2F21585C" not in resources


# --- guarded rollouts, autoscaling, data capture, serverless -------------------------------

def test_endpoint_updates_blue_green_canary_with_auto_rollback_on_the_variant_alarms(synthesized):
    template = Template.from_json(inference(synthesized))
    (endpoint,) = template.find_resources("AWS::SageMaker::Endpoint").values()
    deployment = endpoint["Properties"]["DeploymentConfig"]
    assert deployment["BlueGreenUpdatePolicy"] == {
        "TrafficRoutingConfiguration": {"Type": "CANARY", "WaitIntervalInSeconds": 600,
                                        "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 25}},
        "MaximumExecutionTimeoutInSeconds": 3600, "TerminationWaitInSeconds": 120}
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    rollback = deployment["AutoRollbackConfiguration"]["Alarms"]
    assert {alarm["AlarmName"]["Ref"] for alarm in rollback} == set(alarms)
    by_metric = {}
    for alarm in alarms.values():
        props = alarm["Properties"]
        dims = {d["Name"]: d["Value"] for d in props["Dimensions"]}
        assert props["Namespace"] == "AWS/SageMaker" and props["Period"] == 60
        assert dims["EndpointName"] == "xgb-test-endpoint"
        by_metric[(dims["VariantName"], props["MetricName"])] = (
            props["Statistic"], props["Threshold"], props["ComparisonOperator"])
    assert by_metric == {
        ("champion", "Invocation5XXErrors"): ("Sum", 2, "GreaterThanOrEqualToThreshold"),
        ("challenger", "Invocation5XXErrors"): ("Sum", 2, "GreaterThanOrEqualToThreshold"),
        ("champion", "ModelLatency"): ("Average", 500000, "GreaterThanThreshold"),  # microseconds
        ("challenger", "ModelLatency"): ("Average", 500000, "GreaterThanThreshold"),
    }


def test_autoscaled_counts_are_retained_but_config_weights_apply(synthesized):
    template = Template.from_json(inference(synthesized))
    template.has_resource_properties("AWS::SageMaker::Endpoint", {
        "RetainAllVariantProperties": True,
        "ExcludeRetainedVariantProperties": [{"VariantPropertyType": "DesiredWeight"}]})


def test_only_the_autoscaled_variant_gets_a_target_tracking_policy(synthesized):
    template = Template.from_json(inference(synthesized))
    (target_id, target), = template.find_resources("AWS::ApplicationAutoScaling::ScalableTarget").items()
    props = target["Properties"]
    assert (props["ServiceNamespace"], props["ScalableDimension"], props["MinCapacity"],
            props["MaxCapacity"]) == ("sagemaker", "sagemaker:variant:DesiredInstanceCount", 1, 4)
    assert "RoleARN" not in props  # Application Auto Scaling's service-linked role
    resource_id = json.dumps(props["ResourceId"])
    assert "endpoint/" in resource_id and "/variant/champion" in resource_id
    assert "EndpointName" in resource_id  # GetAtt: created after the endpoint
    template.has_resource_properties("AWS::ApplicationAutoScaling::ScalingPolicy", {
        "PolicyType": "TargetTrackingScaling",
        "ScalingTargetId": {"Ref": target_id},
        "TargetTrackingScalingPolicyConfiguration": {
            "TargetValue": 750,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
            "ScaleInCooldown": 300, "ScaleOutCooldown": 60}})
    template.resource_count_is("AWS::ApplicationAutoScaling::ScalingPolicy", 1)


def test_data_capture_goes_to_the_data_bucket_prefix_encrypted(synthesized):
    template = Template.from_json(inference(synthesized))
    (config,) = template.find_resources("AWS::SageMaker::EndpointConfig").values()
    capture = config["Properties"]["DataCaptureConfig"]
    assert capture["EnableCapture"] is True and capture["InitialSamplingPercentage"] == 20
    assert [o["CaptureMode"] for o in capture["CaptureOptions"]] == ["Input", "Output"]
    destination = capture["DestinationS3Uri"]["Fn::Join"][1]
    assert destination[0] == "s3://" and destination[-1] == "/data-capture/xgb-test"
    assert destination[1]["Fn::GetStackOutput"]["StackName"] == "xgb-test-data"
    assert capture["KmsKeyId"]["Fn::GetStackOutput"]["StackName"] == "xgb-test-data"


def test_the_execution_role_may_write_data_capture_objects(synthesized):
    from contract import bucket_layout

    assert bucket_layout.DATA_CAPTURE in bucket_layout.ROLE_PREFIXES
    rendered = json.dumps(synthesized.template("data"))
    assert '"/data-capture/*"' in rendered




@pytest.fixture(scope="module")
def serverless(tmp_path_factory) -> dict:
    directory = tmp_path_factory.mktemp("serverless")
    return synthesize(write_config(directory, SERVERLESS), directory / "cdk.out").template("inference")


def test_a_serverless_variant_has_memory_and_concurrency_and_no_instances(serverless):
    template = Template.from_json(serverless)
    (config,) = template.find_resources("AWS::SageMaker::EndpointConfig").values()
    (variant,) = config["Properties"]["ProductionVariants"]
    assert variant["ServerlessConfig"] == {"MemorySizeInMB": 3072, "MaxConcurrency": 10}
    assert "InstanceType" not in variant and "InitialInstanceCount" not in variant
    assert "KmsKeyId" not in config["Properties"] and "DataCaptureConfig" not in config["Properties"]
    template.has_resource_properties("AWS::SageMaker::Model", {"EnableNetworkIsolation": False})
    template.resource_count_is("AWS::ApplicationAutoScaling::ScalableTarget", 0)
    (endpoint,) = template.find_resources("AWS::SageMaker::Endpoint").values()
    props = endpoint["Properties"]
    assert props["DeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"] == {
        "Type": "ALL_AT_ONCE"}
    assert "AutoRollbackConfiguration" not in props["DeploymentConfig"]  # guardrails off
    assert props["RetainAllVariantProperties"] is False  # nothing autoscales: the config is the truth


def test_the_serverless_template_passes_cfn_lint(serverless):
    from cfnlint.api import lint

    errors = [m for m in lint(json.dumps(serverless), regions=["us-east-1"]) if m.rule.id.startswith("E")]
    assert errors == []


@pytest.mark.parametrize(("rollout", "routing"), [
    (RolloutSettings(strategy="linear", linear_step_size=StepSize("instances", 1), wait_seconds=60),
     ("LINEAR", 60, None, ("INSTANCE_COUNT", 1))),
    (RolloutSettings(strategy="all_at_once", wait_seconds=60), ("ALL_AT_ONCE", None, None, None)),
])
def test_traffic_routing_for_the_other_strategies(rollout, routing):
    """The mapping without a synth: only the chosen strategy's size and wait are set."""
    policy = deployment_config(rollout, []).blue_green_update_policy
    config = policy.traffic_routing_configuration

    def size(value):
        return None if value is None else (value.type, value.value)

    assert (config.type, config.wait_interval_in_seconds, size(config.canary_size),
            size(config.linear_step_size)) == routing
