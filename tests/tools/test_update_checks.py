"""Endpoint updates AWS would refuse or carry out unexpectedly, found in real synthesized templates.

Each trap: a config before and after (the Inference stack synthesized from each with the real
stacks), the review summary naming it, and the pre-deploy check refusing the failing ones.
Safe changes (a model, a weight) are not flagged.
"""

from __future__ import annotations

import copy
import functools
import itertools
import json
import tomllib
from typing import Any

import pytest
from botocore.stub import Stubber

from contract.config import AppConfig, parse_config
from contract.errors import CliError
from contract.names import Component
from tests.conftest import ROOT, TEST_CONFIG, cdk_context
from tools import deploy
from tools.template_diff import StackChanges, summarize
from tools.update_checks import blocking, endpoint_view, find_traps

BASE: dict[str, Any] = tomllib.loads(TEST_CONFIG.read_text())  # autoscaled champion, guarded canary
SINGLE: dict[str, Any] = {
    "project": {"prefix": "xgb-test"},
    "endpoint": {"volume_kms": False},
    "variants": [{"name": "champion", "manifest": "tests/fixtures/manifests/champion/manifest.json",
                  "weight": 1, "instance_type": "ml.m5.large", "instance_count": 1}],
}


def config(raw: dict[str, Any]) -> AppConfig:
    return parse_config(copy.deepcopy(raw), base_dir=ROOT)


def inference_template(raw: dict[str, Any]) -> dict[str, Any]:
    """The Inference stack's template for ``raw``, built by the real stacks (no cdk-nag: faster).

    Each config is synthesized once per session (several tests start from the same one)."""
    return copy.deepcopy(_synthesized(json.dumps(raw, sort_keys=True)))


@functools.cache
def _synthesized(raw_json: str) -> dict[str, Any]:
    raw = json.loads(raw_json)
    from aws_cdk import App
    from aws_cdk.assertions import Template

    from stacks.data_stack import DataStack
    from stacks.inference_stack import InferenceStack

    parsed = config(raw)
    app = App(context=cdk_context())
    data = DataStack(app, parsed.stack_name(Component.DATA))
    stack = InferenceStack(app, parsed.stack_name(Component.INFERENCE), config=parsed,
                           execution_role=data.execution_role,
                           volume_key=data.key if parsed.endpoint.volume_kms else None,
                           data_bucket=data.bucket, data_key=data.key)
    return Template.from_stack(stack).to_json()  # type: ignore[no-any-return]


def changed(raw: dict[str, Any], edit: Any) -> dict[str, Any]:
    result = copy.deepcopy(raw)
    edit(result)
    return result


def variant(raw: dict[str, Any], name: str) -> dict[str, Any]:
    return next(v for v in raw["variants"] if v["name"] == name)


STACK = "xgb-test-inference"


@pytest.fixture(scope="module")
def base_template() -> dict[str, Any]:
    return inference_template(BASE)


def traps_of(before: dict[str, Any], after_raw: dict[str, Any]) -> list[Any]:
    return find_traps(before, inference_template(after_raw), STACK)


def test_the_view_reads_variants_autoscaling_and_retention(base_template):
    view = endpoint_view(base_template)
    assert view is not None
    assert set(view.variants) == {"champion", "challenger"}
    assert view.variants["champion"].instance_type == "ml.m5.large"
    assert view.autoscaled == {"champion"}
    assert view.retain_all and view.excluded_from_retention == {"DesiredWeight"}
    assert view.blue_green and view.data_capture is not None


def test_instance_type_of_an_autoscaled_variant_fails_and_blocks_the_deploy(base_template):
    after = changed(BASE, lambda c: variant(c, "champion").update(instance_type="ml.m5.xlarge"))
    traps = traps_of(base_template, after)
    assert [(t.id, t.severity) for t in traps] == [("autoscaled_instance_type", "fails")]
    (trap,) = traps
    assert "ml.m5.large -> ml.m5.xlarge" in trap.what
    assert len(trap.safe_sequence) == 3 and "autoscaling removed" in trap.safe_sequence[0]
    summary = summarize([StackChanges(STACK, modified=["x"])], "main", traps)
    assert "WILL FAIL [autoscaled_instance_type] variant champion" in summary
    assert "safe sequence:" in summary and "docs/update-traps.md#autoscaled_instance_type" in summary
    with pytest.raises(CliError, match="autoscaled_instance_type"):
        deploy.refuse_if_blocking(traps, allow_unsafe=False)
    deploy.refuse_if_blocking(traps, allow_unsafe=True)  # the explicit override


