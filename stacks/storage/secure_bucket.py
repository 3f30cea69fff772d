"""An S3 bucket with the project's secure defaults kept in one place.

Private, SSL-only, encrypted, versioned, retained on ``cdk destroy``, old versions expired.
Callers override only what differs (the encryption key, the access-log target).
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

NONCURRENT_VERSION_DAYS = 90
INCOMPLETE_UPLOAD_DAYS = 7


def secure_bucket(
    scope: Construct,
    construct_id: str,
    *,
    encryption_key: kms.IKey | None = None,
    access_logs_bucket: s3.IBucket | None = None,
    access_logs_prefix: str | None = None,
    expire_objects_after: Duration | None = None,
) -> s3.Bucket:
    lifecycle = [
        s3.LifecycleRule(
            id="expire-old-versions",
            noncurrent_version_expiration=Duration.days(NONCURRENT_VERSION_DAYS),
            abort_incomplete_multipart_upload_after=Duration.days(INCOMPLETE_UPLOAD_DAYS),
        )
    ]
    if expire_objects_after is not None:
        lifecycle.append(s3.LifecycleRule(id="expire-objects", expiration=expire_objects_after))
    return s3.Bucket(
        scope,
        construct_id,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        enforce_ssl=True,
        minimum_tls_version=1.2,
        encryption=s3.BucketEncryption.KMS if encryption_key else s3.BucketEncryption.S3_MANAGED,
        encryption_key=encryption_key,
        bucket_key_enabled=True if encryption_key else None,
        versioned=True,
        lifecycle_rules=lifecycle,
        server_access_logs_bucket=access_logs_bucket,
        server_access_logs_prefix=access_logs_prefix,
        removal_policy=RemovalPolicy.RETAIN,
    )
