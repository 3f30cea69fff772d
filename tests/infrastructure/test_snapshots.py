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


def test_masking_keeps_weights_and_hides_hashes(synthesized):
    text = json.dumps(masked(synthesized.template("inference")))
    assert "<asset-hash>" in text and not ASSET_HASH.search(text)
    assert '"InitialVariantWeight": 0.7' in text
