"""make deploy serves promoted records only: run manifests are refused before synth, unless
--allow-unpromoted (make deploy ALLOW_UNPROMOTED=1) says this is a sandbox."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from cli.main import main
from contract import model_record
from contract.config import AppConfig, load_config
from contract.errors import CliError
from tests.config.test_model_record import challenger_record, champion_record
from tests.conftest import FIXTURES, ROOT
from tools import deploy

RECORDS = """
[project]
prefix = "xgb-test"
region = "us-east-1"

[[variants]]
name = "champion"
{champion}
weight = 0.7
instance_type = "ml.m5.large"

[[variants]]
name = "challenger"
{challenger}
weight = 0.3
instance_type = "ml.m5.large"
"""
CHAMPION_RUN = 'manifest = "tests/fixtures/manifests/champion/manifest.json"'  # in S3 already
CHALLENGER_RUN = 'manifest = "tests/fixtures/manifests/challenger/manifest.json"'  # local only


def write(tmp_path: Path, champion: str, challenger: str) -> Path:
    for record in (champion_record(), challenger_record()):
        model_record.write(record, model_record.record_path(record.variant, tmp_path / "models"))
    for run in ("champion", "challenger"):
        shutil.copytree(FIXTURES / "manifests" / run, tmp_path / "tests/fixtures/manifests" / run)
    path = tmp_path / "deploy.toml"
    path.write_text(RECORDS.format(champion=champion, challenger=challenger))
    return path


def load(path: Path) -> AppConfig:
    return load_config(path, base_dir=path.parent)


def test_records_pass_the_check(tmp_path):
    config = load(write(tmp_path, 'record = "models/champion.json"',
                        'record = "models/challenger.json"'))
    assert deploy.unpromoted(config) == []
    deploy.refuse_unpromoted(config, allow_unpromoted=False)


def test_run_manifests_are_refused_naming_each_variant_and_the_fix(tmp_path):
    path = write(tmp_path, 'record = "models/champion.json"', CHALLENGER_RUN)
    config = load(path)
    with pytest.raises(CliError) as caught:
        deploy.refuse_unpromoted(config, allow_unpromoted=False)
    manifest = tmp_path / "tests/fixtures/manifests/challenger/manifest.json"
    assert caught.value.problem == (
        f"{path} deploys models that are not promoted: challenger uses the run manifest "
        f"{manifest} (its model.tar.gz is only on this machine); nothing was deployed")
    assert caught.value.fix == (
        "promote each (xgbapi promote --variant challenger), commit models/challenger.json and "
        'point the variant at it (record = "models/challenger.json" instead of manifest = ...), or '
        "pass --allow-unpromoted (make deploy ALLOW_UNPROMOTED=1) for a sandbox account")
    deploy.refuse_unpromoted(config, allow_unpromoted=True)  # the sandbox override


def test_a_published_run_is_still_not_a_record(tmp_path):
    config = load(write(tmp_path, CHAMPION_RUN, 'record = "models/challenger.json"'))
    (line,) = deploy.unpromoted(config)
    assert line.startswith("champion uses the run manifest ") and "only on this machine" not in line
    with pytest.raises(CliError):
        deploy.refuse_unpromoted(config, allow_unpromoted=False)


def test_a_config_without_models_deploys_the_data_stack(tmp_path):
    path = tmp_path / "deploy.toml"
    path.write_text(RECORDS.format(champion='manifest = "runs/champion/latest/manifest.json"',
                                   challenger='manifest = "runs/challenger/latest/manifest.json"'))
    config = load(path)
    assert config.models == ()
    deploy.refuse_unpromoted(config, allow_unpromoted=False)


class Synth(Exception):
    """Raised instead of running cdk: the deploy got past the check."""


@pytest.fixture
def no_cdk(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    calls: list[list[str]] = []

    def run(command: list[str], **_: Any) -> Any:
        calls.append(command)
        raise Synth

    monkeypatch.setattr(subprocess, "run", run)
    return calls


def test_xgbapi_deploy_refuses_before_synth_and_the_flag_overrides(tmp_path, no_cdk, capsys,
                                                                   monkeypatch):
    path = write(tmp_path, CHAMPION_RUN, CHALLENGER_RUN)
    monkeypatch.chdir(tmp_path)  # the config's paths are relative to the working directory
    assert main(["deploy", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path} deploys models that are not promoted: champion uses ")
    assert err.count("\n") == 1 and no_cdk == []  # nothing synthesized, nothing deployed
    with pytest.raises(Synth):
        main(["deploy", "--config", str(path), "--allow-unpromoted"])
    assert no_cdk[0][1] == "synth"


def test_make_deploy_passes_allow_unpromoted():
    makefile = (ROOT / "Makefile").read_text()
    (recipe,) = [line for line in makefile.splitlines() if line.startswith("\t$(XGBAPI) deploy ")]
    assert "$(if $(ALLOW_UNPROMOTED),--allow-unpromoted)" in recipe
