"""The yardstick for `make bench-synth`: a one-bucket CDK app with CDK's defaults (cdk init)."""

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3


class HelloStack(cdk.Stack):
    def __init__(self, scope: cdk.App, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        s3.Bucket(self, "Bucket")


app = cdk.App()
HelloStack(app, "HelloStack")
app.synth()
