"""The whole request path on loopback: API front -> real handler -> local runtime -> xgboost."""

from __future__ import annotations

import json
import math
import threading

import numpy as np
import pytest

from contract.artifact import read_model_archive
from contract.manifest import artifact_path
from local.api_front import REQUEST_SCHEMA
from local.client import ApiClient
from training.local_backend import predict


@pytest.fixture
def client(local_stack):
    api = ApiClient(local_stack.api_url)
    yield api
    api.close()


def expected_predictions(deployment, variant: str, rows: np.ndarray) -> np.ndarray:
    model = next(m for m in deployment.config.models if m.variant.name == variant)
    archive = artifact_path(model.manifest, model.variant.manifest_path)
    return predict(read_model_archive(archive), rows)


def instances(deployment, rows: np.ndarray) -> list[dict[str, float]]:
    names = deployment.config.feature_names
    return [dict(zip(names, map(float, row), strict=True)) for row in rows]


def test_every_prediction_equals_xgboost_for_the_variant_that_served_it(deployment, client):
    features, _ = deployment.prepared.load_test()
    served = set()
    for row, instance in zip(features, instances(deployment, features), strict=True):
        status, _, body, _ = client.predict({"instances": [instance]})
        assert status == 200, body
        expected = expected_predictions(deployment, body["variant"], row[None, :])
        assert body["predictions"][0] == pytest.approx(float(expected[0]), abs=1e-6)
        served.add(body["variant"])
    assert served == {"champion", "challenger"}
    # One request with every row, in order, as arrays in feature order.
    status, _, body, _ = client.predict({"instances": features.tolist()})
    assert status == 200
    expected = expected_predictions(deployment, body["variant"], features)
    assert np.allclose(body["predictions"], expected, atol=1e-6, rtol=0)


def test_target_variant_pins_the_variant(deployment, client):
    """A pinned request is served by the pinned variant's model, not only under its name."""
    features, _ = deployment.prepared.load_test()
    rows = features[:5]
    expected = {v: expected_predictions(deployment, v, rows) for v in ("champion", "challenger")}
    # The two models answer these rows differently, so the predictions tell who served them.
    assert not np.allclose(expected["champion"], expected["challenger"], atol=1e-3)
    for variant in ("champion", "challenger"):
        for _ in range(15):
            status, _, body, _ = client.predict({"instances": instances(deployment, rows),
                                                 "target_variant": variant})
            assert (status, body["variant"]) == (200, variant)
            assert np.allclose(body["predictions"], expected[variant], atol=1e-6, rtol=0)


def test_weights_split_the_traffic_70_30(deployment, client):
    """2000 requests; the challenger's share must be 0.30 +- 5 standard errors (0.051):
    a correct router fails this about once in two million runs."""
    row = instances(deployment, deployment.prepared.load_test()[0][:1])
    counts = {"champion": 0, "challenger": 0}
    for _ in range(2000):
        status, _, body, _ = client.predict({"instances": row})
        assert status == 200
        counts[body["variant"]] += 1
    share = counts["challenger"] / 2000
    assert abs(share - 0.3) <= 5 * math.sqrt(0.3 * 0.7 / 2000), counts


@pytest.mark.parametrize(("body", "content_type", "status", "code"), [
    (b'{"instances": [', "application/json", 400, "BAD_REQUEST_BODY"),  # API Gateway's validator
    (b'{"rows": []}', "application/json", 400, "BAD_REQUEST_BODY"),
    (b'{"instances": [{"age": 1}]}', None, 400, "BAD_REQUEST_PARAMETERS"),
    (b'{"instances": [{"not_a_feature": 1}]}', "application/json", 422, "unknown_feature"),
    (b'{"instances": [["old", 0, 0, 0, 0, 0, 0, 0, 0, 0]]}', "application/json", 422, "non_numeric_value"),
    (b"1,2,3\n", "text/csv", 422, "wrong_arity"),
    (b"<xml/>", "application/xml", 415, "unsupported_media_type"),
])
def test_bad_requests_get_documented_codes(client, body, content_type, status, code):
    got_status, _, got_body, _ = client.post("/predict", body, content_type)
    assert (got_status, got_body["error"]["code"]) == (status, code)


def test_oversize_bodies(deployment, client):
    row = json.dumps(instances(deployment, deployment.prepared.load_test()[0][:1])[0])
    # Over the endpoint's 6 MB but under API Gateway's 10 MB: the handler refuses it.
    body = ('{"instances": [' + ",".join([row] * (7 * 1024 * 1024 // len(row))) + "]}").encode()
    status, _, answer, _ = client.post("/predict", body)
    assert (status, answer["error"]["code"]) == (413, "body_too_large")


def test_unknown_target_variant_and_a_model_that_cannot_load(deployment, client):
    row = instances(deployment, deployment.prepared.load_test()[0][:1])
    status, _, body, _ = client.predict({"instances": row, "target_variant": "nope"})
    assert (status, body["error"]["code"]) == (400, "unknown_target_variant")
    status, _, body, _ = client.predict({"instances": row, "target_variant": "broken"})
    assert (status, body["error"]["code"]) == (502, "model_error")
    assert "xgboost" not in json.dumps(body).lower()  # nothing internal leaks


def test_health_lists_variants_weights_and_manifests(local_stack, deployment):
    client = ApiClient(local_stack.api_url)
    status, body = client.get("/health")
    client.close()
    assert status == 200
    assert [(v["name"], v["weight"], v["healthy"]) for v in body["variants"]] == [
        ("champion", 0.7, True), ("challenger", 0.3, True), ("broken", 0.0, False)]
    for variant in body["variants"]:
        assert variant["manifest"].endswith(f"/{variant['name']}/latest/manifest.json")


def test_local_validator_matches_the_api_stacks_request_model(synthesized):
    models = [r for r in synthesized.template("api")["Resources"].values()
              if r["Type"] == "AWS::ApiGateway::Model"]
    (model,) = models
    assert model["Properties"]["Schema"] == REQUEST_SCHEMA


def test_load_8_clients_5000_requests_zero_errors(deployment, local_stack):
    """Bounded load on loopback (throughput and latency are measured by make bench)."""
    row = instances(deployment, deployment.prepared.load_test()[0][:1])
    body = json.dumps({"instances": row}).encode()
    errors: list[object] = []
    done = [0]
    lock = threading.Lock()

    def worker(requests: int) -> None:
        api = ApiClient(local_stack.api_url)
        try:
            for _ in range(requests):
                status, _, answer, _ = api.post("/predict", body)
                with lock:
                    done[0] += 1
                    if status != 200:
                        errors.append(answer)
        finally:
            api.close()

    threads = [threading.Thread(target=worker, args=(625,)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert (done[0], errors) == (5000, [])
