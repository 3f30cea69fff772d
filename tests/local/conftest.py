"""A trained two-variant deployment (70/30) plus a variant whose model cannot load, served locally."""

from __future__ import annotations

import io
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from local.stack import LocalStack, running
from stacks.config import AppConfig, load_config
from training.data import Prepared, load_prepared
from training.examples import train_examples

CONFIG = """
[project]
prefix = "xgb-local"

[[variants]]
name = "champion"
manifest = "{runs}/champion/latest/manifest.json"
weight = 0.7

[[variants]]
name = "challenger"
manifest = "{runs}/challenger/latest/manifest.json"
weight = 0.3
"""
BROKEN = """
[[variants]]
name = "broken"
manifest = "{runs}/broken/latest/manifest.json"
weight = 0
"""


@dataclass
class Deployment:
    config: AppConfig
    prepared: Prepared
    runs: Path


@pytest.fixture(scope="session")
def deployment(tmp_path_factory) -> Deployment:
    root = tmp_path_factory.mktemp("local-deployment")
    runs = root / "runs"
    config_path = root / "config.toml"
    config_path.write_text(CONFIG.format(runs=runs))
    for _ in train_examples(config_path, root / "prepared"):
        pass
    # A third variant whose model.tar.gz holds bytes xgboost cannot load (weight 0: only
    # reachable with target_variant), like a container whose model fails to start.
    challenger = (runs / "challenger" / "latest").resolve()
    broken_run = runs / "broken" / challenger.name
    shutil.copytree(challenger, broken_run)
    (runs / "broken" / "latest").symlink_to(challenger.name)
    garbage = b"not an xgboost model"
    with tarfile.open(broken_run / "model.tar.gz", "w:gz") as archive:
        info = tarfile.TarInfo("xgboost-model")
        info.size = len(garbage)
        archive.addfile(info, io.BytesIO(garbage))
    config_path.write_text(CONFIG.format(runs=runs) + BROKEN.format(runs=runs))
    return Deployment(load_config(config_path), load_prepared(root / "prepared"), runs)


@pytest.fixture(scope="session")
def local_stack(deployment) -> LocalStack:
    with running(deployment.config) as stack:
        yield stack
