"""The manifest contract: round trip, validation messages, schema evolution guard."""

import json

import pytest

from contract import manifest
from contract.manifest import ManifestError
from tests.conftest import FIXTURES

CHAMPION = FIXTURES / "manifests" / "champion" / "manifest.json"
CHALLENGER = FIXTURES / "manifests" / "challenger" / "manifest.json"


def test_fixture_manifests_load():
    champion = manifest.load(CHAMPION)
    assert champion.feature_names == ("f0", "f1", "f2")
    assert champion.source.kind == "sagemaker-training" and champion.model_data.startswith("s3://")
    challenger = manifest.load(CHALLENGER.parent)  # a run directory works too
    assert manifest.artifact_path(challenger, CHALLENGER) == CHALLENGER.parent / "model.tar.gz"


def test_write_then_load_round_trips(tmp_path):
    original = manifest.load(CHALLENGER)
    updated = original.with_updates(metrics={"rmse": 1.5, "r2": 0.4})
    path = manifest.write(updated, tmp_path / "run")
    assert manifest.load(path) == updated
    assert list(json.loads(path.read_text()))[:2] == ["schema_version", "source"]
    assert [p.name for p in path.parent.iterdir()] == ["manifest.json"]  # no temp file left


@pytest.mark.parametrize(("change", "field", "problem"), [
    ({"features": []}, "features", "is empty"),
    ({"features": [{"name": "a"}, {"name": "a"}]}, "features[1].name", "appears twice"),
    ({"features": [{"name": "a,b"}]}, "features[0].name", "without spaces, commas or quotes"),
    ({"features": [{"name": "t", "type": "text"}]}, "features[0].type",
     "is not supported by schema version 1"),
    ({"schema_version": 2, "features": [{"name": "t", "type": "text"}]}, "features[0].tokenizer",
     "is not the tokenizer this version runs"),
    ({"schema_version": 2, "features": [{"name": "c", "type": "categorical", "categories": ["a", "a"]}]},
     "features[0].categories", "unique"),
    ({"schema_version": 2, "features": [{"name": "c", "type": "date"}]}, "features[0].type", "is not one of"),
    ({"schema_version": 2, "input_format": "parquet"}, "input_format", "is not one of csv, libsvm"),
    ({"target": "f1"}, "target", "also listed as a feature"),
    ({"model_data": "http://x/y"}, "model_data", "must be an s3://bucket/key URI"),
    ({"model_data": None, "artifact": None}, "model_data", "the manifest points at no model"),
    ({"hyperparameters": {"max_depth": 5}}, "hyperparameters", "must map names to strings"),
    ({"metrics": {"rmse": float("nan")}}, "metrics", "finite numbers"),
    ({"framework_version": "0.90-2"}, "framework_version", "is not one of"),
    ({"image_uri": "683313688378.dkr.ecr.eu-west-1.amazonaws.com/x:1"}, "image_uri",
     "not an ECR image in the manifest's region"),
    ({"source": {"kind": "sagemaker-tuning", "run_id": "r"}}, "source.job_name", "is required"),
    ({"schema_version": True}, "schema_version", "has the wrong type"),
])
def test_invalid_manifests_name_the_field(change, field, problem):
    data = {**json.loads(CHALLENGER.read_text()), **change}
    with pytest.raises(ManifestError) as caught:
        manifest.parse(data, "m.json")
    assert caught.value.field == field
    assert problem in caught.value.problem
    assert str(caught.value).startswith(f"m.json: {field}: ")


def test_top_level_must_be_an_object():
    with pytest.raises(ManifestError, match="must be a JSON object"):
        manifest.parse([1, 2], "m.json")


