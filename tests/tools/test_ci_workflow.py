"""The PR-diff workflow is well-formed and runs the commands the README documents."""

import yaml

from tests.conftest import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "cdk-diff.yml"


def test_workflow_posts_the_offline_and_the_deployed_diff():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    assert workflow[True] == {"pull_request": None}  # YAML 1.1 reads the key `on` as True
    offline = workflow["jobs"]["offline-diff"]
    runs = [step.get("run", "") for step in offline["steps"]]
    assert any("make train" in run for run in runs)
    assert any("make diff REF=origin/${{ github.base_ref }}" in run for run in runs)
    assert any("gh pr comment" in run for run in runs)
    checkout = next(s for s in offline["steps"] if s.get("uses", "").startswith("actions/checkout"))
    assert checkout["with"]["fetch-depth"] == 0  # the base branch must be fetched
    deployed = workflow["jobs"]["deployed-diff"]
    assert deployed["if"] == "${{ vars.AWS_DIFF_ROLE_ARN != '' }}"
    credentials = next(s for s in deployed["steps"]
                       if s.get("uses", "").startswith("aws-actions/configure-aws-credentials"))
    assert credentials["with"]["role-to-assume"] == "${{ vars.AWS_DIFF_ROLE_ARN }}"
    assert any("cdk diff --all" in step.get("run", "") for step in deployed["steps"])
    assert workflow["permissions"]["id-token"] == "write"
