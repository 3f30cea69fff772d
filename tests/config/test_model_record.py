"""The model record contract: deterministic bytes, round trip, validation naming field and fix."""

from __future__ import annotations

import copy
import json

import pytest

from contract import manifest, model_record
from contract.model_record import ArtifactRef, ModelRecord, RecordError, RegistryRef
from tests.conftest import FIXTURES

CHAMPION = FIXTURES / "manifests" / "champion" / "manifest.json"
CHALLENGER = FIXTURES / "manifests" / "challenger" / "manifest.json"
URI = "s3://xgb-demo-data-bucket-example/models/challenger/published/20261102T090000Z-chall/model.tar.gz"
SHA = "ab" * 32
ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/xgb-demo-models/1"


def champion_record(**changes) -> ModelRecord:
    loaded = manifest.load(CHAMPION)
    assert loaded.model_data is not None
    values = {"variant": "champion", "manifest": loaded,
              "artifact": ArtifactRef(s3_uri=loaded.model_data, size_bytes=1234, sha256=SHA,
                                      etag="0123abcd-1")}
    return ModelRecord(**{**values, **changes})


def challenger_record() -> ModelRecord:
    published = manifest.load(CHALLENGER).with_updates(model_data=URI, artifact=None)
    return ModelRecord(variant="challenger", manifest=published,
                       artifact=ArtifactRef(s3_uri=URI, size_bytes=99, sha256=None, etag="e1"),
                       registry=RegistryRef(ARN, "PendingManualApproval"))


def test_write_then_load_round_trips_with_and_without_registry(tmp_path):
    for record in (champion_record(), challenger_record()):
        path = model_record.write(record, model_record.record_path(record.variant, tmp_path / "models"))
        assert path == tmp_path / "models" / f"{record.variant}.json"
        assert model_record.load(path) == record
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["challenger.json",
                                                                      "champion.json"]


def test_the_file_is_deterministic_and_keys_are_in_a_fixed_order(tmp_path):
    first = model_record.write(champion_record(), tmp_path / "a.json").read_bytes()
    second = model_record.write(champion_record(), tmp_path / "b.json").read_bytes()
    assert first == second and first.endswith(b"}\n") and not first.endswith(b"\n\n")
    data = json.loads(first)
    assert list(data) == ["record_version", "variant", "artifact", "registry", "manifest"]
    assert list(data["artifact"]) == ["s3_uri", "size_bytes", "sha256", "etag"]
    assert data["registry"] is None and data["record_version"] == model_record.RECORD_VERSION
    assert data["manifest"] == manifest.load(CHAMPION).to_dict()
    # Rewriting an unchanged record changes no byte (a clean `git diff models/`).
    model_record.write(model_record.load(tmp_path / "a.json"), tmp_path / "a.json")
    assert (tmp_path / "a.json").read_bytes() == first


def test_record_path_defaults_to_the_models_folder():
    assert str(model_record.record_path("champion")) == "models/champion.json"


def good() -> dict:
    return champion_record().to_dict()


@pytest.mark.parametrize(("change", "field", "problem"), [
    (lambda d: d.update(record_version=2), "record_version", "this tool reads versions 1..1"),
    (lambda d: d.update(record_version="1"), "record_version", "must be a whole number"),
    (lambda d: d.update(variant="has space"), "variant", "is not a SageMaker variant name"),
    (lambda d: d.update(artifact=None), "artifact", "must be an object"),
    (lambda d: d["artifact"].update(s3_uri="http://x/y"), "artifact.s3_uri", "s3://bucket/key"),
    (lambda d: d["artifact"].update(size_bytes=0), "artifact.size_bytes", "whole number of bytes"),
    (lambda d: d["artifact"].update(sha256="XYZ"), "artifact.sha256", "64 lowercase hex digits"),
    (lambda d: d["artifact"].update(etag='"abc"'), "artifact.etag", "without quotes"),
    (lambda d: d["artifact"].update(md5="x"), "artifact.md5", "unknown field"),
    (lambda d: d.update(registry={"model_package_arn": "nope", "approval_status": "Approved"}),
     "registry.model_package_arn", "is not a SageMaker model package ARN"),
    (lambda d: d.update(registry={"model_package_arn": ARN, "approval_status": "Maybe"}),
     "registry.approval_status", "xgbapi refresh-approval"),
    (lambda d: d.update(manifest=[]), "manifest", "must be a JSON object"),
    (lambda d: d["manifest"].pop("image_uri"), "manifest.image_uri", "is missing"),
    (lambda d: d["manifest"].update(model_data=URI), "manifest.model_data",
     "differs from artifact.s3_uri"),
    (lambda d: d["manifest"].update(artifact="model.tar.gz"), "manifest.artifact", "must be null"),
    (lambda d: d.update(created_at="today"), "created_at", "unknown field"),
])
def test_invalid_records_name_the_field_and_the_fix(change, field, problem):
    data = copy.deepcopy(good())
    change(data)
    with pytest.raises(RecordError) as caught:
        model_record.parse(data, "models/champion.json")
    assert caught.value.field == field
    assert problem in caught.value.problem
    assert str(caught.value).startswith(f"models/champion.json: {field}: ")
    assert isinstance(caught.value, ValueError)


def test_load_reports_a_missing_or_malformed_file(tmp_path):
    with pytest.raises(RecordError, match=r"<file>: does not exist; promote the variant first "
                       r"\(xgbapi promote --variant <name>\)"):
        model_record.load(tmp_path / "champion.json")
    (tmp_path / "bad.json").write_text('{"record_version": 1,')
    with pytest.raises(RecordError, match=r"<file>: is not valid JSON \(line 1"):
        model_record.load(tmp_path / "bad.json")
    with pytest.raises(RecordError, match="is a directory"):
        model_record.load(tmp_path)


def test_no_temporary_file_is_left_behind(tmp_path):
    model_record.write(champion_record(), tmp_path / "champion.json")
    assert [p.name for p in tmp_path.iterdir()] == ["champion.json"]
