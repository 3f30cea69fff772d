"""The local runtime's SageMaker API (control plane): DescribeEndpoint and
UpdateEndpointWeightsAndCapacities over HTTP, as botocore's ``sagemaker`` client sends them.

Every test builds its own LocalRuntime (two tiny boosters, 70/30) behind a RuntimeHTTPServer on
loopback, so weights can change without touching the shared session stack; the clients are real
botocore clients with dummy credentials, whose SigV4 signatures the runtime checks.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import botocore.session
import numpy as np
import pytest
import xgboost as xgb
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError, ReadTimeoutError
from botocore.httpsession import URLLib3Session

from cli.main import EXIT_USAGE, build_parser, main
from contract.manifest import Manifest
from contract.names import LOCAL_RUNTIME_PORT
from local.runtime_server import JSON_11, LocalRuntime
from local.variants import LocalVariant
from tests.conftest import ROOT
from tests.local.serving import serving

ENDPOINT = "xgb-cp-endpoint"  # what the CLI config below names (prefix xgb-cp)
REGION = "us-east-1"
CONFIG = f"""
[project]
prefix = "xgb-cp"

[[variants]]
name = "champion"
manifest = "{ROOT}/tests/fixtures/manifests/champion/manifest.json"
weight = 0.7

[[variants]]
name = "challenger"
manifest = "{ROOT}/tests/fixtures/manifests/challenger/manifest.json"
weight = 0.3
"""
SESSION = botocore.session.get_session()  # one service-model load for every client here


def tiny_booster() -> xgb.Booster:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(50, 3))
    return xgb.train({"max_depth": 2, "nthread": 1}, xgb.DMatrix(x, label=x[:, 0]), 2)


BOOSTER = tiny_booster()


def variant(name: str, weight: float) -> LocalVariant:
    manifest = cast(Manifest, SimpleNamespace(features=("a", "b", "c"), framework_version="3.0-5"))
    return LocalVariant(name=name, weight=weight, manifest=manifest, manifest_path=cast(Any, None),
                        booster=BOOSTER)


@pytest.fixture
def runtime() -> LocalRuntime:
    return LocalRuntime(ENDPOINT, [variant("champion", 0.7), variant("challenger", 0.3)], seed=11)


@pytest.fixture
def url(runtime: LocalRuntime) -> Iterator[str]:
    with serving(runtime) as base:
        yield base


def sagemaker(url: str, *, secret: str = "local", key: str = "local", read_timeout: float = 10,
              validate: bool = True) -> Any:
    return SESSION.create_client(
        "sagemaker", region_name=REGION, endpoint_url=url, aws_access_key_id=key,
        aws_secret_access_key=secret, config=Config(
            retries={"total_max_attempts": 1}, read_timeout=read_timeout, connect_timeout=2,
            parameter_validation=validate))


def error_of(call: Any, **kwargs: Any) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    response = raised.value.response
    return (response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"],
            response["Error"]["Message"])


def weights_of(client: Any) -> dict[str, float]:
    variants = client.describe_endpoint(EndpointName=ENDPOINT)["ProductionVariants"]
    return {v["VariantName"]: v["CurrentWeight"] for v in variants}


# --- wire protocol ---------------------------------------------------------------------------

def test_describe_endpoint_answers_in_aws_shape_what_botocore_sends(url):
    client = sagemaker(url)
    sent: list[Any] = []
    client.meta.events.register("before-send.sagemaker.DescribeEndpoint",
                                lambda request, **_: sent.append(request))
    before = time.time()
    response = client.describe_endpoint(EndpointName=ENDPOINT)
    (request,) = sent
    assert (request.method, request.url) == ("POST", url + "/")
    assert request.headers["X-Amz-Target"] == b"SageMaker.DescribeEndpoint"
    assert request.headers["Content-Type"] == JSON_11.encode()
    assert request.headers["Authorization"].startswith(b"AWS4-HMAC-SHA256 Credential=local/")
    assert json.loads(request.body) == {"EndpointName": ENDPOINT}

    headers = response.pop("ResponseMetadata")["HTTPHeaders"]
    assert headers["content-type"] == JSON_11
    created, modified = response.pop("CreationTime"), response.pop("LastModifiedTime")
    assert created.timestamp() <= before + 1 and modified >= created  # epoch seconds on the wire
    assert response == {
        "EndpointName": ENDPOINT,
        "EndpointArn": f"arn:aws:sagemaker:{REGION}:123456789012:endpoint/{ENDPOINT}",
        "EndpointConfigName": f"{ENDPOINT}-local",
        "EndpointStatus": "InService",
        "ProductionVariants": [
            {"VariantName": "champion", "CurrentWeight": 0.7, "DesiredWeight": 0.7,
             "CurrentInstanceCount": 1, "DesiredInstanceCount": 1},
            {"VariantName": "challenger", "CurrentWeight": 0.3, "DesiredWeight": 0.3,
             "CurrentInstanceCount": 1, "DesiredInstanceCount": 1}],
    }


def test_the_arn_lowercases_the_endpoint_name():
    runtime = LocalRuntime("My-Endpoint", [variant("a", 1)], region="eu-west-1")
    assert runtime.endpoint_arn == "arn:aws:sagemaker:eu-west-1:123456789012:endpoint/my-endpoint"


def test_update_then_describe_shows_the_new_weights_at_once(url, runtime):
    client = sagemaker(url)
    created = client.describe_endpoint(EndpointName=ENDPOINT)["LastModifiedTime"]
    answer = client.update_endpoint_weights_and_capacities(
        EndpointName=ENDPOINT, DesiredWeightsAndCapacities=[
            {"VariantName": "champion", "DesiredWeight": 0.2},
            {"VariantName": "challenger", "DesiredWeight": 0.8, "DesiredInstanceCount": 3}])
    assert answer["EndpointArn"] == runtime.endpoint_arn
    described = client.describe_endpoint(EndpointName=ENDPOINT)
    assert described["EndpointStatus"] == "InService"  # no Updating phase locally
    assert described["LastModifiedTime"] >= created
    assert described["ProductionVariants"] == [
        {"VariantName": "champion", "CurrentWeight": 0.2, "DesiredWeight": 0.2,
         "CurrentInstanceCount": 1, "DesiredInstanceCount": 1},
        {"VariantName": "challenger", "CurrentWeight": 0.8, "DesiredWeight": 0.8,
         "CurrentInstanceCount": 3, "DesiredInstanceCount": 3}]
    # A count alone leaves the weight; a weight alone leaves the count.
    client.update_endpoint_weights_and_capacities(EndpointName=ENDPOINT, DesiredWeightsAndCapacities=[
        {"VariantName": "champion", "DesiredInstanceCount": 2}])
    assert weights_of(client) == {"champion": 0.2, "challenger": 0.8}
    assert runtime.router.weights() == {"champion": 0.2, "challenger": 0.8}


def test_runtime_routing_follows_the_new_weights(url):
    """1000 invocations without TargetVariant after 70/30 -> 10/90: the champion's share must be
    0.1 +- 5 standard errors (0.047), which a correct router misses about once in 2 million."""
    client = sagemaker(url)
    client.update_endpoint_weights_and_capacities(EndpointName=ENDPOINT, DesiredWeightsAndCapacities=[
        {"VariantName": "champion", "DesiredWeight": 1},
        {"VariantName": "challenger", "DesiredWeight": 9}])
    runtime_client = SESSION.create_client(
        "sagemaker-runtime", region_name=REGION, endpoint_url=url, aws_access_key_id="local",
        aws_secret_access_key="local", config=Config(retries={"total_max_attempts": 1}))
    counts = {"champion": 0, "challenger": 0}
    for _ in range(1000):
        response = runtime_client.invoke_endpoint(EndpointName=ENDPOINT, Body=b"1,2,3",
                                                  ContentType="text/csv")
        counts[response["InvokedProductionVariant"]] += 1
    share = counts["champion"] / 1000
    assert abs(share - 0.1) <= 5 * math.sqrt(0.1 * 0.9 / 1000), counts
    # Weight 0 takes a variant out of the routing entirely.
    client.update_endpoint_weights_and_capacities(EndpointName=ENDPOINT, DesiredWeightsAndCapacities=[
        {"VariantName": "champion", "DesiredWeight": 0}])
    for _ in range(50):
        assert runtime_client.invoke_endpoint(EndpointName=ENDPOINT, Body=b"1,2,3",
                                              ContentType="text/csv")[
            "InvokedProductionVariant"] == "challenger"


# --- refusals --------------------------------------------------------------------------------

def test_unknown_endpoint_is_a_validation_exception(url):
    client = sagemaker(url)
    status, code, message = error_of(client.describe_endpoint, EndpointName="Other-Endpoint")
    assert (status, code) == (400, "ValidationException")
    assert message == ('Could not find endpoint '
                       '"arn:aws:sagemaker:us-east-1:123456789012:endpoint/other-endpoint".')
    status, code, _ = error_of(client.update_endpoint_weights_and_capacities, EndpointName="nope",
                               DesiredWeightsAndCapacities=[{"VariantName": "champion",
                                                             "DesiredWeight": 1}])
    assert (status, code) == (400, "ValidationException")


@pytest.mark.parametrize(("desired", "says"), [
    ([{"VariantName": "canary", "DesiredWeight": 1}], "canary are not present in endpoint"),
    ([{"VariantName": "champion", "DesiredWeight": 0}, {"VariantName": "challenger", "DesiredWeight": 0}],
     "no variant with a weight greater than 0"),
    ([{"VariantName": "challenger", "DesiredWeight": 0}], None),  # champion keeps 0.7: allowed
    ([{"VariantName": "champion", "DesiredWeight": -1}], "greater than or equal to 0"),
    ([{"VariantName": "champion", "DesiredInstanceCount": -2}], "greater than or equal to 0"),
    ([{"VariantName": "champion"}], "give DesiredWeight, DesiredInstanceCount or both"),
    ([{"VariantName": "champion", "DesiredWeight": 1}, {"VariantName": "champion", "DesiredWeight": 2}],
     "appears more than once"),
    ([], "length greater than or equal to 1"),
])
def test_bad_updates_are_validation_exceptions_and_change_nothing(url, desired, says):
    client = sagemaker(url, validate=False)  # botocore would refuse some of these itself
    call = client.update_endpoint_weights_and_capacities
    if says is None:
        call(EndpointName=ENDPOINT, DesiredWeightsAndCapacities=desired)
        assert weights_of(client) == {"champion": 0.7, "challenger": 0.0}
        return
    status, code, message = error_of(call, EndpointName=ENDPOINT, DesiredWeightsAndCapacities=desired)
    assert (status, code) == (400, "ValidationException") and says in message, message
    assert weights_of(client) == {"champion": 0.7, "challenger": 0.3}


def test_only_the_two_operations_are_served(url):
    status, code, message = error_of(sagemaker(url).describe_endpoint_config,
                                     EndpointConfigName="x")
    assert (status, code) == (400, "UnknownOperationException")
    assert "SageMaker.DescribeEndpoint, SageMaker.UpdateEndpointWeightsAndCapacities" in message


# --- the raw wire: hand-signed requests, error shape, SigV4 --------------------------------

def signed_request(url: str, body: dict[str, Any], *, target: str = "SageMaker.DescribeEndpoint",
                   secret: str = "local", service: str = "sagemaker",
                   content_type: str = JSON_11) -> tuple[int, dict[str, str], dict[str, Any]]:
    """Built and signed by hand, as the preprocessing Lambda sends DescribeEndpoint."""
    request = AWSRequest(method="POST", url=url + "/", data=json.dumps(body),
                         headers={"Content-Type": content_type, "X-Amz-Target": target})
    SigV4Auth(Credentials("local", secret), service, REGION).add_auth(request)
    response = URLLib3Session(timeout=5).send(request.prepare())
    return response.status_code, dict(response.headers), json.loads(response.content)


def test_a_hand_signed_describe_endpoint_and_the_error_wire_shape(url):
    status, headers, body = signed_request(url, {"EndpointName": ENDPOINT})
    assert status == 200 and headers["Content-Type"] == JSON_11
    assert [v["CurrentWeight"] for v in body["ProductionVariants"]] == [0.7, 0.3]
    status, headers, body = signed_request(url, {"EndpointName": "nope"})
    assert status == 400
    assert headers["x-amzn-ErrorType"] == body["__type"] == "ValidationException"
    assert headers["Content-Type"] == JSON_11 and headers["x-amzn-RequestId"]
    assert set(body) == {"__type", "message"}


@pytest.mark.parametrize(("kwargs", "status", "code"), [
    ({"secret": "not-local"}, 400, "InvalidSignatureException"),
    ({"service": "api.sagemaker"}, 400, "InvalidSignatureException"),  # the endpoint prefix
    ({"content_type": "application/json"}, 400, "SerializationException"),
    ({"target": "SageMaker.CreateEndpoint"}, 400, "UnknownOperationException"),
])
def test_badly_built_requests_are_refused_as_aws_refuses_them(url, kwargs, status, code):
    got_status, headers, body = signed_request(url, {"EndpointName": ENDPOINT}, **kwargs)
    assert (got_status, body["__type"], headers["x-amzn-ErrorType"]) == (status, code, code), body


def test_unsigned_requests_are_refused_and_other_keys_are_not_checked(url):
    request = AWSRequest(method="POST", url=url + "/", data=json.dumps({"EndpointName": ENDPOINT}),
                         headers={"Content-Type": JSON_11, "X-Amz-Target": "SageMaker.DescribeEndpoint"})
    response = URLLib3Session(timeout=5).send(request.prepare())
    assert (response.status_code, json.loads(response.content)["__type"]) == (
        400, "MissingAuthenticationTokenException")
    # Keys the runtime does not know are accepted unchecked (there is no IAM locally).
    assert weights_of(sagemaker(url, key="AKIAOTHER", secret="whatever")) == {
        "champion": 0.7, "challenger": 0.3}
    status, code, _ = error_of(sagemaker(url, secret="wrong").describe_endpoint, EndpointName=ENDPOINT)
    assert (status, code) == (400, "InvalidSignatureException")


# --- fault injection ---------------------------------------------------------------------------

@pytest.mark.parametrize("code", ["ThrottlingException", "AccessDeniedException"])
def test_injected_errors_fail_the_control_plane_only(url, runtime, code):
    client = sagemaker(url)
    runtime.control_plane_fault = (code, 400)
    status, got, _ = error_of(client.describe_endpoint, EndpointName=ENDPOINT)
    assert (status, got) == (400, code)
    status, got, _ = error_of(client.update_endpoint_weights_and_capacities, EndpointName=ENDPOINT,
                              DesiredWeightsAndCapacities=[{"VariantName": "champion",
                                                            "DesiredWeight": 0.1}])
    assert (status, got) == (400, code)
    invoked = SESSION.create_client(
        "sagemaker-runtime", region_name=REGION, endpoint_url=url, aws_access_key_id="local",
        aws_secret_access_key="local").invoke_endpoint(EndpointName=ENDPOINT, Body=b"1,2,3",
                                                       ContentType="text/csv")
    assert invoked["ResponseMetadata"]["HTTPStatusCode"] == 200  # invocations are not affected
    runtime.control_plane_fault = None
    assert weights_of(client) == {"champion": 0.7, "challenger": 0.3}  # the refused update did nothing


def test_injected_timeout_makes_a_short_read_timeout_expire(url, runtime):
    runtime.control_plane_fault = ("timeout", 1.5)
    started = time.monotonic()
    with pytest.raises(ReadTimeoutError):
        sagemaker(url, read_timeout=0.3).describe_endpoint(EndpointName=ENDPOINT)
    assert time.monotonic() - started < 1.4
    # A patient caller gets the answer after the delay.
    assert weights_of(sagemaker(url, read_timeout=5)) == {"champion": 0.7, "challenger": 0.3}
    runtime.control_plane_fault = None


def test_concurrent_updates_are_atomic(url, runtime):
    """Each update sets both weights to a pair summing to 1; no describe may see a mixed pair."""
    errors: list[BaseException] = []
    seen: list[tuple[float, float]] = []

    def writer(index: int) -> None:
        client = sagemaker(url)
        try:
            for step in range(15):
                w = round((index * 15 + step) % 10 / 10 + 0.05, 2)
                client.update_endpoint_weights_and_capacities(
                    EndpointName=ENDPOINT, DesiredWeightsAndCapacities=[
                        {"VariantName": "champion", "DesiredWeight": w},
                        {"VariantName": "challenger", "DesiredWeight": round(1 - w, 2)}])
        except BaseException as error:  # reported below
            errors.append(error)

    def reader() -> None:
        client = sagemaker(url)
        try:
            for _ in range(30):
                weights = weights_of(client)
                seen.append((weights["champion"], weights["challenger"]))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    threads += [threading.Thread(target=reader) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert all(pair == (0.7, 0.3) or math.isclose(sum(pair), 1.0) for pair in seen), seen
    final = runtime.router.weights()
    assert math.isclose(final["champion"] + final["challenger"], 1.0)


# --- xgbapi traffic / status --local -------------------------------------------------------------

@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_traffic_local_shifts_the_weights_of_a_running_server(url, runtime, config_path, capsys):
    code, out, err = run(capsys, "traffic", "--config", str(config_path), "--local", url,
                         "--set", "champion=0.5", "--set", "challenger=0.5")
    assert code == 0, err
    assert f"requested on {ENDPOINT}: challenger weight=0.5, champion weight=0.5" in out
    assert f"The local runtime at {url} applies it at once" in out
    assert '[[variants]] name = "champion":  weight = 0.7  ->  weight = 0.5' in out
    assert runtime.router.weights() == {"champion": 0.5, "challenger": 0.5}
    table = out.split("\n\n")[1].splitlines()
    assert table[1].split()[:2] == ["champion", "0.500"] and table[2].split()[:2] == [
        "challenger", "0.500"]

    code, out, err = run(capsys, "status", "--config", str(config_path), "--local", url)
    assert code == 0, err
    assert out.startswith(f"endpoint {ENDPOINT} (local runtime {url}): InService\n")
    assert "skipped with --local: the stack's expected endpoint config" in out
    rows = {line.split()[0]: line.split()[1:5] for line in out.splitlines()
            if line.startswith(("champion ", "challenger "))}
    assert rows == {"champion": ["0.500", "50.0%", "0.500", "0.700"],
                    "challenger": ["0.500", "50.0%", "0.500", "0.300"]}
    assert "weights differ from the config (shifted with `traffic --local`?)" in out


def test_traffic_local_without_changes_and_with_instances(url, config_path, capsys):
    code, out, _ = run(capsys, "traffic", "--config", str(config_path), "--local", url + "/")
    assert code == 0 and "weights match the config." in out
    code, out, _ = run(capsys, "traffic", "--config", str(config_path), "--local", url,
                       "--instances", "challenger=2")
    assert code == 0 and "1/1" in out and "2/2" in out
    assert "records instance counts but serves each variant with one model" in out


def test_local_defaults_to_the_serve_port():
    args = build_parser().parse_args(["traffic", "--local", "--set", "champion=1"])
    assert args.local == f"http://127.0.0.1:{LOCAL_RUNTIME_PORT}" and args.weights == ["champion=1"]
    assert build_parser().parse_args(["status"]).local is None


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("command", ["status", "traffic"])
def test_no_server_or_a_bad_url_is_one_line_with_the_fix(config_path, capsys, command):
    dead = f"http://127.0.0.1:{free_port()}"
    code, out, err = run(capsys, command, "--config", str(config_path), "--local", dead)
    assert code == EXIT_USAGE and out == ""
    assert err.startswith(f"error: cannot reach the local runtime at {dead}") and err.count("\n") == 1
    assert "start it with make serve-local" in err
    code, _, err = run(capsys, command, "--config", str(config_path), "--local", "localhost:8081")
    assert code == EXIT_USAGE
    assert err == ("error: --local 'localhost:8081' is not an http URL of the local runtime; write "
                   f"e.g. --local http://127.0.0.1:{LOCAL_RUNTIME_PORT}, or --local alone for that "
                   "default\n")


def test_a_server_of_another_endpoint_or_a_fault_is_one_line(url, runtime, config_path, tmp_path,
                                                             capsys):
    other = tmp_path / "other.toml"
    other.write_text(CONFIG.replace('prefix = "xgb-cp"', 'prefix = "xgb-other"'))
    code, _, err = run(capsys, "status", "--config", str(other), "--local", url)
    assert code == EXIT_USAGE
    assert err.startswith(f"error: describe_endpoint on the local runtime at {url} failed: "
                          "ValidationException Could not find endpoint")
    assert "serve this config there" in err
    runtime.control_plane_fault = ("ThrottlingException", 400)
    code, _, err = run(capsys, "traffic", "--config", str(config_path), "--local", url)
    assert code == EXIT_USAGE and "ThrottlingException Rate exceeded" in err
    assert err.count("\n") == 1


def test_pointing_local_at_the_api_front_says_so(config_path, capsys):
    from local.api_front import ApiHTTPServer

    front = ApiHTTPServer(("127.0.0.1", 0), lambda event, context: {}, {"variants": []})
    thread = threading.Thread(target=front.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    front_url = f"http://127.0.0.1:{front.server_address[1]}"
    try:
        code, _, err = run(capsys, "status", "--config", str(config_path), "--local", front_url)
    finally:
        front.shutdown()
        front.server_close()
        thread.join(timeout=5)
    assert code == EXIT_USAGE and err.count("\n") == 1
    assert err.startswith(f"error: describe_endpoint on the local runtime at {front_url} failed: 403")
    assert f"is {front_url} the local runtime (not the API front)? start it with make serve-local" in err
