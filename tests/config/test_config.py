"""Every bad config is refused with a message that names the field and the fix."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest

from contract.config import ConfigError, load_config, parse_config
from tests.conftest import FIXTURES, ROOT

CHAMPION = "tests/fixtures/manifests/champion/manifest.json"
CHALLENGER = "tests/fixtures/manifests/challenger/manifest.json"


def base() -> dict:
    return {
        "project": {"prefix": "xgb-test"},
        "variants": [
            {"name": "champion", "manifest": CHAMPION, "weight": 0.7,
             "instance_type": "ml.m5.large", "instance_count": 1},
            {"name": "challenger", "manifest": CHALLENGER, "weight": 0.3,
             "instance_type": "ml.m5.large", "instance_count": 1},
        ],
    }


def problems_of(raw: dict, base_dir: Path = ROOT) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, source="test.toml", base_dir=base_dir)
    assert "Traceback" not in str(caught.value)
    return caught.value.problems


def only_problem(raw: dict, base_dir: Path = ROOT) -> str:
    problems = problems_of(raw, base_dir)
    assert len(problems) == 1, problems
    return problems[0]


def test_valid_config_loads_into_typed_objects():
    config = parse_config(base(), base_dir=ROOT)
    assert [v.name for v in config.variants] == ["champion", "challenger"]
    assert [m.manifest.source.run_id for m in config.models] == [
        "20261101T120000Z-champ", "20261102T090000Z-chall"]
    assert config.feature_names == ("f0", "f1", "f2")
    assert config.api.auth == "iam" and config.endpoint.volume_kms is True
    assert config.account is None and config.region is None  # environment-agnostic


def test_default_config_file_is_valid():
    config = load_config(ROOT / "config" / "default.toml", base_dir=ROOT / "tests")
    assert [(v.name, v.weight) for v in config.variants] == [("champion", 0.7), ("challenger", 0.3)]


def test_duplicate_variant_names():
    raw = base()
    raw["variants"][1]["name"] = "Champion"
    assert only_problem(raw) == ("variants[1].name: 'Champion' duplicates variants[0]; variant "
                                 "names must be unique (case-insensitive)")


@pytest.mark.parametrize("name", ["has space", "-leading", "trailing-", "a" * 64, "", "under_score"])
def test_names_sagemaker_rejects(name):
    raw = base()
    raw["variants"][0]["name"] = name
    assert only_problem(raw).startswith(f"variants[0].name: {name!r} is not a SageMaker variant name")


def test_unknown_settings_are_typos():
    raw = base()
    raw["variants"][0]["wieght"] = 1
    raw["api"] = {"authentication": "iam"}
    assert problems_of(raw) == [
        "api.authentication: unknown setting; allowed here: allow_unauthenticated, auth, "
        "log_retention_days, throttle_burst_limit, throttle_rate_limit",
        "variants[0].wieght: unknown setting; allowed here: instance_count, instance_type, "
        "manifest, max_instances, min_instances, name, record, serverless, "
        "target_invocations_per_instance, weight",
    ]


def test_more_than_ten_variants():
    raw = base()
    raw["variants"] = [dict(raw["variants"][0], name=f"v{i}") for i in range(11)]
    assert only_problem(raw) == ("variants: 11 variants configured; SageMaker allows at most 10 "
                                 "per endpoint config")


def test_negative_weight():
    raw = base()
    raw["variants"][1]["weight"] = -0.3
    assert only_problem(raw) == ("variants[1].weight: -0.3 must be a number >= 0 (weights are "
                                 "relative shares of traffic)")


def test_all_weights_zero():
    raw = base()
    for variant in raw["variants"]:
        variant["weight"] = 0
    assert only_problem(raw).startswith("variants: every weight is 0, so no variant would receive")


def test_manifest_missing_for_one_variant(tmp_path):
    raw = base()
    raw["variants"][1]["manifest"] = "runs/nowhere/manifest.json"
    message = only_problem(raw)
    assert message.startswith("variants[1].manifest: ")
    assert message.endswith("runs/nowhere/manifest.json: <file>: does not exist; train this "
                            "variant first (make train) or fix the path")


def test_manifest_malformed(tmp_path):
    broken = tmp_path / "manifest.json"
    broken.write_text('{"schema_version": 1,')
    raw = base()
    raw["variants"][1]["manifest"] = str(broken)
    assert "<file>: is not valid JSON (line 1, column 22" in only_problem(raw)


def test_manifest_missing_a_field(tmp_path):
    data = json.loads((ROOT / CHALLENGER).read_text())
    del data["image_uri"]
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    shutil.copy(ROOT / "tests/fixtures/manifests/challenger/model.tar.gz", tmp_path)
    raw = base()
    raw["variants"][1]["manifest"] = str(tmp_path / "manifest.json")
    assert only_problem(raw).endswith(
        "image_uri: is missing; re-run training to write a full manifest")


def test_manifest_from_a_newer_schema(tmp_path):
    data = json.loads((ROOT / CHALLENGER).read_text())
    data["schema_version"] = 3
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    raw = base()
    raw["variants"][1]["manifest"] = str(tmp_path / "manifest.json")
    assert "schema_version: is 3, this tool reads versions 1..2" in only_problem(raw)


@pytest.mark.parametrize("instance_type", ["ml.m5d.large", "ml.g4dn.xlarge", "ml.g5.2xlarge",
                                           "ml.c6id.4xlarge", "ml.p4d.24xlarge"])
def test_kms_volume_key_with_nvme_instance_storage(instance_type):
    raw = base()
    raw["variants"][0]["instance_type"] = instance_type
    assert only_problem(raw) == (
        f"variants[0].instance_type: {instance_type} has NVMe instance storage, which SageMaker "
        "encrypts in hardware and for which it rejects a KMS volume key; pick an EBS-only type "
        "(e.g. ml.m5.large) or set endpoint.volume_kms = false")


def test_nvme_instance_is_fine_without_the_kms_volume_key():
    raw = base()
    raw["variants"][0]["instance_type"] = "ml.g4dn.xlarge"
    raw["endpoint"] = {"volume_kms": False}
    assert parse_config(raw, base_dir=ROOT).variants[0].instance_type == "ml.g4dn.xlarge"


@pytest.mark.parametrize("instance_type", ["m5.large", "ml.m5", "ml.m5.huge", "ML.M5.LARGE", 5])
def test_malformed_instance_types(instance_type):
    raw = base()
    raw["variants"][0]["instance_type"] = instance_type
    assert only_problem(raw) == (
        f"variants[0].instance_type: {instance_type!r} is not a SageMaker instance type; use the "
        "form ml.<family>.<size>, e.g. ml.m5.large")


@pytest.mark.parametrize("count", [0, -1, 1.5, True])
def test_bad_instance_counts(count):
    raw = base()
    raw["variants"][0]["instance_count"] = count
    assert only_problem(raw) == f"variants[0].instance_count: {count!r} must be a whole number >= 1"


def test_auth_none_needs_an_explicit_opt_in():
    raw = base()
    raw["api"] = {"auth": "none"}
    assert only_problem(raw).startswith('api.auth: "none" leaves the prediction API open')
    raw["api"]["allow_unauthenticated"] = True
    assert parse_config(raw, base_dir=ROOT).api.auth == "none"


def test_bad_auth_mode_and_prefix_reported_together():
    raw = base()
    raw["api"] = {"auth": "cognito"}
    raw["project"]["prefix"] = "Bad_Prefix"
    problems = problems_of(raw)
    assert problems[0].startswith("project.prefix: 'Bad_Prefix' must be 2-24 characters")
    assert problems[1] == "api.auth: 'cognito' must be one of iam, api_key, none"


def test_region_must_match_the_models():
    raw = base()
    raw["project"]["region"] = "eu-west-1"
    assert only_problem(raw) == ("project.region: eu-west-1 differs from the models' region "
                                 "us-east-1; retrain for eu-west-1 or deploy to us-east-1")


def test_no_manifest_at_all_means_data_stack_only():
    raw = copy.deepcopy(base())
    for variant in raw["variants"]:
        variant["manifest"] = f"runs/{variant['name']}/latest/manifest.json"
    config = parse_config(raw, base_dir=FIXTURES)
    assert config.models == () and not config.has_models
    assert "make train" in config.next_steps()


def test_missing_and_invalid_toml(tmp_path):
    with pytest.raises(ConfigError, match=r"file not found; copy config/default\.toml"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[project\n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_config(bad)


# --- rollouts, autoscaling, serverless, data capture -----------------------------------------

def guarded(**rollout) -> dict:
    raw = base()
    raw["endpoint"] = {"rollout": {"strategy": "canary", "guardrails": True,
                                   "variant_slots": ["champion", "challenger"], **rollout}}
    return raw


def serverless_only(**endpoint) -> dict:
    raw = base()
    raw["variants"] = [{"name": "champion", "manifest": CHAMPION, "weight": 1,
                        "serverless": {"memory_mb": 2048, "max_concurrency": 20}}]
    raw["endpoint"] = {"volume_kms": False, **endpoint}
    return raw


def test_rollout_autoscaling_and_data_capture_load_into_typed_objects():
    raw = guarded(canary_size="25%", wait_seconds=600, termination_wait_seconds=120)
    raw["endpoint"]["data_capture"] = {"sampling_percentage": 20, "prefix": "data-capture/ab/"}
    raw["variants"][0].update(instance_count=2, min_instances=1, max_instances=4,
                              target_invocations_per_instance=700)
    config = parse_config(raw, base_dir=ROOT)
    rollout = config.endpoint.rollout
    assert (rollout.strategy, str(rollout.canary_size), rollout.canary_size.cfn_type) == (
        "canary", "25%", "CAPACITY_PERCENT")
    assert (rollout.wait_seconds, rollout.termination_wait_seconds, rollout.guardrails) == (600, 120, True)
    scaling = config.variants[0].autoscaling
    assert scaling is not None and (scaling.min_instances, scaling.max_instances) == (1, 4)
    assert config.variants[1].autoscaling is None
    assert config.endpoint.data_capture is not None
    assert config.endpoint.data_capture.sampling_percentage == 20


def test_a_single_serverless_variant_loads():
    config = parse_config(serverless_only(), base_dir=ROOT)
    (variant,) = config.variants
    assert variant.serverless is not None and variant.serverless.memory_mb == 2048
    assert variant.instance_type is None and variant.instance_count is None


def test_unknown_rollout_strategy():
    raw = guarded(strategy="blue_green")
    assert only_problem(raw) == ("endpoint.rollout.strategy: 'blue_green' must be one of all_at_once, "
                                 "canary, linear, none")


def test_guardrails_need_a_deployment_policy():
    assert only_problem(guarded(strategy="none")) == (
        'endpoint.rollout.guardrails: auto-rollback is part of a blue/green deployment policy, '
        'which strategy = "none" leaves out; set guardrails = false for that deploy, or pick '
        'all_at_once, canary or linear')


def test_canary_over_half_the_fleet():
    assert only_problem(guarded(canary_size="60%")) == (
        "endpoint.rollout.canary_size: 60% is over SageMaker's limit; a canary is at most 50% of the "
        "new fleet")


def test_canary_in_instances_over_half_the_smallest_variant():
    assert only_problem(guarded(canary_size=1)) == (
        "endpoint.rollout.canary_size: 1 instance(s) is more than 50% of the smallest variant's 1 "
        'instance(s), SageMaker\'s canary limit; use a percentage like "10%" or more instances')


@pytest.mark.parametrize("size", ["5%", "60%"])
def test_linear_step_outside_ten_to_fifty_percent(size):
    assert only_problem(guarded(strategy="linear", linear_step_size=size)) == (
        f"endpoint.rollout.linear_step_size: {size} is outside SageMaker's limits; each linear step "
        "is 10-50% of the new fleet")


def test_linear_step_in_instances_outside_the_limits():
    assert only_problem(guarded(strategy="linear", linear_step_size=2)).startswith(
        "endpoint.rollout.linear_step_size: 2 instance(s) must be 10-50% of every variant's "
        "instances (1-1)")


def test_malformed_step_size():
    assert only_problem(guarded(canary_size="half")) == (
        "endpoint.rollout.canary_size: 'half' must be a percentage of the new fleet like \"20%\" or a "
        "whole number of instances like 1")


def test_step_size_for_another_strategy():
    assert only_problem(guarded(linear_step_size="20%")) == (
        'endpoint.rollout.linear_step_size: only applies to strategy = "linear"; remove it or set '
        "the strategy")


@pytest.mark.parametrize(("key", "value", "limits"), [
    ("wait_seconds", 3601, "0-3600"), ("max_execution_seconds", 300, "600-28800"),
    ("termination_wait_seconds", -1, "0-3600")])
def test_rollout_timings_outside_sagemaker_limits(key, value, limits):
    assert only_problem(guarded(**{key: value})) == (
        f"endpoint.rollout.{key}: {value!r} must be a whole number of seconds in {limits} "
        "(SageMaker's limit)")


def test_guardrails_need_the_recorded_variant_slots():
    raw = guarded()
    del raw["endpoint"]["rollout"]["variant_slots"]
    assert only_problem(raw) == (
        "endpoint.rollout.variant_slots: guardrails are on, so record the deployed variant names: "
        'add variant_slots = ["champion", "challenger"] to [endpoint.rollout] and commit it')


def test_renaming_a_variant_while_guardrails_are_on():
    raw = guarded()
    raw["variants"][1]["name"] = "challenger-v2"
    assert only_problem(raw) == (
        'variants: names ["champion", "challenger-v2"] differ from endpoint.rollout.variant_slots '
        '["champion", "challenger"] (added ["challenger-v2"], removed ["challenger"]); a guarded '
        "blue/green rollout must keep the deployed variant names (they are slots: put the new model "
        "in an existing slot via its manifest). To add, remove or rename a variant, deploy that "
        'change with strategy = "none" and guardrails = false (a blue/green update must keep the '
        "variant names), then set variant_slots to the new names and restore the strategy and "
        "guardrails")


def test_renaming_is_allowed_with_guardrails_off():
    raw = guarded(guardrails=False)
    raw["variants"][1]["name"] = "challenger-v2"
    assert parse_config(raw, base_dir=ROOT).variants[1].name == "challenger-v2"


def test_guardrails_with_more_alarms_than_sagemaker_watches():
    raw = guarded()
    raw["variants"] = [dict(raw["variants"][0], name=f"v{i}") for i in range(6)]
    raw["endpoint"]["rollout"]["variant_slots"] = [f"v{i}" for i in range(6)]
    assert only_problem(raw) == (
        "endpoint.rollout.guardrails: 6 variants need 12 rollback alarms; SageMaker watches at most "
        "10; use at most 5 variants or guardrails = false")


def test_bad_alarm_thresholds():
    problems = problems_of(guarded(alarm_5xx_errors=0, alarm_model_latency_ms=90000))
    assert problems == [
        "endpoint.rollout.alarm_5xx_errors: 0 must be a whole number >= 1 (5XX errors per minute "
        "that trip the rollback alarm)",
        "endpoint.rollout.alarm_model_latency_ms: 90000 must be a number of milliseconds in "
        "(0, 60000] (the container must answer within 60 s)",
    ]


def test_autoscaling_without_a_target():
    raw = base()
    raw["variants"][0]["max_instances"] = 3
    assert only_problem(raw) == (
        "variants[0].target_invocations_per_instance: autoscaling needs max_instances and "
        "target_invocations_per_instance (min_instances defaults to 1); set it")


def test_instance_count_outside_the_autoscaling_range():
    raw = base()
    raw["variants"][0].update(instance_count=5, max_instances=3, target_invocations_per_instance=100)
    assert only_problem(raw) == (
        "variants[0]: instance_count 5 must lie within min_instances 1 and max_instances 3; it is the "
        "count the variant starts with")


def test_bad_autoscaling_numbers():
    raw = base()
    raw["variants"][0].update(min_instances=0, max_instances=2, target_invocations_per_instance=-5)
    assert problems_of(raw) == [
        "variants[0].min_instances: 0 must be a whole number >= 1",
        "variants[0].target_invocations_per_instance: -5 must be a number > 0 (invocations per "
        "instance per minute)",
    ]


def test_serverless_with_instance_settings():
    raw = serverless_only()
    raw["variants"][0].update(instance_type="ml.m5.large", max_instances=2)
    assert only_problem(raw) == (
        "variants[0]: serverless and instance_type, max_instances exclude each other (a serverless "
        "variant has no instances to size or autoscale); remove one or the other")


@pytest.mark.parametrize("memory", [512, 1500, 8192])
def test_serverless_memory_outside_sagemaker_steps(memory):
    raw = serverless_only()
    raw["variants"][0]["serverless"]["memory_mb"] = memory
    assert only_problem(raw) == (
        f"variants[0].serverless.memory_mb: {memory} must be one of 1024, 2048, 3072, 4096, 5120, "
        "6144 (SageMaker's 1 GB steps)")


@pytest.mark.parametrize("concurrency", [0, 201])
def test_serverless_concurrency_outside_limits(concurrency):
    raw = serverless_only()
    raw["variants"][0]["serverless"]["max_concurrency"] = concurrency
    assert only_problem(raw) == (
        f"variants[0].serverless.max_concurrency: {concurrency} must be a whole number in 1-200")


def test_serverless_with_the_kms_volume_key():
    raw = serverless_only()
    del raw["endpoint"]["volume_kms"]
    assert only_problem(raw) == (
        "endpoint.volume_kms: SageMaker rejects a KMS volume key (KmsKeyId) for an endpoint config of "
        "serverless variants (champion); set endpoint.volume_kms = false (serverless storage is "
        "AWS-managed)")


def test_serverless_in_a_multi_variant_endpoint():
    raw = serverless_only()
    raw["variants"].append(base()["variants"][1])
    assert only_problem(raw) == (
        "variants: champion is serverless, and SageMaker does not support multiple production variants "
        "on a serverless endpoint; use one serverless variant, or instance variants for an A/B test")


def test_serverless_with_data_capture():
    raw = serverless_only(data_capture={"sampling_percentage": 10})
    assert only_problem(raw) == (
        "endpoint.data_capture: SageMaker does not support data capture on serverless endpoints "
        "(champion); remove [endpoint.data_capture] or use an instance variant")


def test_serverless_with_an_instance_count_canary():
    raw = serverless_only(rollout={"strategy": "canary", "canary_size": 1})
    assert only_problem(raw) == (
        "endpoint.rollout: a canary step of 1 instance(s) cannot apply to serverless variants "
        '(champion), which have no instances; give the step as a percentage like "20%" or use '
        'strategy = "all_at_once"')


@pytest.mark.parametrize("sampling", [-1, 101, 12.5])
def test_data_capture_sampling_outside_zero_to_hundred(sampling):
    raw = base()
    raw["endpoint"] = {"data_capture": {"sampling_percentage": sampling}}
    assert only_problem(raw) == (
        f"endpoint.data_capture.sampling_percentage: {sampling!r} must be a whole number in 0-100")


@pytest.mark.parametrize("prefix", ["captures/", "data-capture", "data-capture//x/", "/data-capture/"])
def test_data_capture_prefix_outside_the_role_prefix(prefix):
    raw = base()
    raw["endpoint"] = {"data_capture": {"prefix": prefix}}
    assert only_problem(raw) == (
        f"endpoint.data_capture.prefix: {prefix!r} must be a key prefix under data-capture/ of the "
        'data bucket ending in /, e.g. "data-capture/" (the execution role may write only there)')


RAW_FEATURES = [
    {"name": "size", "type": "numeric"},
    {"name": "island", "type": "categorical", "categories": ["Biscoe", "Dream"], "unseen": "other"},
    {"name": "review", "type": "text", "tokenizer": "words-1", "values": "counts",
     "stop_words": False, "max_chars": 20000, "vocabulary": ["good", "bad"]},
]


def _raw_manifest(directory: Path, source: str, **changes: object) -> str:
    data = {**json.loads((ROOT / source).read_text()), "schema_version": 2,
            "input_format": "libsvm", "features": RAW_FEATURES, **changes}
    directory.mkdir(parents=True)
    (directory / "manifest.json").write_text(json.dumps(data))
    shutil.copy(ROOT / "tests/fixtures/manifests/challenger/model.tar.gz", directory)
    return str(directory / "manifest.json")


@pytest.mark.parametrize("changes", [
    {"input_format": "csv"},
    {"features": [RAW_FEATURES[0], {**RAW_FEATURES[1], "categories": ["Dream", "Biscoe"]},
                  RAW_FEATURES[2]]},
    {"features": [*RAW_FEATURES[:2], {**RAW_FEATURES[2], "vocabulary": ["good"]}]},
    {"features": [*RAW_FEATURES, {"name": "extra", "type": "numeric"}]},
])
def test_variants_whose_input_specs_differ_load_and_get_a_spec_file_each(tmp_path, changes):
    from contract.names import HandlerEnv, handler_setup

    raw = base()
    raw["variants"][0]["manifest"] = _raw_manifest(tmp_path / "a", CHAMPION)
    raw["variants"][1]["manifest"] = _raw_manifest(tmp_path / "b", CHALLENGER, **changes)
    config = parse_config(raw, base_dir=ROOT)
    (champion, _, spec_a), (challenger, _, spec_b) = config.handler_variants
    assert spec_a != spec_b
    environment, files = handler_setup("ep", config.handler_variants)
    assert json.loads(environment[HandlerEnv.VARIANTS]) == [
        {"name": champion, "weight": 0.7, "spec": "input_spec.champion.json"},
        {"name": challenger, "weight": 0.3, "spec": "input_spec.challenger.json"}]
    assert HandlerEnv.INPUT_SPEC_FILE not in environment
    assert files == {"input_spec.champion.json": spec_a.to_json(),
                     "input_spec.challenger.json": spec_b.to_json()}


def test_variants_with_the_same_raw_spec_load(tmp_path):
    raw = base()
    raw["variants"][0]["manifest"] = _raw_manifest(tmp_path / "a", CHAMPION)
    raw["variants"][1]["manifest"] = _raw_manifest(tmp_path / "b", CHALLENGER)
    config = parse_config(raw, base_dir=ROOT)
    assert config.input_spec is not None and config.input_spec.format == "libsvm"
    assert [f.kind for f in config.input_spec.fields] == ["numeric", "categorical", "text"]
