"""The contract every part of the product agrees on, at the ground floor.

Standard library only: no aws_cdk, boto3, numpy or sklearn. The stacks, training, the client
and operations, the local mirror and the Lambda (whose asset carries this package) all import
from here; this package imports none of them.

- ``manifest``: the model manifest a training run writes and the stacks deploy.
- ``config``: the deployment config, validated once into typed objects.
- ``names``: stack names, stack outputs, the Lambda's environment variables, metric namespace.
- ``limits``: the AWS size limits the request path must respect.
- ``request``: the prediction request's shape (the API's JSON schema) and auth modes.
- ``bucket_layout``: key prefixes in the data bucket.
- ``images``: the built-in XGBoost container per region and version.
- ``errors``: the error a user can fix, carrying the fix.
"""
