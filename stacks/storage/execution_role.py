"""The SageMaker execution role: what training, tuning, batch transform and hosting run as.

Least privilege instead of AmazonSageMakerFullAccess: objects under the project's prefixes of
one bucket, its KMS key, the AWS-hosted built-in XGBoost repository of the deploying region
(an AWS-owned account, looked up per region), and SageMaker's own log groups and metrics.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Aws, CfnMapping, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from contract import bucket_layout, images
from stacks.nag import acknowledge


class SageMakerExecutionRole(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, bucket: s3.IBucket, key: kms.IKey
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="SageMaker training, tuning, batch transform and hosting for this project",
        )

        prefixes = bucket_layout.ROLE_PREFIXES
        object_arns = [bucket.arn_for_objects(f"{prefix}*") for prefix in prefixes]
        self.role.add_to_policy(iam.PolicyStatement(
            sid="ListProjectPrefixes",
            actions=["s3:ListBucket"],
            resources=[bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{prefix}*" for prefix in prefixes]}},
        ))
        self.role.add_to_policy(iam.PolicyStatement(
            sid="ReadWriteProjectObjects",
            actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
            resources=object_arns,
        ))
        self.role.add_to_policy(iam.PolicyStatement(
            sid="UseProjectKey",
            actions=["kms:Decrypt", "kms:GenerateDataKey"],
            resources=[key.key_arn],
        ))

        registry = CfnMapping(self, "XgboostRegistry", mapping={
            region: {"account": account} for region, account in images.registry_accounts().items()
        })
        repository_arn = stack.format_arn(
            service="ecr",
            account=registry.find_in_map(Aws.REGION, "account"),
            resource="repository",
            resource_name=images.repository_name(),
        )
        self.role.add_to_policy(iam.PolicyStatement(
            sid="PullBuiltInXgboostImage",
            actions=["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage",
                     "ecr:GetDownloadUrlForLayer"],
            resources=[repository_arn],
        ))
        self.role.add_to_policy(iam.PolicyStatement(
            sid="EcrLogin", actions=["ecr:GetAuthorizationToken"], resources=["*"]
        ))

        log_groups = stack.format_arn(
            service="logs", resource="log-group", resource_name="/aws/sagemaker/*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.role.add_to_policy(iam.PolicyStatement(
            sid="WriteSageMakerLogs",
            actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents",
                     "logs:DescribeLogStreams"],
            resources=[log_groups, f"{log_groups}:log-stream:*"],
        ))
        self.role.add_to_policy(iam.PolicyStatement(
            sid="PutSageMakerMetrics",
            actions=["cloudwatch:PutMetricData"],
            resources=["*"],
            conditions={"StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/*", "aws/sagemaker/*"]}},
        ))

        policy = self.role.node.find_child("DefaultPolicy")
        for prefix in prefixes:
            acknowledge(policy, f"AwsSolutions-IAM5[Resource::<{_ref(stack, bucket)}.Arn>/{prefix}*]",
                        f"Jobs write run-specific keys under {prefix}; the role is limited to that prefix.")
        acknowledge(policy, "AwsSolutions-IAM5[Resource::*]",
                    "ecr:GetAuthorizationToken has no resource-level permissions, and "
                    "cloudwatch:PutMetricData none either (limited by the namespace condition).")
        acknowledge(policy, "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:"
                    "<AWS::AccountId>:log-group:/aws/sagemaker/*]",
                    "SageMaker names its log groups per job type under /aws/sagemaker/ at run time.")
        acknowledge(policy, "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:"
                    "<AWS::AccountId>:log-group:/aws/sagemaker/*:log-stream:*]",
                    "Log streams are created per job and instance at run time.")


def _ref(stack: Stack, bucket: s3.IBucket) -> str:
    """The logical id cdk-nag prints for the bucket in an ARN, e.g. ``DataBucketE3889A50``."""
    return stack.get_logical_id(bucket.node.default_child)  # type: ignore[arg-type]
