"""The API stack for a model with raw fields: its input spec rides in the Lambda asset.

Synthesized twice (the app as app.py composes it, cdk-nag on) from two variants trained on the
same categorical + text spec: the function's environment names the spec file instead of listing
features, the asset holds the spec byte for byte, and the templates are identical both times.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contract.config import load_config
from tests.conftest import FIXTURES, ROOT, Synthesized, synthesize
from tests.infrastructure.test_cfn_lint import findings

FEATURES = [
    {"name": "size", "type": "numeric"},
    {"name": "island", "type": "categorical", "categories": ["Biscoe", "Dream"], "unseen": "other"},
    {"name": "review", "type": "text", "tokenizer": "words-1", "values": "counts",
     "stop_words": False, "max_chars": 20000, "vocabulary": [f"w{i}" for i in range(5000)]},
]


def _config(root: Path) -> Path:
    text = (FIXTURES / "config" / "two_variants.toml").read_text()
    for variant in ("champion", "challenger"):
        source = FIXTURES / "manifests" / variant
        data = {**json.loads((source / "manifest.json").read_text()), "schema_version": 2,
                "input_format": "libsvm", "features": FEATURES}
        (root / variant).mkdir()
        (root / variant / "manifest.json").write_text(json.dumps(data))
        for extra in source.iterdir():
            if extra.name != "manifest.json":
                (root / variant / extra.name).write_bytes(extra.read_bytes())
        text = text.replace(f"tests/fixtures/manifests/{variant}/manifest.json",
                            str(root / variant / "manifest.json"))
    path = root / "config.toml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def raw_synths(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Synthesized, Synthesized]:
    config = _config(tmp_path_factory.mktemp("raw-models"))
    return (config, synthesize(config, tmp_path_factory.mktemp("raw-out-1")),
            synthesize(config, tmp_path_factory.mktemp("raw-out-2")))


def _function(synthesized: Synthesized) -> dict:
    (function,) = [r for r in synthesized.template("api")["Resources"].values()
                   if r["Type"] == "AWS::Lambda::Function"]
    return function  # type: ignore[no-any-return]


def test_the_spec_file_rides_in_the_asset_not_the_environment(raw_synths) -> None:
    config_path, synthesized, _ = raw_synths
    function = _function(synthesized)
    variables = function["Properties"]["Environment"]["Variables"]
    assert set(variables) == {"ENDPOINT_NAME", "INPUT_SPEC_FILE", "VARIANTS"}
    assert json.loads(variables["VARIANTS"]) == [{"name": "champion", "weight": 0.7},
                                                 {"name": "challenger", "weight": 0.3}]
    assert variables["INPUT_SPEC_FILE"] == "input_spec.json"
    asset_hash = function["Properties"]["Code"]["S3Key"].removesuffix(".zip")
    asset = synthesized.outdir / f"asset.{asset_hash}"
    spec = load_config(config_path, base_dir=ROOT).input_spec
    assert spec is not None
    assert (asset / "input_spec.json").read_text(encoding="utf-8") == spec.to_json()
    assert (asset / "handler.py").is_file() and (asset / "contract" / "encoding.py").is_file()
    assert not list(asset.rglob("__pycache__"))


def test_raw_models_synthesize_deterministically_and_lint_clean(raw_synths) -> None:
    _, first, second = raw_synths
    assert first.templates == second.templates
    assert _function(first)["Properties"]["Code"] == _function(second)["Properties"]["Code"]
    matches = findings(json.dumps(first.template("api")))
    assert {m.rule.id for m in matches} <= {"W3005"}, matches  # as for the numeric stacks
