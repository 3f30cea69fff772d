"""The long-lived data storage: KMS key, access-log bucket, data bucket, SageMaker execution role.

Everything here is retained on ``cdk destroy``. The Data stack creates it with the id
"Default", so the resources keep the logical IDs they had when the stack built them itself.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.storage.execution_role import SageMakerExecutionRole
from stacks.storage.secure_bucket import secure_bucket

ACCESS_LOG_RETENTION = Duration.days(365)
ACCESS_LOG_PREFIX = "data-bucket/"


class DataStorage(Construct):
    key: kms.Key
    access_logs: s3.Bucket
    bucket: s3.Bucket
    execution_role: iam.Role

    def __init__(self, scope: Construct, construct_id: str, *,
                 access_log_retention: Duration = ACCESS_LOG_RETENTION) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "DataKey",
            description="Encrypts the project's bucket and SageMaker ML storage volumes",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.access_logs = secure_bucket(self, "AccessLogs", expire_objects_after=access_log_retention)
        self.bucket = secure_bucket(
            self, "DataBucket", encryption_key=self.key,
            access_logs_bucket=self.access_logs, access_logs_prefix=ACCESS_LOG_PREFIX,
        )
        self.execution_role = SageMakerExecutionRole(
            self, "SageMakerExecution", bucket=self.bucket, key=self.key
        ).role
