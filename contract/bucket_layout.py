"""Key prefixes in the Data stack's bucket, shared by the execution role's policy and the CLI.

The SageMaker execution role may read and write only under these prefixes, so the training
CLI must put every object it uploads, and every job output it asks for, below one of them.
"""

DATASETS = "datasets/"  # prepared train / validation / test shards, one folder per prepared dataset
MODELS = "models/"  # training-job output and published local artifacts
BATCH_TRANSFORM = "batch-transform/"  # evaluation outputs

DATA_CAPTURE = "data-capture/"  # endpoint data capture (requests and responses)

ROLE_PREFIXES = (DATASETS, MODELS, BATCH_TRANSFORM, DATA_CAPTURE)
