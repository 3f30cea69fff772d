"""Defaults of the training commands, importable without numpy or xgboost (for ``--help``)."""

from pathlib import Path

from contract.names import DEFAULT_REGION as DEFAULT_REGION
from contract.prepared import DEFAULT_PREPARED_DIR

DEFAULT_PREPARED = Path(DEFAULT_PREPARED_DIR)

DEFAULT_TARGET = "target"  # the label column
DEFAULT_SEED = 42  # the split's seed
DEFAULT_RUNS = Path("runs")
DEFAULT_INSTANCE_TYPE = "ml.m5.large"
DEFAULT_SHARD_MB = 64  # a split's largest shard file: S3 key sharding hands each instance whole files
