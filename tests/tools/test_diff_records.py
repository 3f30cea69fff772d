"""CI's offline diff on committed model records: a pull request that changes models/challenger.json.

Runs exactly the offline-diff job's command (`xgbapi diff --ref <base> --config config/deploy.toml`)
in a temporary git repository holding this project's tree, with two commits that differ only in
the challenger's record. Two CDK synths (~20 s): the one end-to-end test of this flow.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
from pathlib import Path

from contract import model_record
from contract.config import load_config
from tests.conftest import FIXTURES, ROOT

RECORDS = FIXTURES / "records"
NEW_URI = "s3://xgb-demo-data-bucket-example/models/challenger/20261120T080000Z-chall/model.tar.gz"
GIT = ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid",
       "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main"]


def git(repo: Path, *args: str) -> None:
    subprocess.run([*GIT, *args], cwd=repo, check=True, capture_output=True, text=True)


def project_copy(repo: Path) -> None:
    """The project's files as in this working tree (tracked and new, not ignored), no records."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, check=True, capture_output=True, text=True).stdout
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if name.startswith(f"{model_record.RECORDS_DIR}/") or not source.is_file():
            continue  # the test writes its own records; skip files deleted in the working tree
        target = repo / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target, follow_symlinks=False)
    for name in (".venv", "node_modules"):  # what a synth runs, installed once
        (repo / name).symlink_to(ROOT / name)


def test_the_deploy_config_is_the_default_config_on_records(tmp_path):
    shutil.copytree(RECORDS, tmp_path / model_record.RECORDS_DIR)
    deploy = load_config(ROOT / "config" / "deploy.toml", base_dir=tmp_path)
    default = load_config(ROOT / "config" / "default.toml", base_dir=tmp_path, resolve_models=False)
    assert [v.record_path for v in deploy.variants] == [
        model_record.record_path(v.name, tmp_path / model_record.RECORDS_DIR) for v in deploy.variants]
    assert [m.record for m in deploy.models] == [
        model_record.load(RECORDS / f"{v.name}.json") for v in deploy.variants]
    strip = {"manifest_path": None, "record_path": None}
    assert [dataclasses.replace(v, **strip) for v in deploy.variants] == [
        dataclasses.replace(v, **strip) for v in default.variants]
    assert (deploy.prefix, deploy.account, deploy.region, deploy.endpoint, deploy.api) == (
        default.prefix, default.account, default.region, default.endpoint, default.api)


def test_the_offline_ci_diff_shows_a_changed_record_as_a_model_replacement(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    project_copy(repo)
    models = repo / model_record.RECORDS_DIR
    models.mkdir()
    for variant in ("champion", "challenger"):
        shutil.copy(RECORDS / f"{variant}.json", model_record.record_path(variant, models))
    git(repo, "init", "--quiet")
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "-m", "base: both variants promoted")
    # The pull request: the challenger slot gets a newly promoted model, nothing else changes.
    old = model_record.load(RECORDS / "challenger.json")
    new = dataclasses.replace(
        old, artifact=dataclasses.replace(old.artifact, s3_uri=NEW_URI, etag="0" * 32, sha256=None),
        manifest=dataclasses.replace(old.manifest, model_data=NEW_URI))
    model_record.write(new, model_record.record_path("challenger", models))
    git(repo, "commit", "--quiet", "-am", "promote a new challenger")
    changed = subprocess.run(["git", "diff", "--name-only", "HEAD~1"], cwd=repo, check=True,
                             capture_output=True, text=True).stdout.split()
    assert changed == ["models/challenger.json"]

    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    result = subprocess.run(
        [str(repo / ".venv" / "bin" / "python"), "-m", "cli", "diff", "--ref", "HEAD~1",
         "--config", "config/deploy.toml"],
        cwd=repo, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "note:" not in result.stdout  # the base synthesized from its own records
    summary = result.stdout[result.stdout.index("Review summary (working tree vs HEAD~1)"):]
    assert ("    REPLACED AWS::SageMaker::Model Default/challenger-model: a new model version behind "
            f"a variant\n      ModelDataUrl old: {old.artifact.s3_uri}\n"
            f"      ModelDataUrl new: {NEW_URI}\n") in summary, summary
    assert "    REPLACED AWS::SageMaker::EndpointConfig Default/EndpointConfig: endpoint update" in summary
    assert summary.count("REPLACED") == 2, summary  # nothing else is replaced
    assert "weight " not in summary  # the weights stay 0.7/0.3
    assert "  xgb-demo-data: no changes" in summary and "  xgb-demo-api: no changes" in summary
