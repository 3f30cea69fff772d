"""A variant names a run manifest or a committed model record: exactly one, with clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contract import model_record
from contract.config import ConfigError, parse_config
from tests.config.test_model_record import challenger_record, champion_record
from tests.conftest import ROOT

CHAMPION = "tests/fixtures/manifests/champion/manifest.json"
CHALLENGER = "tests/fixtures/manifests/challenger/manifest.json"


def config_with(champion: dict, challenger: dict) -> dict:
    size = {"instance_type": "ml.m5.large", "instance_count": 1}
    return {
        "project": {"prefix": "xgb-test"},
        "variants": [{"name": "champion", "weight": 0.7, **size, **champion},
                     {"name": "challenger", "weight": 0.3, **size, **challenger}],
    }


def problems_of(raw: dict, base_dir: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, source="test.toml", base_dir=base_dir)
    return caught.value.problems


@pytest.fixture
def records(tmp_path: Path) -> Path:
    """models/champion.json and models/challenger.json under tmp_path."""
    for record in (champion_record(), challenger_record()):
        model_record.write(record, model_record.record_path(record.variant, tmp_path / "models"))
    return tmp_path


def test_records_load_with_their_manifest(records):
    raw = config_with({"record": "models/champion.json"}, {"record": "models/challenger.json"})
    config = parse_config(raw, base_dir=records)
    champion, challenger = config.models
    assert champion.record == champion_record() and challenger.record == challenger_record()
    assert champion.manifest == champion_record().manifest
    assert challenger.manifest.model_data == challenger_record().artifact.s3_uri
    assert challenger.artifact_path is None  # served from S3, never from a local file
    assert config.variants[0].record_path == records / "models" / "champion.json"
    assert config.variants[0].manifest_path == config.variants[0].record_path
    assert config.variants[0].uses_record


def test_a_record_and_a_run_manifest_can_be_mixed(records):
    raw = config_with({"record": "models/champion.json"}, {"manifest": str(ROOT / CHALLENGER)})
    config = parse_config(raw, base_dir=records)
    assert config.models[0].record is not None and config.models[1].record is None
    assert config.variants[1].record_path is None and not config.variants[1].uses_record


def test_manifest_and_record_together_are_refused():
    raw = config_with({"manifest": CHAMPION, "record": "models/champion.json"},
                      {"manifest": CHALLENGER})
    assert problems_of(raw, ROOT) == [
        'variants[0]: manifest and record exclude each other; keep record = '
        '"models/<variant>.json" (a promoted model, for deploys) or manifest = '
        '"runs/<variant>/latest/manifest.json" (a local run, for development)']


def test_neither_manifest_nor_record_is_refused():
    raw = config_with({}, {"manifest": CHALLENGER})
    (problem,) = problems_of(raw, ROOT)
    assert problem.startswith('variants[0]: names no model; add record = "models/<variant>.json"')


@pytest.mark.parametrize("value", ["", 3, "models/champion.toml"])
def test_a_record_that_is_not_a_json_path(value):
    raw = config_with({"record": value}, {"manifest": CHALLENGER})
    (problem,) = problems_of(raw, ROOT)
    assert problem.startswith(f"variants[0].record: {value!r} must be the path of the variant's "
                              "model record")


def test_a_missing_record_is_reported_like_a_missing_manifest(records):
    raw = config_with({"record": "models/champion.json"}, {"record": "models/nowhere.json"})
    (problem,) = problems_of(raw, records)
    assert problem.startswith("variants[1].record: ")
    assert problem.endswith("models/nowhere.json: <file>: does not exist; promote the variant "
                            "first (xgbapi promote --variant <name>) or fix the path")


def test_no_record_at_all_means_data_stack_only(tmp_path):
    raw = config_with({"record": "models/champion.json"}, {"record": "models/challenger.json"})
    config = parse_config(raw, base_dir=tmp_path)
    assert config.models == ()
    assert "xgbapi promote --variant <name>" in config.next_steps()


def test_an_invalid_record_names_the_file_and_the_field(records):
    path = records / "models" / "challenger.json"
    data = json.loads(path.read_text())
    data["artifact"]["sha256"] = "not-hex"
    path.write_text(json.dumps(data))
    raw = config_with({"record": "models/champion.json"}, {"record": "models/challenger.json"})
    (problem,) = problems_of(raw, records)
    assert problem.startswith(f"variants[1].record: {path}: artifact.sha256: 'not-hex' must be 64")


def test_a_record_promoted_for_another_variant(records):
    raw = config_with({"record": "models/challenger.json"}, {"record": "models/challenger.json"})
    problems = problems_of(raw, records)
    assert problems == [
        f"variants[0].record: {records / 'models' / 'challenger.json'} was promoted for variant "
        "'challenger', not 'champion'; promote the model for this slot (xgbapi promote --variant "
        "champion --run <run directory>) or fix the path"]


def test_records_with_other_features_load_each_with_its_own_spec(records):
    # The Lambda encodes with the spec of the variant it assigned, so a challenger may read
    # another column than the champion.
    other = challenger_record()
    changed = other.manifest.with_updates(features=[{"name": "f0"}, {"name": "f2"}, {"name": "f9"}])
    model_record.write(model_record.ModelRecord(variant="challenger", manifest=changed,
                                                artifact=other.artifact, registry=other.registry),
                       records / "models" / "challenger.json")
    raw = config_with({"record": "models/champion.json"}, {"record": "models/challenger.json"})
    config = parse_config(raw, base_dir=records)
    assert [spec.field_names for _, _, spec in config.handler_variants] == [
        ("f0", "f1", "f2"), ("f0", "f2", "f9")]
