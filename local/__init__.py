"""The local mirror of the request path: the real handler, real models, loopback HTTP.

    client --POST /predict--> api_front (API Gateway REST proxy event) --> lambda handler
           --boto3 InvokeEndpoint (AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME)--> runtime_server
           --> the variant's model.tar.gz in the container's xgboost version
"""
