"""Data stack: the long-lived bucket, its KMS key, the SageMaker execution role and the
model package group (the model registry ``xgbapi promote --register`` adds packages to).

Deployed first and rarely changed; everything in it is retained on ``cdk destroy``. Training
and publishing find the bucket, role and key through this stack's outputs
(:class:`contract.names.DataOutput`).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from contract.names import Component, DataOutput, model_package_group_name
from stacks.storage.data_storage import DataStorage


class DataStack(Stack):
    storage: DataStorage
    model_package_group: sagemaker.CfnModelPackageGroup

    def __init__(self, scope: Construct, construct_id: str, *, prefix: str | None = None,
                 **kwargs: Any) -> None:
        """``prefix`` is the config's project.prefix (default: ``construct_id`` minus "-data")."""
        super().__init__(scope, construct_id, **kwargs)
        prefix = prefix or construct_id.removesuffix(f"-{Component.DATA}")
        # "Default" is left out of logical IDs: the resources keep the IDs they had when this
        # stack created them directly (a new ID would replace the retained bucket and key).
        self.storage = DataStorage(self, "Default")
        # The model registry: promote --register adds a package (PendingManualApproval) per
        # promoted model; approving one is a human's step. Retained like the rest of the stack:
        # the packages in it are the approval history. The execution role needs no permission
        # for it (only the promoting user calls the registry).
        self.model_package_group = sagemaker.CfnModelPackageGroup(
            self, "ModelPackageGroup", model_package_group_name=model_package_group_name(prefix),
            model_package_group_description=f"{prefix}: promoted XGBoost models and their approval")
        self.model_package_group.apply_removal_policy(RemovalPolicy.RETAIN)

        CfnOutput(self, DataOutput.BUCKET, value=self.bucket.bucket_name,
                  description="Bucket for datasets, model artifacts and batch transform I/O")
        CfnOutput(self, DataOutput.EXECUTION_ROLE, value=self.execution_role.role_arn,
                  description="Role SageMaker jobs and models run as")
        CfnOutput(self, DataOutput.KEY, value=self.key.key_arn,
                  description="KMS key of the bucket and of ML storage volumes")
        CfnOutput(self, DataOutput.MODEL_PACKAGE_GROUP,
                  value=self.model_package_group.model_package_group_name,
                  description="Model package group promote --register adds packages to")

    @property
    def bucket(self) -> s3.Bucket:
        return self.storage.bucket

    @property
    def key(self) -> kms.Key:
        return self.storage.key

    @property
    def execution_role(self) -> iam.Role:
        return self.storage.execution_role
