"""The stacks compose the components without moving what CloudFormation has deployed: the
stateful and fixed-name resources keep their logical IDs (a new ID replaces the resource),
and every stack publishes the outputs the contract names."""

import pytest

from contract.names import ApiOutput, DataOutput, InferenceOutput

# Logical IDs from before the components were constructs of their own (each stack's main
# component has the id "Default", which CDK leaves out of logical IDs).
KEPT = {
    "data": {"DataKey17AFBB84": "AWS::KMS::Key", "DataBucketE3889A50": "AWS::S3::Bucket",
             "AccessLogs8B620ECA": "AWS::S3::Bucket",
             "SageMakerExecutionRole38ADDEB7": "AWS::IAM::Role"},
    "inference": {"Endpoint": "AWS::SageMaker::Endpoint",
                  "EndpointConfig": "AWS::SageMaker::EndpointConfig",
                  "championmodel": "AWS::SageMaker::Model",
                  "championscalingtarget": "AWS::ApplicationAutoScaling::ScalableTarget"},
    "api": {"PreprocessFA9DA1F2": "AWS::Lambda::Function",
            "PreprocessRoleD4272ACB": "AWS::IAM::Role",
            "PreprocessLogsD5D4DB06": "AWS::Logs::LogGroup",
            "ApiAccessLogsE9DF007D": "AWS::Logs::LogGroup",
            "PredictionApiBA67B5A9": "AWS::ApiGateway::RestApi",
            # The dashboard is a second component of the API stack: its ID is overridden.
            "Dashboard9E4231ED": "AWS::CloudWatch::Dashboard"},
}


@pytest.mark.parametrize("component", sorted(KEPT))
def test_deployed_resources_keep_their_logical_ids(synthesized, component):
    resources = synthesized.template(component)["Resources"]
    assert {i: resources[i]["Type"] for i in KEPT[component] if i in resources} == KEPT[component]


@pytest.mark.parametrize(("component", "outputs"), [
    ("data", DataOutput), ("inference", InferenceOutput), ("api", ApiOutput)])
def test_each_stack_publishes_the_contracts_outputs(synthesized, component, outputs):
    assert set(outputs.ALL) <= set(synthesized.template(component)["Outputs"])
