"""Defaults of the training commands, importable without numpy or xgboost (for ``--help``)."""

from pathlib import Path

DEFAULT_TARGET = "target"  # the label column
DEFAULT_SEED = 42  # the split's seed
DEFAULT_PREPARED = Path("data/prepared")
DEFAULT_RUNS = Path("runs")
DEFAULT_REGION = "us-east-1"
DEFAULT_INSTANCE_TYPE = "ml.m5.large"