def test_version_1_loads_as_all_numeric_csv_and_writes_as_version_2(tmp_path):
    data = json.loads(CHALLENGER.read_text())
    assert data["schema_version"] == 1 and "input_format" not in data
    old = manifest.parse(data, "m.json")
    assert old.input_format == "csv" and old.input_spec.plain_numeric
    assert {feature.kind for feature in old.features} == {"numeric"}
    written = json.loads(manifest.write(old, tmp_path).read_text())
    assert written["schema_version"] == manifest.SCHEMA_VERSION == 2
    assert written["input_format"] == "csv"
    assert manifest.load(tmp_path) == old


def test_raw_fields_round_trip_with_their_encodings(tmp_path):
    data = {**json.loads(CHALLENGER.read_text()), "schema_version": 2, "input_format": "libsvm",
            "features": [
                {"name": "size", "type": "numeric"},
                {"name": "island", "type": "categorical", "categories": ["Biscoe", "Dream"],
                 "unseen": "reject"},
                {"name": "review", "type": "text", "tokenizer": "words-1", "values": "binary",
                 "stop_words": True, "max_chars": 500, "vocabulary": ["good", "bad"]}]}
    loaded = manifest.parse(data, "m.json")
    island, review = loaded.features[1], loaded.features[2]
    assert (island.kind, island.categories, island.unseen) == ("categorical", ("Biscoe", "Dream"), "reject")
    assert (review.kind, review.vocabulary, review.binary, review.stop_words, review.max_chars) == \
        ("text", ("good", "bad"), True, True, 500)
    assert not loaded.input_spec.plain_numeric and loaded.input_spec.content_type == "text/libsvm"
    manifest.write(loaded, tmp_path)
    assert manifest.load(tmp_path) == loaded


def test_loaded_values_and_the_written_layout(tmp_path):
    loaded = manifest.load(CHALLENGER)
    assert (loaded.framework_version, loaded.xgboost_version, loaded.target) == ("3.0-5", "3.0.5", "y")
    updated = loaded.with_updates(metrics={"rmse": 1, "r2": 0.5})
    assert updated.metrics == {"rmse": 1.0, "r2": 0.5} and isinstance(updated.metrics["rmse"], float)
    text = manifest.write(updated, tmp_path).read_text()
    assert text.startswith('{\n  "schema_version": 2,\n  "source": {\n    "kind": "local",\n')
    assert text.endswith('      "type": "numeric"\n    }\n  ]\n}\n')  # two-space indent, one newline


def test_input_format_defaults_to_csv_and_version_1_ignores_it():
    data = json.loads(CHALLENGER.read_text())
    assert manifest.parse({**data, "schema_version": 2}, "m.json").input_format == "csv"
    assert manifest.parse({**data, "input_format": "libsvm"}, "m.json").input_format == "csv"
    assert manifest.parse({**data, "schema_version": 2, "input_format": "libsvm"},
                          "m.json").input_format == "libsvm"


def test_errors_name_the_file_they_come_from(tmp_path):
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({**json.loads(CHALLENGER.read_text()), "schema_version": 9}))
    with pytest.raises(ManifestError, match="^" + str(path).replace(".", r"\.") + ": schema_version: is 9"):
        manifest.load(path)
    with pytest.raises(ManifestError) as caught:
        manifest.load(CHALLENGER).with_updates(model_data="http://x/y")
    assert str(caught.value) == "<updated manifest>: model_data: must be an s3://bucket/key URI or null"


def test_artifact_path_from_the_manifest_file_or_its_run_directory(tmp_path):
    loaded = manifest.load(CHALLENGER)
    run = tmp_path / "run"
    assert manifest.artifact_path(loaded, run / "manifest.json") == run / "model.tar.gz"  # not written yet
    run.mkdir()
    assert manifest.artifact_path(loaded, run) == run / "model.tar.gz"
    (run / "other.json").write_text("{}")
    assert manifest.artifact_path(loaded, run / "other.json") == run / "model.tar.gz"
    assert manifest.artifact_path(manifest.load(CHAMPION), CHAMPION) is None  # in S3, no local file
