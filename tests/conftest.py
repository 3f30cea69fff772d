"""Shared test setup: the stacks are synthesized once per session, from the test config."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
TEST_CONFIG = FIXTURES / "config" / "two_variants.toml"


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

    from stacks.composition import compose
    from stacks.config import load_config

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
