"""app.py as the CDK CLI runs it: clear errors without tracebacks, Data stack alone when untrained."""

import json
import os
import subprocess
import sys

from tests.conftest import ROOT, cdk_context, write_config


def run_app(config, outdir):
    env = {**os.environ, "CDK_OUTDIR": str(outdir), "CDK_VALIDATION": "false",
           "CDK_CONTEXT_JSON": json.dumps({**cdk_context(), "config": str(config)})}
    return subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def test_bad_config_prints_every_problem_and_no_traceback(tmp_path):
    config = write_config(tmp_path, """
[project]
prefix = "x"
[[variants]]
name = "a b"
manifest = "m.json"
weight = -1
""")
    result = run_app(config, tmp_path / "out")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(f"error: {config} is not a valid deployment config:\n")
    assert "  - project.prefix: 'x' must be 2-24 characters" in result.stderr
    assert "  - variants[0].name: 'a b' is not a SageMaker variant name" in result.stderr
    assert "  - variants[0].weight: -1 must be a number >= 0" in result.stderr


def test_without_manifests_only_the_data_stack_is_synthesized(tmp_path):
    config = write_config(tmp_path, """
[project]
prefix = "fresh"
[[variants]]
name = "champion"
manifest = "runs/never-trained/latest/manifest.json"
weight = 1
""")
    result = run_app(config, tmp_path / "out")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "out").glob("*.template.json")) == [
        "fresh-data.template.json"]
    assert "Synthesized the Data stack only. Next: deploy it (make deploy), train" in result.stderr


def test_synth_refuses_a_variant_rename_while_guardrails_are_on(tmp_path):
    text = (ROOT / "tests/fixtures/config/two_variants.toml").read_text()
    renamed = text.replace('name = "challenger"', 'name = "challenger-v2"')
    result = run_app(write_config(tmp_path, renamed), tmp_path / "out")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert ('  - variants: names ["champion", "challenger-v2"] differ from endpoint.rollout.variant_slots '
            '["champion", "challenger"] (added ["challenger-v2"], removed ["challenger"]); a guarded '
            "blue/green rollout must keep the deployed variant names") in result.stderr
    assert not list((tmp_path / "out").glob("*.template.json"))
