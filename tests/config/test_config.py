"""Every bad config is refused with a message that names the field and the fix."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest

from stacks.config import ConfigError, load_config, parse_config
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
        "manifest, name, weight",
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
    data["schema_version"] = 2
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    raw = base()
    raw["variants"][1]["manifest"] = str(tmp_path / "manifest.json")
    assert "schema_version: is 2, this tool reads versions 1..1" in only_problem(raw)


def test_variants_whose_features_differ(tmp_path):
    data = json.loads((ROOT / CHALLENGER).read_text())
    data["features"] = [{"name": "f0"}, {"name": "f2"}, {"name": "f1"}]
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    shutil.copy(ROOT / "tests/fixtures/manifests/challenger/model.tar.gz", tmp_path)
    raw = base()
    raw["variants"][1]["manifest"] = str(tmp_path / "manifest.json")
    assert only_problem(raw) == (
        "variants[1].manifest: features ['f0', 'f2', 'f1'] differ from champion's ['f0', 'f1', "
        "'f2']; one Lambda serializes requests for every variant, so train all variants on the "
        "same features in the same order")


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
