"""Snapshots of every stack's template. Re-baseline deliberately with `make snapshot-update`.

Asset hashes are masked so an edit to the Lambda code or a retrained artifact does not break
them; any change of a property (a weight, an instance type, a policy) does.
"""

import json
import re

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

ASSET_HASH = re.compile(r"[0-9a-f]{64}")
# API Gateway Deployments carry a hash of the API's shape in their logical id.
DEPLOYMENT_ID = re.compile(r"(PredictionApiDeployment[0-9A-F]{8})[0-9a-f]{32}")


def masked(template: dict) -> dict:
    text = json.dumps(template, sort_keys=True)
    text = ASSET_HASH.sub("<asset-hash>", text)
    text = DEPLOYMENT_ID.sub(r"\1<api-shape-hash>", text)
    return json.loads(text)


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("component", ["data", "inference", "api"])
def test_template_snapshot(synthesized, snapshot_json, component):
    assert masked(synthesized.template(component)) == snapshot_json


def test_a_code_edit_keeps_the_snapshot_and_a_weight_change_breaks_it(synthesized):
    template = synthesized.template("inference")
    text = json.dumps(template)
    (asset_hash,) = set(ASSET_HASH.findall(text))  # the challenger's local artifact
    code_edit = json.loads(text.replace(asset_hash, "f" * 64))
    assert masked(code_edit) == masked(template)
    weight_change = json.loads(text.replace('"InitialVariantWeight": 0.7', '"InitialVariantWeight": 0.6'))
    assert masked(weight_change) != masked(template)
