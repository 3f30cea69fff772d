"""Data stack: the long-lived bucket, its KMS key and the SageMaker execution role.

Deployed first and rarely changed; everything in it is retained on ``cdk destroy``. Training
and publishing find the bucket, role and key through this stack's outputs
(:class:`contract.names.DataOutput`).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from contract.names import DataOutput
from stacks.storage.data_storage import DataStorage


class DataStack(Stack):
    storage: DataStorage

    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        # "Default" is left out of logical IDs: the resources keep the IDs they had when this
        # stack created them directly (a new ID would replace the retained bucket and key).
        self.storage = DataStorage(self, "Default")

        CfnOutput(self, DataOutput.BUCKET, value=self.bucket.bucket_name,
                  description="Bucket for datasets, model artifacts and batch transform I/O")
        CfnOutput(self, DataOutput.EXECUTION_ROLE, value=self.execution_role.role_arn,
                  description="Role SageMaker jobs and models run as")
        CfnOutput(self, DataOutput.KEY, value=self.key.key_arn,
                  description="KMS key of the bucket and of ML storage volumes")

    @property
    def bucket(self) -> s3.Bucket:
        return self.storage.bucket

    @property
    def key(self) -> kms.Key:
        return self.storage.key

    @property
    def execution_role(self) -> iam.Role:
        return self.storage.execution_role
