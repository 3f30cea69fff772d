"""`make diff`: cdk diff output parsed into a review summary, and the whole flow against a ref."""

from __future__ import annotations

import json
import os
import subprocess

from cli.main import main
from tests.tools.test_diff_records import git, project_copy
from tools.template_diff import (
    CDK,
    ENV,
    ROOT,
    StackChanges,
    parse_cdk_diff,
    replacement_details,
    summarize,
)


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
        if "sagemaker:InvokeEndpoint" not in s["Action"]]
    changes = parse_cdk_diff("xgb-test-api", cdk_diff(synthesized, "api", base, tmp_path))
    assert changes.iam_changes
    assert "SECURITY: IAM statements change" in summarize([changes], "main")


def test_a_new_stack_lists_its_resources_as_added(synthesized, tmp_path):
    changes = parse_cdk_diff("xgb-test-data", cdk_diff(synthesized, "data", {"Resources": {}}, tmp_path))
    # cdk diff names resources by construct path; the component construct is "Default".
    assert "AWS::S3::Bucket Default/DataBucket" in changes.added and changes.iam_changes


def test_no_change_against_head_end_to_end(tmp_path):
    """The whole `make diff` flow (worktree of the ref, two synths, cdk diff per stack), run in a
    temporary git repository whose one commit is this working tree: HEAD and the working tree are
    the same, whatever state this checkout is in, so the diff must find nothing (exit 0 with --fail)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    project_copy(repo)
    git(repo, "init", "--quiet")
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "-m", "the working tree")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    result = subprocess.run(
        [str(repo / ".venv" / "bin" / "python"), "-m", "cli", "diff", "--ref", "HEAD", "--config",
         "tests/fixtures/config/two_variants.toml", "--fail"],
        cwd=repo, env=env, capture_output=True, text=True, timeout=600)
    out = result.stdout
    assert result.returncode == 0, out[-3000:] + result.stderr[-3000:]
    assert "Review summary (working tree vs HEAD)" in out
    for stack in ("xgb-test-data", "xgb-test-inference", "xgb-test-api"):
        assert f"Stack {stack}" in out
    assert "no template changes" in out


def test_an_unknown_ref_is_a_clear_error(capsys):
    assert main(["diff", "--ref", "no-such-branch-xyz"]) == 2
    assert "'no-such-branch-xyz' is not a git ref here; pass --ref" in capsys.readouterr().err


def test_a_replaced_model_shows_its_old_and_new_model_data_url(synthesized, tmp_path):
    head = synthesized.template("inference")
    base = json.loads(json.dumps(head))
    model = base["Resources"]["championmodel"]["Properties"]["PrimaryContainer"]
    model["ModelDataUrl"] = "s3://bucket/models/champion/old/model.tar.gz"
    variants = base["Resources"]["EndpointConfig"]["Properties"]["ProductionVariants"]
    variants[0]["InitialVariantWeight"], variants[1]["InitialVariantWeight"] = 0.5, 0.5
    changes = parse_cdk_diff("xgb-test-inference", cdk_diff(synthesized, "inference", base, tmp_path))
    assert changes.logical_ids["Default/champion-model"] == "championmodel"
    summary = summarize([changes], "main", templates={"xgb-test-inference": (base, head)})
    new_url = head["Resources"]["championmodel"]["Properties"]["PrimaryContainer"]["ModelDataUrl"]
    assert new_url.startswith("s3://")  # the fixture champion is published: a plain S3 URI
    assert ("    REPLACED AWS::SageMaker::Model Default/champion-model: a new model version behind a "
            "variant\n"
            "      ModelDataUrl old: s3://bucket/models/champion/old/model.tar.gz\n"
            f"      ModelDataUrl new: {new_url}\n") in summary
    assert "      weight champion: 0.5 -> 0.7\n      weight challenger: 0.5 -> 0.3" in summary
    # Only the replaced resources get details; the challenger model is untouched.
    assert summary.count("ModelDataUrl") == 2


def test_replacement_details_from_templates_alone():
    """Resolved by logical id, else by construct path; asset URLs shown as their Fn::Sub text."""
    def model(url: object, image: str) -> dict:
        return {"Type": "AWS::SageMaker::Model",
                "Properties": {"PrimaryContainer": {"Image": image, "ModelDataUrl": url}},
                "Metadata": {"aws:cdk:path": "s-inference/Default/challenger-model"}}

    def config(*weights: tuple[str, float]) -> dict:
        return {"Type": "AWS::SageMaker::EndpointConfig", "Properties": {"ProductionVariants": [
            {"VariantName": name, "InitialVariantWeight": weight} for name, weight in weights]}}

    asset = {"Fn::Sub": "s3://cdk-assets-${AWS::AccountId}-${AWS::Region}/abc.gz"}
    base = {"Resources": {"challengermodel": model(asset, "image:1"),
                          "EndpointConfig": config(("champion", 1.0))}}
    head = {"Resources": {"challengermodel": model(asset, "image:2"),
                          "EndpointConfig": config(("champion", 0.7), ("challenger", 0.3))}}
    changes = StackChanges("s-inference", modified=["x", "y"], replaced=[
        ("AWS::SageMaker::Model", "Default/challenger-model"),
        ("AWS::SageMaker::EndpointConfig", "Default/EndpointConfig")],
        logical_ids={"Default/EndpointConfig": "EndpointConfig"})
    summary = summarize([changes], "main", templates={"s-inference": (base, head)})
    assert ("      ModelDataUrl unchanged: s3://cdk-assets-${AWS::AccountId}-${AWS::Region}/abc.gz"
            in summary)
    assert "      weight champion: 1.0 -> 0.7\n      weight challenger: (none) -> 0.3" in summary
    # Without the templates (or for a resource not in them) the summary is as before.
    assert "ModelDataUrl" not in summarize([changes], "main")
    assert replacement_details("AWS::SageMaker::Model", "Default/other", None, "s-inference",
                               (base, head)) == []