def test_the_safe_sequence_itself_passes_step_by_step(base_template):
    """Step 1 (autoscaling off, same type), 2 (new type), 3 (autoscaling on): none fails."""
    def no_scaling(c: dict[str, Any]) -> None:
        for key in ("min_instances", "max_instances", "target_invocations_per_instance"):
            variant(c, "champion").pop(key)
    step1 = changed(BASE, no_scaling)
    step2 = changed(step1, lambda c: variant(c, "champion").update(instance_type="ml.m5.xlarge"))
    step3 = changed(step2, lambda c: variant(c, "champion").update(
        min_instances=1, max_instances=4, target_invocations_per_instance=750))
    templates = [base_template] + [inference_template(raw) for raw in (step1, step2, step3)]
    for before, after in itertools.pairwise(templates):
        assert blocking(find_traps(before, after, STACK)) == []


def test_switching_a_variant_to_serverless_fails():
    after = changed(SINGLE, lambda c: c["variants"][0].update(
        instance_type=None, instance_count=None, serverless={"memory_mb": 2048, "max_concurrency": 5}))
    for variant_entry in after["variants"]:
        for key in [k for k, v in variant_entry.items() if v is None]:
            variant_entry.pop(key)
    traps = traps_of(inference_template(SINGLE), after)
    assert [(t.id, t.severity) for t in traps] == [("instance_to_serverless", "fails")]
    assert "from instances to serverless" in traps[0].what
    back = find_traps(inference_template(after), inference_template(SINGLE), STACK)
    assert [(t.id, t.severity) for t in back] == [("serverless_to_instance_one_way", "unexpected")]


def without_policy(raw: dict[str, Any]) -> dict[str, Any]:
    """The same config with strategy "none" (no deployment policy) and guardrails off."""
    result = copy.deepcopy(raw)
    result["endpoint"]["rollout"] = {"strategy": "none", "guardrails": False}
    return result


def test_changed_variant_names_under_blue_green_fail_and_strategy_none_is_the_way():
    open_rollout = changed(BASE, lambda c: c["endpoint"]["rollout"].update(guardrails=False))
    renamed = changed(open_rollout, lambda c: variant(c, "challenger").update(name="candidate"))
    traps = traps_of(inference_template(open_rollout), renamed)
    assert [(t.id, t.severity) for t in traps] == [("variant_names_blue_green", "fails")]
    assert "added ['candidate'], removed ['challenger']" in traps[0].what
    assert 'strategy = "none"' in traps[0].safe_sequence[0]
    # The safe sequence: the variant change without a deployment policy is not flagged.
    assert traps_of(inference_template(open_rollout), without_policy(renamed)) == []


def test_removing_an_autoscaled_variant_fails():
    one = changed(BASE, lambda c: c["variants"].pop())  # challenger goes; champion autoscales
    two_scaled = changed(BASE, lambda c: variant(c, "challenger").update(
        min_instances=1, max_instances=3, target_invocations_per_instance=500))
    traps = find_traps(inference_template(without_policy(two_scaled)),
                       inference_template(without_policy(one)), STACK)
    assert [(t.id, t.severity) for t in traps] == [("autoscaled_variant_removed", "fails")]


def test_data_capture_changes_on_a_retaining_endpoint_are_flagged(base_template):
    after = changed(BASE, lambda c: c["endpoint"]["data_capture"].update(sampling_percentage=50))
    assert [t.id for t in traps_of(base_template, after)] == ["datacapture_with_retention"]


