"""The Inference stack takes models from manifests and variants from the config."""

import json

from aws_cdk.assertions import Match, Template

from stacks.config import load_config
from tests.conftest import ROOT, TEST_CONFIG


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
    (policy,) = template.find_resources("AWS::IAM::Policy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert [s["Action"] for s in statements] == ["s3:GetObject", "s3:GetObject"]
    rendered = json.dumps([s["Resource"] for s in statements])
    assert "models/champion/xgb-demo-20261101T120000Z-champ/output/model.tar.gz" in rendered
    assert "*" not in rendered
    assert policy["Properties"]["Roles"][0]["Fn::GetStackOutput"]["StackName"] == "xgb-test-data"
