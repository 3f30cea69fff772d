"""Shared test setup: the stacks are synthesized once per session, from the test config; a
trained two-variant deployment is served on loopback once per session (``local_stack``)."""

from __future__ import annotations

import io
import json
import locale
import os
import shutil
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import pytest

if TYPE_CHECKING:
    from contract.config import AppConfig
    from local.stack import LocalStack
    from training.data import Prepared

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
TEST_CONFIG = FIXTURES / "config" / "two_variants.toml"
# One serverless variant: the config that changes the endpoint's shape most.
SERVERLESS = """
[project]
prefix = "xgb-sl"

[endpoint]
volume_kms = false

[[variants]]
name = "champion"
manifest = "tests/fixtures/manifests/champion/manifest.json"
weight = 1
serverless = {memory_mb = 3072, max_concurrency = 10}
"""


def cdk_context() -> dict[str, object]:
    """The feature flags and context of cdk.json, so tests synthesize what `cdk synth` does."""
    return json.loads((ROOT / "cdk.json").read_text())["context"]


@dataclass
class Synthesized:
    outdir: Path
    templates: dict[str, dict]  # stack name -> template
    stacks: object

    def template(self, component: str) -> dict:
        (name,) = [n for n in self.templates if n.endswith(f"-{component}")]
        return self.templates[name]


def synthesize(config_path: Path, outdir: Path, *, validation: bool = False) -> Synthesized:
    """Compose and synthesize the app the way app.py does; raises on cdk-nag findings."""
    from aws_cdk import App

    from contract.config import load_config
    from stacks.composition import compose

    config = load_config(config_path, base_dir=ROOT)
    app = App(context=cdk_context(), outdir=str(outdir),
              builtin_cloud_formation_validation=validation)
    stacks = compose(app, config)
    assembly = app.synth()
    templates = {s.stack_name: s.template for s in assembly.stacks}
    return Synthesized(outdir=outdir, templates=templates, stacks=stacks)


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(TEST_CONFIG, tmp_path_factory.mktemp("cdk.out"))


def write_config(directory: Path, text: str) -> Path:
    path = directory / "config.toml"
    path.write_text(text)
    return path


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
    """A trained two-variant deployment (70/30) plus a variant whose model cannot load."""
    from contract.config import load_config
    from training.data import load_prepared
    from training.examples import train_examples

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
    """That deployment served on loopback (tests/local, tests/predict)."""
    from local.stack import running

    with running(deployment.config) as stack:
        yield stack


@pytest.fixture
def ascii_locale() -> Iterator[None]:
    """A machine whose locale encoding is ASCII (open()'s default encoding follows LC_CTYPE)."""
    previous = locale.setlocale(locale.LC_CTYPE)
    locale.setlocale(locale.LC_CTYPE, "C")
    try:
        yield
    finally:
        locale.setlocale(locale.LC_CTYPE, previous)


# The modules that hold the suite's longest tests (tens of seconds each: a deploy into moto, real
# `cdk diff` runs, 5000 requests through the local stack). Collected first, so that the workers
# start on them and the short tests fill in at the end: collected last (their alphabetical
# place), one worker ran them alone while the other sat idle.
LONGEST_FIRST = ("tests/integration/test_emulated_deploy.py", "tests/tools/test_diff_records.py",
                 "tests/tools/test_template_diff.py", "tests/training/test_sagemaker_backend.py",
                 "tests/local/test_local_stack.py", "tests/infrastructure/test_app_entrypoint.py",
                 "tests/local/test_serve_local.py", "tests/local/test_local_control_plane.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::", 1)[0]
        return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: the order within a module and among the others is kept