def test_ending_autoscaling_resets_the_counts_when_nothing_is_retained_any_more(base_template):
    def no_scaling(c: dict[str, Any]) -> None:
        for key in ("min_instances", "max_instances", "target_invocations_per_instance"):
            variant(c, "champion").pop(key)
    traps = traps_of(base_template, changed(BASE, no_scaling))
    assert [(t.id, t.severity) for t in traps] == [("retention_flag_flip", "unexpected")]
    assert "champion -> 2" in traps[0].what


def test_ending_autoscaling_on_one_variant_of_two_freezes_its_count():
    both = changed(BASE, lambda c: variant(c, "challenger").update(
        min_instances=1, max_instances=3, target_invocations_per_instance=500))
    def champion_off(c: dict[str, Any]) -> None:
        for key in ("min_instances", "max_instances", "target_invocations_per_instance"):
            variant(c, "champion").pop(key)
    traps = traps_of(inference_template(both), changed(both, champion_off))
    assert [t.id for t in traps] == ["instance_count_not_applied"]


def test_a_new_instance_count_is_not_applied_while_a_variant_autoscales(base_template):
    after = changed(BASE, lambda c: variant(c, "challenger").update(instance_count=3))
    traps = traps_of(base_template, after)
    assert [t.id for t in traps] == ["instance_count_not_applied"]
    assert "challenger" in traps[0].what


def test_a_step_in_instances_with_autoscaling_is_flagged():
    before = changed(BASE, lambda c: (c["endpoint"]["rollout"].update(canary_size=1),
                                      variant(c, "challenger").update(instance_count=2)))
    after = changed(before, lambda c: variant(c, "champion").update(
        manifest="tests/fixtures/manifests/challenger/manifest.json"))
    traps = traps_of(inference_template(before), after)
    assert [t.id for t in traps] == ["canary_linear_size_vs_fleet"]
    # The same model change with the step as a percentage is safe.
    assert traps_of(base_template_of(BASE), changed(BASE, lambda c: variant(c, "champion").update(
        manifest="tests/fixtures/manifests/challenger/manifest.json"))) == []


def base_template_of(raw: dict[str, Any]) -> dict[str, Any]:
    return inference_template(raw)


def test_a_new_volume_key_is_flagged(base_template):
    after = changed(BASE, lambda c: c["endpoint"].update(volume_kms=False))
    assert [t.id for t in traps_of(base_template, after)] == ["kms_key_change"]


def test_a_renamed_endpoint_is_flagged(base_template):
    after = json.loads(json.dumps(base_template))
    (endpoint,) = [r for r in after["Resources"].values() if r["Type"] == "AWS::SageMaker::Endpoint"]
    endpoint["Properties"]["EndpointName"] = "xgb-other-endpoint"
    assert [t.id for t in find_traps(base_template, after, STACK)] == ["endpoint_name_change"]


@pytest.mark.parametrize("edit", [
    pytest.param(lambda c: variant(c, "champion").update(
        manifest="tests/fixtures/manifests/challenger/manifest.json"), id="model-of-autoscaled"),
    pytest.param(lambda c: (variant(c, "champion").update(weight=0.5),
                            variant(c, "challenger").update(weight=0.5)), id="weights"),
    pytest.param(lambda c: variant(c, "challenger").update(instance_type="ml.m5.xlarge"),
                 id="type-of-a-variant-that-does-not-autoscale"),
])
def test_safe_changes_are_not_flagged(base_template, edit):
    after = changed(BASE, edit)
    assert inference_template(after) != base_template  # the change is real
    assert find_traps(base_template, inference_template(after), STACK) == []


def test_the_pre_deploy_check_reads_the_deployed_templates(base_template):
    """deploy.check_update against CloudFormation GetTemplate (botocore Stubber), offline."""
    import boto3

    cloudformation = boto3.client("cloudformation", region_name="us-east-1",
                                  aws_access_key_id="x", aws_secret_access_key="x")
    after = inference_template(changed(BASE, lambda c: variant(c, "champion").update(
        instance_type="ml.m5.xlarge")))
    with Stubber(cloudformation) as stub:
        stub.add_client_error("get_template", "ValidationError",
                              "Stack with id xgb-test-data does not exist", 400,
                              expected_params={"StackName": "xgb-test-data", "TemplateStage": "Original"})
        stub.add_response("get_template", {"TemplateBody": json.dumps(base_template)},
                          {"StackName": STACK, "TemplateStage": "Original"})
        traps = deploy.check_update({"xgb-test-data": {"Resources": {}}, STACK: after},
                                    deploy.deployed_templates(cloudformation))
    assert [t.id for t in blocking(traps)] == ["autoscaled_instance_type"]
    with pytest.raises(CliError, match="nothing was deployed"):
        deploy.refuse_if_blocking(traps, allow_unsafe=False)


