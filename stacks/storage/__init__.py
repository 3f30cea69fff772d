"""Data storage (the Data stack): KMS key, access-log bucket, data bucket, execution role."""
