"""The PR-diff workflow is well-formed and runs the commands the README documents."""

import subprocess
import tomllib

import pytest
import yaml

from tests.conftest import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "cdk-diff.yml"
DEPLOY_CONFIG = "config/deploy.toml"
FOUND = "steps.records.outputs.found == 'true'"


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
def test_both_jobs_skip_with_a_notice_without_records(job, tmp_path):
    steps = workflow()["jobs"][job]["steps"]
    assert steps[0]["uses"].startswith("actions/checkout")
    check = steps[1]
    assert check["id"] == "records" and "if" not in check
    assert all(step.get("if") == FOUND for step in steps[2:]), "every step after the check is skipped"

    def run_check() -> tuple[str, str]:
        output = tmp_path / "github_output"
        output.write_text("")
        result = subprocess.run(["bash", "-e", "-c", check["run"]], cwd=tmp_path, check=True,
                                env={"GITHUB_OUTPUT": str(output), "PATH": "/usr/bin:/bin"},
                                capture_output=True, text=True)
        return output.read_text(), result.stdout

    found, stdout = run_check()
    assert found == "found=false\n"
    assert stdout.startswith("::notice title=cdk diff skipped::models/ holds no model records")
    assert "xgbapi promote --variant" in stdout
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "champion.json").write_text("{}")
    assert run_check() == ("found=true\n", "")
