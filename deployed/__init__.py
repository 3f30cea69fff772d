"""What is deployed, read through boto3: sessions, the stacks' outputs, AWS errors as user errors.

Training (the sagemaker backend), the prediction client and operations all find the deployed
resources here, by the output names of ``contract.names``; none of them parses AWS errors itself.
"""
