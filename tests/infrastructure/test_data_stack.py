"""Security and wiring properties of the Data stack."""

from aws_cdk.assertions import Match, Template

from contract import bucket_layout, images


def data(synthesized) -> Template:
    return Template.from_json(synthesized.template("data"))


def test_data_bucket_is_private_encrypted_versioned_and_retained(synthesized):
    template = data(synthesized)
    template.has_resource("AWS::S3::Bucket", {
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": Match.object_like({
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True, "BlockPublicPolicy": True,
                "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
            "VersioningConfiguration": {"Status": "Enabled"},
            "BucketEncryption": {"ServerSideEncryptionConfiguration": [{
                "BucketKeyEnabled": True,
                "ServerSideEncryptionByDefault": {
                    "SSEAlgorithm": "aws:kms",
                    "KMSMasterKeyID": Match.any_value()}}]},
            "LoggingConfiguration": Match.object_like({"LogFilePrefix": "data-bucket/"}),
            "LifecycleConfiguration": {"Rules": Match.array_with([Match.object_like({
                "NoncurrentVersionExpiration": {"NoncurrentDays": 90},
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
                "Status": "Enabled"})])},
        }),
    })


def test_every_bucket_is_retained_and_ssl_only(synthesized):
    template = data(synthesized)
    buckets = template.find_resources("AWS::S3::Bucket")
    assert len(buckets) == 2  # data + its access-log target
    assert all(b["DeletionPolicy"] == "Retain" for b in buckets.values())
    policies = template.find_resources("AWS::S3::BucketPolicy")
    secured = set()
    for policy in policies.values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Deny" and statement["Condition"] == {
                    "Bool": {"aws:SecureTransport": "false"}}:
                secured.add(policy["Properties"]["Bucket"]["Ref"])
    assert secured == set(buckets)


def test_kms_key_rotates_and_is_retained(synthesized):
    data(synthesized).has_resource("AWS::KMS::Key", {
        "DeletionPolicy": "Retain",
        "Properties": Match.object_like({"EnableKeyRotation": True}),
    })


def _role_statements(template: Template) -> list[dict]:
    (role_id,) = template.find_resources("AWS::IAM::Role", {"Properties": {
        "AssumeRolePolicyDocument": {"Statement": [Match.object_like({
            "Principal": {"Service": "sagemaker.amazonaws.com"}})]}}})
    policies = [p for p in template.find_resources("AWS::IAM::Policy").values()
                if {"Ref": role_id} in p["Properties"]["Roles"]]
    return [s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]]


def test_execution_role_has_no_managed_policies(synthesized):
    roles = data(synthesized).find_resources("AWS::IAM::Role")
    assert all("ManagedPolicyArns" not in r["Properties"] for r in roles.values())


def test_execution_role_reads_and_writes_only_the_project_prefixes(synthesized):
    statements = {s["Sid"]: s for s in _role_statements(data(synthesized))}
    objects = statements["ReadWriteProjectObjects"]
    assert sorted(objects["Action"]) == ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"]
    suffixes = [r["Fn::Join"][1][-1] for r in objects["Resource"]]
    assert sorted(suffixes) == sorted(f"/{prefix}*" for prefix in bucket_layout.ROLE_PREFIXES)
    listing = statements["ListProjectPrefixes"]
    assert sorted(listing["Condition"]["StringLike"]["s3:prefix"]) == sorted(
        f"{p}*" for p in bucket_layout.ROLE_PREFIXES)
    assert "Fn::GetAtt" in listing["Resource"]  # this bucket only, not "*"
    for statement in statements.values():
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert not any(a.endswith(":*") or a == "*" for a in actions)


def test_execution_role_pulls_only_the_aws_hosted_xgboost_repository(synthesized):
    template = data(synthesized)
    statements = {s["Sid"]: s for s in _role_statements(template)}
    pull = statements["PullBuiltInXgboostImage"]
    joined = pull["Resource"]["Fn::Join"][1]
    find_in_map = next(part for part in joined if isinstance(part, dict) and "Fn::FindInMap" in part)
    mapping_id, region, key = find_in_map["Fn::FindInMap"]
    assert region == {"Ref": "AWS::Region"} and key == "account"
    mapping = template.to_json()["Mappings"][mapping_id]
    assert mapping["us-east-1"]["account"] == "683313688378"
    assert {r: v["account"] for r, v in mapping.items()} == images.registry_accounts()
    assert joined[-1].endswith(f":repository/{images.repository_name()}")
    assert statements["EcrLogin"]["Action"] == "ecr:GetAuthorizationToken"


def test_outputs_let_the_training_cli_find_bucket_role_and_key(synthesized):
    outputs = synthesized.template("data")["Outputs"]
    assert {"DataBucketName", "SageMakerExecutionRoleArn", "DataKeyArn"} <= set(outputs)
    buckets = Template.from_json(synthesized.template("data")).find_resources(
        "AWS::S3::Bucket", {"Properties": {"LoggingConfiguration": Match.any_value()}})
    assert outputs["DataBucketName"]["Value"] == {"Ref": next(iter(buckets))}


def test_model_package_group_is_named_from_the_prefix_retained_and_an_output(synthesized):
    from contract import names

    template = data(synthesized)
    template.has_resource("AWS::SageMaker::ModelPackageGroup", {
        "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
        "Properties": Match.object_like(
            {"ModelPackageGroupName": names.model_package_group_name("xgb-test")}),
    })
    outputs = synthesized.template("data")["Outputs"]
    assert outputs[names.DataOutput.MODEL_PACKAGE_GROUP]["Value"] == "xgb-test-models"
    # Not required by readers of the older outputs: a Data stack deployed before it still works.
    assert names.DataOutput.MODEL_PACKAGE_GROUP not in names.DataOutput.ALL
