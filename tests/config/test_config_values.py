"""What a valid config loads into, value by value, and the edges of every accepted range.

test_refusals.py holds one case per refusal; these are the other side of each check: the
largest and smallest values that still load, the typed objects they load into, and the
problems that are reported together.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from contract.config import (
    ApiSettings,
    AutoscalingSettings,
    ConfigError,
    DataCaptureSettings,
    RolloutSettings,
    ServerlessSettings,
    StepSize,
    load_config,
    parse_config,
)
from tests.config.test_refusals import (
    ARTIFACT,
    CHALLENGER,
    base,
    guarded,
    serverless,
    with_records,
)
from tests.conftest import ROOT, TEST_CONFIG


def load(raw: dict[str, Any], **kwargs: Any):
    return parse_config(raw, source="test.toml", base_dir=ROOT, **kwargs)


def problems(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(raw)
    return caught.value.problems


def changed(raw: dict[str, Any], **tables: dict[str, Any]) -> dict[str, Any]:
    raw = copy.deepcopy(raw)
    for name, values in tables.items():
        if name == "rollout":
            raw.setdefault("endpoint", {}).setdefault("rollout", {}).update(values)
        elif name.startswith("variant"):
            raw["variants"][int(name[-1])].update(values)
        else:
            raw.setdefault(name, {}).update(values)
    return raw


# --- the typed objects ---------------------------------------------------------------------

def test_every_setting_reaches_its_typed_object():
    raw = changed(guarded(), project={"account": "123456789012", "region": "us-east-1"},
                  api={"auth": "api_key", "throttle_rate_limit": 5, "throttle_burst_limit": 10,
                       "log_retention_days": 30},
                  rollout={"canary_size": 1, "wait_seconds": 60, "max_execution_seconds": 1200,
                           "termination_wait_seconds": 30, "alarm_5xx_errors": 3,
                           "alarm_model_latency_ms": 250},
                  variant0={"instance_count": 2, "min_instances": 2, "max_instances": 4,
                            "target_invocations_per_instance": 100},
                  variant1={"instance_count": 2})
    raw["endpoint"]["data_capture"] = {"sampling_percentage": 0, "prefix": "data-capture/Model-A/",
                                       "kms": False}
    config = load(raw)
    assert (config.source, config.prefix, config.account, config.region) == (
        "test.toml", "xgb-test", "123456789012", "us-east-1")
    assert config.api == ApiSettings(auth="api_key", throttle_rate_limit=5.0, throttle_burst_limit=10,
                                     log_retention_days=30)
    assert config.endpoint.rollout == RolloutSettings(
        strategy="canary", canary_size=StepSize("instances", 1), wait_seconds=60,
        max_execution_seconds=1200, termination_wait_seconds=30, guardrails=True,
        variant_slots=("champion", "challenger"), alarm_5xx_errors=3, alarm_model_latency_ms=250.0)
    assert config.endpoint.data_capture == DataCaptureSettings(
        sampling_percentage=0, prefix="data-capture/Model-A/", kms=False)
    assert config.variants[0].autoscaling == AutoscalingSettings(2, 4, 100.0)
    assert config.stack_name("api") == "xgb-test-api" and config.endpoint_name == "xgb-test-endpoint"
    assert config.model_region == "us-east-1"


def test_defaults_of_a_minimal_variant_and_of_a_serverless_one():
    raw = base()
    for key in ("instance_type", "instance_count"):
        del raw["variants"][0][key]
    variant = load(raw).variants[0]
    assert (variant.instance_type, variant.instance_count, variant.autoscaling, variant.serverless) == (
        "ml.m5.large", 1, None, None)
    (only,) = load(serverless()).variants
    assert only.serverless == ServerlessSettings(memory_mb=2048, max_concurrency=20)
    assert (only.instance_type, only.instance_count, only.autoscaling) == (None, None, None)


def test_load_config_resolves_the_models_against_base_dir(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # base_dir, not the current directory
    config = load_config(TEST_CONFIG, base_dir=ROOT)
    assert config.source == str(TEST_CONFIG)
    assert [m.manifest.source.run_id for m in config.models] == [
        "20261101T120000Z-champ", "20261102T090000Z-chall"]
    monkeypatch.chdir(ROOT)  # no base_dir: the current directory
    assert len(load_config(TEST_CONFIG).models) == 2
    assert load_config(TEST_CONFIG, base_dir=ROOT, resolve_models=False).models == ()
    assert parse_config(json.loads(json.dumps(base())), base_dir=ROOT,
                        resolve_models=False).models == ()
    assert parse_config(base(), base_dir=ROOT).source == "<config>"


def test_the_error_lists_every_problem_under_the_file_name(tmp_path):
    path = tmp_path / "deploy.toml"
    path.write_text('[project]\nprefix = "Bad"\naccount = "1"\n[[variants]]\nname = "a b"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.source == str(path)
    assert str(caught.value) == (
        f"{path} is not a valid deployment config:\n"
        "  - project.prefix: 'Bad' must be 2-24 characters of lowercase letters, digits and hyphens, "
        "starting with a letter (it names stacks and the endpoint)\n"
        "  - project.account: '1' must be a 12-digit AWS account id as a string, or left out for an "
        "environment-agnostic app\n"
        "  - variants[0].name: 'a b' is not a SageMaker variant name: 1-63 letters, digits and single "
        "hyphens, starting and ending alphanumeric\n"
        "  - variants[0]: names no model; add record = \"models/<variant>.json\" (a promoted model, "
        "written by xgbapi promote) or manifest = \"runs/<variant>/latest/manifest.json\" (a local run)\n"
        "  - variants[0].weight: None must be a number >= 0 (weights are relative shares of traffic)")
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as caught:
        load_config(missing)
    assert caught.value.source == str(missing) and str(caught.value).startswith(f"{missing} is not")
    bad = tmp_path / "bad.toml"
    bad.write_text("[project\n")
    with pytest.raises(ConfigError) as caught:
        load_config(bad)
    assert caught.value.source == str(bad)


def test_next_steps_without_trained_models(tmp_path):
    raw = base()
    for variant in raw["variants"]:
        variant["manifest"] = f"runs/{variant['name']}/latest/manifest.json"
    config = parse_config(raw, base_dir=tmp_path)
    assert config.models == () and config.feature_names == () and config.input_spec is None
    assert config.model_region is None
    assert config.next_steps() == (
        f"No trained model found ({tmp_path}/runs/champion/latest/manifest.json, "
        f"{tmp_path}/runs/challenger/latest/manifest.json). Synthesized the Data stack only. Next: "
        "deploy it (make deploy), train the variants (make train), then synthesize again.")
    records = with_records()(tmp_path)
    for variant in records["variants"]:
        variant["record"] = variant["record"].replace("/models/", "/elsewhere/")
    assert parse_config(records, base_dir=ROOT).next_steps() == (
        f"No model record found ({tmp_path}/elsewhere/champion.json, {tmp_path}/elsewhere/challenger.json). "
        "Synthesized the Data stack only. Next: deploy it (make deploy), train the variants (make train), "
        "promote each (xgbapi promote --variant <name>), commit models/, then synthesize again.")


# --- the edges of each accepted range ---------------------------------------------------------

@pytest.mark.parametrize(("table", "values"), [
    ("api", {"throttle_rate_limit": 0.5}), ("api", {"throttle_rate_limit": 10000}),
    ("api", {"throttle_burst_limit": 1}), ("api", {"throttle_burst_limit": 5000}),
    ("rollout", {"alarm_model_latency_ms": 0.5}), ("rollout", {"alarm_model_latency_ms": 60000}),
    ("rollout", {"alarm_5xx_errors": 1}),
    ("rollout", {"strategy": "canary", "canary_size": "1%"}),
    ("rollout", {"strategy": "canary", "canary_size": "50%"}),
    ("rollout", {"strategy": "linear", "linear_step_size": "10%"}),
    ("rollout", {"strategy": "linear", "linear_step_size": "50%"}),
    ("rollout", {"wait_seconds": 0}), ("rollout", {"wait_seconds": 3600}),
    ("rollout", {"max_execution_seconds": 600}), ("rollout", {"max_execution_seconds": 28800}),
    ("data_capture", {"sampling_percentage": 0}), ("data_capture", {"sampling_percentage": 100}),
])
def test_values_at_the_edge_of_their_range_load(table, values):
    raw = changed(base(), **{table if table != "data_capture" else "endpoint": (
        {"data_capture": values} if table == "data_capture" else values)})
    config = load(raw)
    settings = {"api": config.api, "rollout": config.endpoint.rollout,
                "data_capture": config.endpoint.data_capture}[table]
    for key, value in values.items():
        loaded = getattr(settings, key)
        assert (str(loaded) if isinstance(loaded, StepSize) else loaded) == value


@pytest.mark.parametrize(("table", "values", "field"), [
    ("api", {"throttle_rate_limit": 10001}, "api.throttle_rate_limit"),
    ("api", {"throttle_burst_limit": True}, "api.throttle_burst_limit"),
    ("api", {"throttle_burst_limit": 0}, "api.throttle_burst_limit"),
    ("rollout", {"alarm_model_latency_ms": 0}, "endpoint.rollout.alarm_model_latency_ms"),
    ("rollout", {"alarm_model_latency_ms": 60001}, "endpoint.rollout.alarm_model_latency_ms"),
    ("rollout", {"alarm_model_latency_ms": float("nan")}, "endpoint.rollout.alarm_model_latency_ms"),
    ("rollout", {"alarm_model_latency_ms": "500"}, "endpoint.rollout.alarm_model_latency_ms"),
    ("rollout", {"strategy": "canary", "canary_size": "0%"}, "endpoint.rollout.canary_size"),
    ("rollout", {"strategy": "canary", "canary_size": "51%"}, "endpoint.rollout.canary_size"),
    ("rollout", {"strategy": "linear", "linear_step_size": "9%"}, "endpoint.rollout.linear_step_size"),
    ("rollout", {"strategy": "linear", "linear_step_size": "51%"}, "endpoint.rollout.linear_step_size"),
    ("rollout", {"wait_seconds": 3601}, "endpoint.rollout.wait_seconds"),
    ("rollout", {"wait_seconds": True}, "endpoint.rollout.wait_seconds"),
])
def test_values_just_outside_their_range_are_refused(table, values, field):
    (problem,) = problems(changed(base(), **{table: values}))
    assert problem.startswith(f"{field}: ")


@pytest.mark.parametrize("weight", ["0.5", True, float("inf")])
def test_a_weight_that_is_not_a_finite_number(weight):
    raw = base()
    raw["variants"][0]["weight"] = weight
    assert problems(raw) == [f"variants[0].weight: {weight!r} must be a number >= 0 (weights are "
                             "relative shares of traffic)"]


def test_ten_variants_and_five_guarded_variants_load():
    raw = base()
    raw["variants"] = [dict(raw["variants"][0], name=f"v{i}") for i in range(10)]
    assert len(load(raw).variants) == 10
    raw = guarded()
    raw["variants"] = [dict(base()["variants"][0], name=f"v{i}") for i in range(5)]
    raw["endpoint"]["rollout"]["variant_slots"] = [f"v{i}" for i in range(5)]
    assert len(load(raw).variants) == 5  # 10 rollback alarms: SageMaker's limit, not over it


def test_instance_canary_and_linear_steps_at_their_limits():
    # canary <= half the smallest variant: 2 of 4 loads, 3 of 4 or 2 of 3 does not
    raw = changed(guarded(), rollout={"canary_size": 2}, variant0={"instance_count": 4},
                  variant1={"instance_count": 4})
    assert load(raw).endpoint.rollout.canary_size == StepSize("instances", 2)
    assert problems(changed(raw, rollout={"canary_size": 3}))[0].startswith(
        "endpoint.rollout.canary_size: 3 instance(s) is more than 50%")
    assert problems(changed(raw, variant1={"instance_count": 3}))[0].startswith(
        "endpoint.rollout.canary_size: 2 instance(s) is more than 50% of the smallest variant's 3")
    # linear: 10-50% of every variant: 1 of 2..10 loads, 1 of 11 or 1 of 1 does not
    raw = changed(guarded(), rollout={"strategy": "linear", "linear_step_size": 1},
                  variant0={"instance_count": 2}, variant1={"instance_count": 10})
    assert load(raw).endpoint.rollout.linear_step_size == StepSize("instances", 1)
    for counts in ((2, 11), (1, 10)):
        assert problems(changed(raw, variant0={"instance_count": counts[0]},
                                variant1={"instance_count": counts[1]}))[0].startswith(
            f"endpoint.rollout.linear_step_size: 1 instance(s) must be 10-50% of every variant's "
            f"instances ({counts[0]}-{counts[1]})")


def test_serverless_limits_and_steps():
    for concurrency in (1, 200):
        raw = changed(serverless(), variant0={"serverless": {"memory_mb": 6144,
                                                              "max_concurrency": concurrency}})
        assert load(raw).variants[0].serverless == ServerlessSettings(6144, concurrency)
    raw = changed(serverless(), rollout={"strategy": "linear", "linear_step_size": 1})
    assert problems(raw) == [
        "endpoint.rollout: a linear step of 1 instance(s) cannot apply to serverless variants "
        '(champion), which have no instances; give the step as a percentage like "20%" or use '
        'strategy = "all_at_once"']
    raw = changed(serverless(), rollout={"strategy": "linear", "linear_step_size": "20%"})
    assert load(raw).endpoint.rollout.linear_step_size == StepSize("percent", 20)
    two = serverless()
    two["variants"].append(dict(two["variants"][0], name="challenger"))
    assert problems(two) == [
        "variants: champion, challenger is serverless, and SageMaker does not support multiple "
        "production variants on a serverless endpoint; use one serverless variant, or instance "
        "variants for an A/B test"]
    raw = serverless()
    raw["variants"][0]["target_invocations_per_instance"] = 100
    assert problems(raw)[0] == (
        "variants[0]: serverless and target_invocations_per_instance exclude each other (a serverless "
        "variant has no instances to size or autoscale); remove one or the other")
    raw["variants"][0] = dict(serverless()["variants"][0], min_instances=1)
    assert problems(raw)[0].startswith("variants[0]: serverless and min_instances exclude each other")
    raw["variants"][0]["serverless"] = {"memory_mb": 2048, "max_concurrency": 20, "cpus": 2}
    assert "variants[0].serverless.cpus: unknown setting; allowed here: max_concurrency, memory_mb" in \
        problems(raw)


def test_autoscaling_edges():
    one = changed(base(), variant0={"min_instances": 1, "max_instances": 1,
                                    "target_invocations_per_instance": 100})
    assert load(one).variants[0].autoscaling == AutoscalingSettings(1, 1, 100.0)
    # Any one autoscaling key turns it on, and the others are then required.
    only_min = changed(base(), variant0={"min_instances": 1})
    assert problems(only_min) == [
        f"variants[0].{key}: autoscaling needs max_instances and target_invocations_per_instance "
        "(min_instances defaults to 1); set it"
        for key in ("max_instances", "target_invocations_per_instance")]
    only_target = changed(base(), variant0={"target_invocations_per_instance": 100})
    assert problems(only_target) == [
        "variants[0].max_instances: autoscaling needs max_instances and target_invocations_per_instance "
        "(min_instances defaults to 1); set it"]
    assert problems(changed(base(), variant0={"max_instances": 1, "target_invocations_per_instance": 1,
                                             "instance_count": 2})) == [
        "variants[0]: instance_count 2 must lie within min_instances 1 and max_instances 1; it is the "
        "count the variant starts with"]


def test_data_capture_prefix_may_hold_capitals_digits_and_safe_punctuation():
    raw = changed(base(), endpoint={"data_capture": {"prefix": "data-capture/Model_A.v2(b)/"}})
    assert load(raw).endpoint.data_capture.prefix == "data-capture/Model_A.v2(b)/"


# --- problems reported together ------------------------------------------------------------

def test_tables_that_are_not_tables_and_unknown_keys_everywhere():
    raw = {"project": "x", "endpoint": {"rollout": 5, "data_capture": [1]}, "variants": base()["variants"]}
    assert problems(raw) == [
        "project: must be a table ([project])",
        "project.prefix: None must be 2-24 characters of lowercase letters, digits and hyphens, "
        "starting with a letter (it names stacks and the endpoint)",
        "endpoint.rollout: must be a table ([endpoint.rollout])",
        "endpoint.data_capture: must be a table ([endpoint.data_capture])",
    ]
    assert problems({**base(), "endpoint": "on"}) == ["endpoint: must be a table ([endpoint])"]
    raw = changed(base(), endpoint={"kms": True, "rollout": {"speed": 1}, "data_capture": {"bucket": "b"}})
    raw["extra"] = 1
    assert problems(raw) == [
        "<top level>.extra: unknown setting; allowed here: api, endpoint, project, variants",
        "endpoint.kms: unknown setting; allowed here: data_capture, require_approved_models, rollout, "
        "volume_kms",
        "endpoint.rollout.speed: unknown setting; allowed here: alarm_5xx_errors, alarm_model_latency_ms, "
        "canary_size, guardrails, linear_step_size, max_execution_seconds, strategy, "
        "termination_wait_seconds, variant_slots, wait_seconds",
        "endpoint.data_capture.bucket: unknown setting; allowed here: kms, prefix, sampling_percentage",
    ]


def test_a_refused_volume_kms_still_checks_nvme_types_as_with_the_key():
    raw = changed(base(), endpoint={"volume_kms": "yes"}, variant0={"instance_type": "ml.g4dn.xlarge"})
    assert [p.split(":")[0] for p in problems(raw)] == ["endpoint.volume_kms", "variants[0].instance_type"]


def test_every_bad_variant_is_reported_and_a_partial_list_skips_the_slot_check():
    raw = guarded()
    raw["variants"] = ["champion", dict(base()["variants"][1], name="bad name")]
    assert [p.split(":")[0] for p in problems(raw)] == ["variants[0]", "variants[1].name"]
    raw = guarded()
    raw["variants"][1]["weight"] = -1
    assert [p.split(":")[0] for p in problems(raw)] == ["variants[1].weight"]


def test_canary_and_linear_keys_for_the_other_strategy():
    raw = changed(guarded(), rollout={"strategy": "linear", "canary_size": "10%"})
    assert problems(raw) == ['endpoint.rollout.canary_size: only applies to strategy = "canary"; remove '
                             "it or set the strategy"]


def test_every_unreadable_record_and_manifest_is_reported(tmp_path):
    raw = with_records(champion={"record": "models/a.json"}, challenger={"record": "models/b.json"})(tmp_path)
    raw["variants"][0]["record"] = str(tmp_path / "models" / "champion.json")  # one exists: resolve
    raw["variants"].append(dict(raw["variants"][1], name="third"))
    assert [p.split(":")[0] for p in problems(raw)] == ["variants[1].record", "variants[2].record"]
    raw = base()
    raw["variants"][0]["manifest"] = "runs/a/manifest.json"
    raw["variants"].append(dict(raw["variants"][0], name="third"))
    raw["variants"][1]["manifest"] = CHALLENGER
    assert [p.split(":")[0] for p in problems(raw)] == ["variants[0].manifest", "variants[2].manifest"]


def test_records_trained_for_another_region(tmp_path):
    raw = with_records()(tmp_path)
    path = Path(raw["variants"][1]["record"])
    data = json.loads(path.read_text())
    data["manifest"]["region"] = "eu-west-1"
    data["manifest"]["image_uri"] = "683313688378.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:3.0-5"
    data["manifest"]["model_data"] = data["artifact"]["s3_uri"]
    path.write_text(json.dumps(data))
    assert problems(raw) == [
        "variants[1].record: trained for region eu-west-1 but champion for us-east-1; an endpoint "
        "serves images and model data from its own region only"]


def test_the_lambda_environment_limit_is_4096_bytes(tmp_path):
    """The message's size is the measure: a feature list of exactly 4096 bytes loads, one more
    byte is refused."""
    def config_with(last: str) -> dict[str, Any]:
        features = [{"name": f"feature_{i:03d}_" + "x" * 90} for i in range(35)] + [{"name": last}]
        raw = base()
        for index in (0, 1):
            directory = tmp_path / f"{len(last)}-{index}"
            directory.mkdir(exist_ok=True)
            data = {**json.loads((ROOT / CHALLENGER).read_text()), "features": features}
            (directory / "manifest.json").write_text(json.dumps(data))
            shutil.copy(ARTIFACT, directory)
            raw["variants"][index]["manifest"] = str(directory / "manifest.json")
        return raw

    (problem,) = problems(config_with("y" * 100))
    size = int(problem.split("about ")[1].split(" bytes")[0])
    assert size > 4096
    fits = "y" * (100 - (size - 4096))
    assert len(load(config_with(fits)).feature_names) == 36
    (problem,) = problems(config_with(fits + "y"))
    assert "needs about 4097 bytes of Lambda environment, over Lambda's 4096-byte limit" in problem


def test_a_malformed_linear_step_and_two_records_for_other_variants(tmp_path):
    raw = changed(guarded(), rollout={"strategy": "linear", "linear_step_size": "half"})
    assert problems(raw) == ['endpoint.rollout.linear_step_size: \'half\' must be a percentage of the new '
                             'fleet like "20%" or a whole number of instances like 1']
    swapped = with_records()(tmp_path)
    first, second = (v["record"] for v in swapped["variants"])
    swapped["variants"][0]["record"], swapped["variants"][1]["record"] = second, first
    assert [p.split(" was promoted")[0] for p in problems(swapped)] == [
        f"variants[0].record: {second}", f"variants[1].record: {first}"]


def test_a_problem_with_the_models_names_the_config_too(tmp_path):
    raw = changed(base(), project={"region": "eu-west-1"})
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, source="deploy.toml", base_dir=ROOT)
    assert caught.value.source == "deploy.toml" and str(caught.value).startswith("deploy.toml is not")
