"""`make diff`: cdk diff output parsed into a review summary, and the whole flow against a ref."""

from __future__ import annotations

import json
import subprocess

from cli.main import main
from tools.template_diff import CDK, ENV, ROOT, parse_cdk_diff, summarize


def cdk_diff(synthesized, component: str, base_template: dict, tmp_path) -> str:
    stack = next(n for n in synthesized.templates if n.endswith(f"-{component}"))
    base = tmp_path / "base.template.json"
    base.write_text(json.dumps(base_template))
    result = subprocess.run([str(CDK), "diff", "--no-notices", "--app", str(synthesized.outdir),
                             "--exclusively", stack, "--template", str(base)],
                            cwd=ROOT, env=ENV, capture_output=True, text=True, check=True)
    return result.stdout + result.stderr


def test_a_weight_change_is_an_endpoint_config_replacement(synthesized, tmp_path):
    base = json.loads(json.dumps(synthesized.template("inference")))
    base["Resources"]["EndpointConfig"]["Properties"]["ProductionVariants"][0][
        "InitialVariantWeight"] = 0.9
    changes = parse_cdk_diff("xgb-test-inference", cdk_diff(synthesized, "inference", base, tmp_path))
    assert changes.replaced == [("AWS::SageMaker::EndpointConfig", "Default/EndpointConfig")]
    assert not changes.iam_changes and not changes.added and not changes.removed
    summary = summarize([changes], "main")
    assert "REPLACED AWS::SageMaker::EndpointConfig Default/EndpointConfig: endpoint update" in summary


def test_a_widened_policy_is_flagged_as_a_security_change(synthesized, tmp_path):
    base = json.loads(json.dumps(synthesized.template("api")))
    policy = next(r for r in base["Resources"].values() if r["Type"] == "AWS::IAM::Policy")
    policy["Properties"]["PolicyDocument"]["Statement"] = [
        s for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s["Action"] != "sagemaker:InvokeEndpoint"]
    changes = parse_cdk_diff("xgb-test-api", cdk_diff(synthesized, "api", base, tmp_path))
    assert changes.iam_changes
    assert "SECURITY: IAM statements change" in summarize([changes], "main")


def test_a_new_stack_lists_its_resources_as_added(synthesized, tmp_path):
    changes = parse_cdk_diff("xgb-test-data", cdk_diff(synthesized, "data", {"Resources": {}}, tmp_path))
    # cdk diff names resources by construct path; the component construct is "Default".
    assert "AWS::S3::Bucket Default/DataBucket" in changes.added and changes.iam_changes


def test_no_change_against_head_end_to_end(capsys):
    """The whole `make diff` flow (worktree of the ref, two synths, cdk diff per stack)."""
    code = main(["diff", "--ref", "HEAD", "--config", "tests/fixtures/config/two_variants.toml",
                               "--fail"])
    out = capsys.readouterr().out
    assert "Review summary (working tree vs HEAD)" in out
    for stack in ("xgb-test-data", "xgb-test-inference", "xgb-test-api"):
        assert f"Stack {stack}" in out
    inputs = ["app.py", "cdk.json", "stacks", "lambda", "training", "tests/fixtures"]
    if subprocess.run(["git", "diff", "--quiet", "HEAD", "--", *inputs], cwd=ROOT).returncode == 0:
        # Nothing the templates depend on differs from HEAD (always so in CI's clean clone).
        assert code == 0 and "no template changes" in out


def test_an_unknown_ref_is_a_clear_error(capsys):
    assert main(["diff", "--ref", "no-such-branch-xyz"]) == 2
    assert "'no-such-branch-xyz' is not a git ref here; pass --ref" in capsys.readouterr().err