def _no_scaling(name: str) -> Any:
    def edit(c: dict[str, Any]) -> None:
        for key in ("min_instances", "max_instances", "target_invocations_per_instance"):
            variant(c, name).pop(key)
    return edit


OPEN = changed(BASE, lambda c: c["endpoint"]["rollout"].update(guardrails=False))
TWO_SCALED = changed(BASE, lambda c: variant(c, "challenger").update(
    min_instances=1, max_instances=3, target_invocations_per_instance=500))
SERVERLESS = {**SINGLE, "variants": [{"name": "champion", "weight": 1,
                                      "manifest": "tests/fixtures/manifests/champion/manifest.json",
                                      "serverless": {"memory_mb": 2048, "max_concurrency": 5}}]}
SCENARIOS = {  # trap id -> (config before, config after)
    "autoscaled_instance_type": (BASE, changed(BASE, lambda c: variant(c, "champion").update(
        instance_type="ml.m5.xlarge"))),
    "autoscaled_variant_removed": (without_policy(TWO_SCALED),
                                   without_policy(changed(BASE, lambda c: c["variants"].pop()))),
    "variant_names_blue_green": (OPEN, changed(OPEN, lambda c: variant(c, "challenger").update(
        name="candidate"))),
    "instance_to_serverless": (SINGLE, SERVERLESS),
    "serverless_to_instance_one_way": (SERVERLESS, SINGLE),
    "datacapture_with_retention": (BASE, changed(BASE, lambda c: c["endpoint"]["data_capture"].update(
        sampling_percentage=50))),
    "kms_key_change": (BASE, changed(BASE, lambda c: c["endpoint"].update(volume_kms=False))),
    "instance_count_not_applied": (BASE, changed(BASE, lambda c: variant(c, "challenger").update(
        instance_count=3))),
    "retention_flag_flip": (BASE, changed(BASE, _no_scaling("champion"))),
}


@pytest.mark.parametrize("trap_id", sorted(SCENARIOS))
def test_each_trap_is_named_in_the_review_summary_and_failing_ones_stop_the_deploy(trap_id):
    before, after = (inference_template(raw) for raw in SCENARIOS[trap_id])
    traps = find_traps(before, after, STACK)
    assert trap_id in [t.id for t in traps]
    summary = summarize([StackChanges(STACK, modified=["x"])], "main", traps)
    (trap,) = [t for t in traps if t.id == trap_id]
    label = "WILL FAIL" if trap.severity == "fails" else "UNEXPECTED"
    assert f"{label} [{trap_id}]" in summary and f"update-traps.md#{trap_id}" in summary
    docs = (ROOT / "docs" / "update-traps.md").read_text()
    assert f"### {trap_id}\n" in docs  # the source the summary links to exists
    check = deploy.check_update({STACK: after}, lambda stack: before)
    if trap.severity == "fails":
        with pytest.raises(CliError, match=trap_id):
            deploy.refuse_if_blocking(check, allow_unsafe=False)
    else:
        deploy.refuse_if_blocking(check, allow_unsafe=False)  # a warning does not stop it


def test_every_trap_the_checks_can_name_has_its_source_in_the_docs():
    import re

    source = (ROOT / "tools" / "update_checks.py").read_text()
    ids = set(re.findall(r'"(\w+)", "(?:fails|unexpected)", stack', source))
    assert len(ids) >= 11, ids
    docs = (ROOT / "docs" / "update-traps.md").read_text()
    assert sorted(i for i in ids if f"### {i}\n" not in docs) == []
