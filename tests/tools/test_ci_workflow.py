"""The PR-diff workflow is well-formed and runs the commands the README documents."""

import subprocess
import tomllib

import pytest
import yaml

from tests.conftest import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "cdk-diff.yml"
DEPLOY_CONFIG = "config/deploy.toml"


def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def test_workflow_posts_the_offline_and_the_deployed_diff():
    flow = workflow()
    assert flow[True] == {"pull_request": None}  # YAML 1.1 reads the key `on` as True
    offline = flow["jobs"]["offline-diff"]
    runs = [step.get("run", "") for step in offline["steps"]]
    assert any(f"make diff REF=origin/${{{{ github.base_ref }}}} CONFIG={DEPLOY_CONFIG}" in run
               for run in runs)
    assert any("gh pr comment" in run for run in runs)
    checkout = next(s for s in offline["steps"] if s.get("uses", "").startswith("actions/checkout"))
    assert checkout["with"]["fetch-depth"] == 0  # the base branch must be fetched
    deployed = flow["jobs"]["deployed-diff"]
    assert deployed["if"] == "${{ vars.AWS_DIFF_ROLE_ARN != '' }}"
    credentials = next(s for s in deployed["steps"]
                       if s.get("uses", "").startswith("aws-actions/configure-aws-credentials"))
    assert credentials["with"]["role-to-assume"] == "${{ vars.AWS_DIFF_ROLE_ARN }}"
    assert any(f"cdk diff --all -c config={DEPLOY_CONFIG}" in step.get("run", "")
               for step in deployed["steps"])
    assert flow["permissions"]["id-token"] == "write"


@pytest.mark.parametrize("job", ["offline-diff", "deployed-diff"])
def test_both_jobs_diff_the_committed_records_and_train_nothing(job):
    steps = workflow()["jobs"][job]["steps"]
    runs = " ".join(step.get("run", "") for step in steps)
    assert "make train" not in runs and "train-examples" not in runs
    assert f"config={DEPLOY_CONFIG}" in runs.replace("CONFIG=", "config=")
    # The config they diff names a committed record per variant, never a run directory.
    variants = tomllib.loads((ROOT / DEPLOY_CONFIG).read_text())["variants"]
    assert [v.get("record") for v in variants] == [f"models/{v['name']}.json" for v in variants]
    assert not any("manifest" in v for v in variants)


@pytest.mark.parametrize("job", ["offline-diff", "deployed-diff"])
def test_both_jobs_diff_even_without_records_and_say_so(job, tmp_path):
    """No step is skipped: without records deploy.toml still synthesizes the Data stack."""
    steps = workflow()["jobs"][job]["steps"]
    assert not any("if" in step for step in steps), "a skipped step would hide a Data stack change"
    (note,) = [step for step in steps if step.get("name") == "Note missing model records"]

    def run_note() -> str:
        return subprocess.run(["bash", "-e", "-c", note["run"]], cwd=tmp_path, check=True,
                              env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True).stdout

    stdout = run_note()
    assert stdout.startswith("::notice title=Data stack only::models/ holds no model records")
    assert "xgbapi promote --variant" in stdout
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "champion.json").write_text("{}")
    assert run_note() == ""


def test_the_deploy_config_synthesizes_the_data_stack_without_records(tmp_path):
    """What CI diffs in a repository that has promoted nothing yet."""
    from contract.config import load_config

    config = load_config(ROOT / DEPLOY_CONFIG, base_dir=tmp_path)  # no models/ there
    assert not config.has_models and "xgbapi promote" in config.next_steps()
