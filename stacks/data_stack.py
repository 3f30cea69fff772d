"""Data stack: the long-lived bucket, its KMS key and the SageMaker execution role.

Deployed first and rarely changed; everything in it is retained on ``cdk destroy``. The
training CLI finds the bucket and role through this stack's outputs (see OUTPUT_* below).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.execution_role import SageMakerExecutionRole
from stacks.secure_bucket import secure_bucket

# Output keys the training CLI reads with DescribeStacks; renaming one breaks the CLI.
OUTPUT_BUCKET = "DataBucketName"
OUTPUT_ROLE = "SageMakerExecutionRoleArn"
OUTPUT_KEY = "DataKeyArn"
ACCESS_LOG_RETENTION = Duration.days(365)


class DataStack(Stack):
    bucket: s3.Bucket
    key: kms.Key
    execution_role: iam.Role

    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)

        self.key = kms.Key(
            self,
            "DataKey",
            description="Encrypts the project's bucket and SageMaker ML storage volumes",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        access_logs = secure_bucket(self, "AccessLogs", expire_objects_after=ACCESS_LOG_RETENTION)
        self.bucket = secure_bucket(
            self, "DataBucket", encryption_key=self.key,
            access_logs_bucket=access_logs, access_logs_prefix="data-bucket/",
        )
        self.execution_role = SageMakerExecutionRole(
            self, "SageMakerExecution", bucket=self.bucket, key=self.key
        ).role

        CfnOutput(self, OUTPUT_BUCKET, value=self.bucket.bucket_name,
                  description="Bucket for datasets, model artifacts and batch transform I/O")
        CfnOutput(self, OUTPUT_ROLE, value=self.execution_role.role_arn,
                  description="Role SageMaker jobs and models run as")
        CfnOutput(self, OUTPUT_KEY, value=self.key.key_arn,
                  description="KMS key of the bucket and of ML storage volumes")
