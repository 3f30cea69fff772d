"""The live weights' parts below the handler, without the local stack: the signed DescribeEndpoint
request against an in-process HTTP server (the exact request, the parsed weights, every error
shape, the timeout), the error type parsing, the API URL beside a runtime URL, the handler's
LiveWeights as built from the settings, and LiveWeights' fallbacks and cache edges."""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import botocore.httpsession
import botocore.session
import pytest
from botocore.credentials import CredentialResolver
from botocore.exceptions import ReadTimeoutError

import local.lambda_host  # noqa: F401  (puts the Lambda asset on sys.path)

# isort: split
# The asset's modules: importable once local.lambda_host has put the asset on sys.path.
from preprocessing.settings import Settings, Variant
from preprocessing.weights import (
    CONFIG,
    ENDPOINT,
    LAST_KNOWN,
    LiveWeights,
    WeightsUnavailable,
    _error_type,
    api_url_for,
    describe_endpoint_fetch,
    live_weights,
)

KEY, REGION, NAME = "AKIDWEIGHTSTEST", "eu-west-1", "xgb-demo-endpoint"
DESCRIBED = {"EndpointName": NAME, "EndpointStatus": "InService", "ProductionVariants": [
    {"VariantName": "champion", "CurrentWeight": 2, "DesiredWeight": 2},
    {"VariantName": "challenger", "CurrentWeight": 0.5, "DesiredWeight": 0.5}]}


@dataclass
class Answer:
    status: int = 200
    body: bytes = json.dumps(DESCRIBED).encode()
    headers: dict[str, str] = field(default_factory=dict)
    hold: threading.Event | None = None  # answer only once the test sets it


@dataclass
class Seen:
    method: str
    path: str
    headers: list[tuple[str, str]]  # as sent: names in their own case, in order
    body: bytes

    def header(self, name: str) -> str:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        assert len(values) == 1, (name, self.headers)
        return values[0]


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.answers: deque[Answer] = deque()
        self.seen: list[Seen] = []
        self.url = f"http://127.0.0.1:{self.server_address[1]}/"

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the timed-out client is gone when the held answer is written


class Handler(BaseHTTPRequestHandler):
    server: Server

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.seen.append(Seen(self.command, self.path, list(self.headers.items()), body))
        answer = self.server.answers.popleft()
        if answer.hold is not None:
            answer.hold.wait(5)
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def running_server() -> Iterator[Server]:
    server = Server()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def server(running_server: Server) -> Server:
    running_server.answers.clear()
    running_server.seen.clear()
    return running_server


def session(credentials: bool = True) -> Any:
    result = botocore.session.get_session()
    result.set_config_variable("region", REGION)
    if credentials:
        result.set_credentials(KEY, "weights-test-secret")
    else:  # no provider at all: neither the environment nor a config file nor IMDS is asked
        result.register_component("credential_provider", CredentialResolver(providers=[]))
    return result


@pytest.fixture
def timeouts(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The timeouts the fetches' HTTP sessions are made with."""
    made: list[Any] = []
    real = botocore.httpsession.URLLib3Session

    class Recording(real):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            made.append(kwargs.get("timeout"))
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(botocore.httpsession, "URLLib3Session", Recording)
    return made


# --- describe_endpoint_fetch ------------------------------------------------------------------

def test_the_fetch_sends_a_signed_describe_endpoint_and_reads_the_current_weights(
        server: Server, timeouts: list[Any]) -> None:
    server.answers.append(Answer())
    fetch = describe_endpoint_fetch(session(), NAME, server.url, timeout_seconds=0.75)
    assert fetch() == {"champion": 2.0, "challenger": 0.5}
    assert timeouts == [0.75]
    [seen] = server.seen
    assert (seen.method, seen.path) == ("POST", "/")
    assert seen.body == b'{"EndpointName": "xgb-demo-endpoint"}'
    names = [name for name, _ in seen.headers]
    assert "Content-Type" in names and "X-Amz-Target" in names  # as the AWS docs spell them
    assert seen.header("Content-Type") == "application/x-amz-json-1.1"
    assert seen.header("X-Amz-Target") == "SageMaker.DescribeEndpoint"
    date = seen.header("X-Amz-Date")
    assert re.fullmatch(r"\d{8}T\d{6}Z", date)
    assert re.fullmatch(
        rf"AWS4-HMAC-SHA256 Credential={KEY}/{date[:8]}/{REGION}/sagemaker/aws4_request, "
        r"SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=[0-9a-f]{64}",
        seen.header("Authorization")), seen.header("Authorization")


def test_the_weights_are_floats_by_variant_name_and_each_call_asks_again(server: Server) -> None:
    server.answers.extend([Answer(body=json.dumps({"ProductionVariants": [
        {"VariantName": "a", "CurrentWeight": 1}, {"VariantName": "b", "CurrentWeight": "0.25"}]}).encode()),
        Answer(body=b'{"ProductionVariants": []}')])
    fetch = describe_endpoint_fetch(session(), "other-endpoint", server.url + "api/", timeout_seconds=1)
    weights = fetch()
    assert weights == {"a": 1.0, "b": 0.25}
    assert [type(w) for w in weights.values()] == [float, float]
    assert fetch() == {}
    assert [(s.path, s.body) for s in server.seen] == [
        ("/api/", b'{"EndpointName": "other-endpoint"}')] * 2


@pytest.mark.parametrize(("answer", "message"), [
    (Answer(400, b'{"__type": "com.amazonaws.sagemaker#ValidationException"}',
            {"x-amzn-ErrorType": "ThrottlingException"}),
     "DescribeEndpoint answered 400 ThrottlingException"),
    (Answer(403, b"", {"x-amzn-ErrorType": "AccessDeniedException"}),
     "DescribeEndpoint answered 403 AccessDeniedException"),
    (Answer(400, b'{"__type": "com.amazonaws.sagemaker#ThrottlingException", "message": "slow down"}'),
     "DescribeEndpoint answered 400 ThrottlingException"),
    (Answer(500, b"<html>Internal Server Error</html>"), "DescribeEndpoint answered 500 "),
    (Answer(201, b'{"ProductionVariants": []}'), "DescribeEndpoint answered 201 "),
])
def test_an_error_answer_names_its_status_and_type(server: Server, answer: Answer, message: str) -> None:
    server.answers.append(answer)
    fetch = describe_endpoint_fetch(session(), NAME, server.url, timeout_seconds=1)
    with pytest.raises(WeightsUnavailable) as raised:
        fetch()
    assert str(raised.value) == message


def test_an_unreadable_200_answer_raises(server: Server) -> None:
    server.answers.extend([Answer(body=b'{"Endpoint": {}}'), Answer(body=b"not json")])
    fetch = describe_endpoint_fetch(session(), NAME, server.url, timeout_seconds=1)
    with pytest.raises(KeyError):
        fetch()
    with pytest.raises(ValueError):
        fetch()


def test_no_credentials_sends_nothing(server: Server) -> None:
    fetch = describe_endpoint_fetch(session(credentials=False), NAME, server.url, timeout_seconds=1)
    with pytest.raises(WeightsUnavailable) as raised:
        fetch()
    assert str(raised.value) == "no AWS credentials"
    assert server.seen == []


def test_an_answer_later_than_the_timeout_raises(server: Server) -> None:
    hold = threading.Event()
    server.answers.append(Answer(hold=hold))
    fetch = describe_endpoint_fetch(session(), NAME, server.url, timeout_seconds=0.2)
    try:
        with pytest.raises(ReadTimeoutError):
            fetch()
    finally:
        hold.set()
    assert len(server.seen) == 1


# --- _error_type ------------------------------------------------------------------------------

@pytest.mark.parametrize(("content", "expected"), [
    (b'{"__type": "com.amazonaws.sagemaker#ThrottlingException"}', "ThrottlingException"),
    (b'{"__type": "ValidationException"}', "ValidationException"),
    (b'{"__type": "a#b#AccessDeniedException"}', "AccessDeniedException"),
    (b'{"__type": 7}', "7"),
    (b'{"message": "no type"}', ""),
    (b"{}", ""),
    (b"[1, 2]", ""),  # JSON, not an object
    (b"<html>Bad Gateway</html>", ""),
    (b"", ""),
])
def test_error_type(content: bytes, expected: str) -> None:
    assert _error_type(content) == expected


# --- api_url_for ------------------------------------------------------------------------------

@pytest.mark.parametrize(("runtime", "api"), [
    ("https://runtime.sagemaker.eu-west-1.amazonaws.com", "https://api.sagemaker.eu-west-1.amazonaws.com/"),
    ("https://runtime.sagemaker.eu-west-1.amazonaws.com/", "https://api.sagemaker.eu-west-1.amazonaws.com/"),
    ("https://runtime-fips.sagemaker.us-gov-west-1.amazonaws.com//",
     "https://api-fips.sagemaker.us-gov-west-1.amazonaws.com/"),
    ("https://runtime.sagemaker.cn-north-1.amazonaws.com.cn/?then=https://runtime.sagemaker.x/",
     "https://api.sagemaker.cn-north-1.amazonaws.com.cn/?then=https://runtime.sagemaker.x/"),
    ("https://runtime-fips.sagemaker.us-east-1.amazonaws.com/?then=https://runtime-fips.sagemaker.x",
     "https://api-fips.sagemaker.us-east-1.amazonaws.com/?then=https://runtime-fips.sagemaker.x/"),
    ("http://127.0.0.1:8080", "http://127.0.0.1:8080/"),
    ("http://SANDBOX/", "http://SANDBOX/"),
    ("/path/", "/path/"),
])
def test_api_url_for(runtime: str, api: str) -> None:
    assert api_url_for(runtime) == api


# --- live_weights -----------------------------------------------------------------------------

def settings(**overrides: Any) -> Settings:
    fields: dict[str, Any] = {
        "endpoint_name": NAME, "feature_names": ("f0",), "config_error": "",
        "variants": (Variant("champion", 0.7, None), Variant("challenger", 0.3, None)),
        "connect_timeout_seconds": 3, "weights_ttl_seconds": 30} | overrides
    return Settings(**fields)


def test_live_weights_reads_the_configured_api_url_with_the_settings_timeout(
        server: Server, timeouts: list[Any]) -> None:
    server.answers.append(Answer())
    weights = live_weights(settings(sagemaker_api_url=server.url), session(),
                           "http://127.0.0.1:9")  # refused: were it used, no weights
    assert (weights.configured, weights.source, weights.lookups) == (
        {"champion": 0.7, "challenger": 0.3}, CONFIG, 0)
    assert weights.current() == {"champion": 2.0, "challenger": 0.5}
    assert (weights.source, weights.lookups, weights.last_error) == (ENDPOINT, 1, "")
    assert weights.current() == {"champion": 2.0, "challenger": 0.5} and weights.lookups == 1  # the TTL
    assert timeouts == [3]
    assert [s.body for s in server.seen] == [b'{"EndpointName": "xgb-demo-endpoint"}']


def test_live_weights_derives_the_api_url_and_takes_the_ttl_from_the_settings(server: Server) -> None:
    server.answers.extend([Answer(), Answer()])
    weights = live_weights(settings(weights_ttl_seconds=0, endpoint_name="other"), session(),
                           server.url.rstrip("/"))
    assert weights.current() == {"champion": 2.0, "challenger": 0.5}
    assert weights.current() == {"champion": 2.0, "challenger": 0.5}
    assert weights.lookups == 2  # a TTL of 0: every request looks up
    assert [(s.path, s.body) for s in server.seen] == [("/", b'{"EndpointName": "other"}')] * 2


def test_live_weights_without_variants_never_looks_up(server: Server, timeouts: list[Any]) -> None:
    weights = live_weights(settings(variants=(), sagemaker_api_url=server.url), session(), server.url)
    assert weights.current() == {}
    assert (weights.source, weights.lookups, weights.last_error) == (CONFIG, 0, "")
    assert timeouts == [] and server.seen == []


# --- LiveWeights ------------------------------------------------------------------------------

class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Answers:
    """A Fetch answering from a list: weights, or an exception to raise."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)

    def __call__(self) -> dict[str, float]:
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return dict(answer)


def test_a_fresh_live_weights_is_the_config_copied() -> None:
    configured = {"champion": 0.7, "challenger": 0.3}
    weights = LiveWeights(configured, Answers(), ttl_seconds=30)
    configured["champion"] = 0.0
    assert weights.configured == {"champion": 0.7, "challenger": 0.3}
    assert (weights.source, weights.last_error, weights.lookups) == (CONFIG, "", 0)
    assert LiveWeights(configured, None, ttl_seconds=30).current() == {"champion": 0.0, "challenger": 0.3}


def test_the_last_error_names_the_failure_and_clears_on_success() -> None:
    clock = Clock()
    fetch = Answers(WeightsUnavailable("DescribeEndpoint answered 400 ThrottlingException"),
                    {"champion": 0.0, "challenger": 0.0, "other": 1.0},
                    {"champion": 0.0, "challenger": 0.4},
                    RuntimeError("x" * 300),
                    {"champion": 1.0})
    weights = LiveWeights({"champion": 0.7, "challenger": 0.3}, fetch, ttl_seconds=30, clock=clock)
    assert weights.current() == {"champion": 0.7, "challenger": 0.3}
    assert weights.source == CONFIG
    assert weights.last_error == "WeightsUnavailable: DescribeEndpoint answered 400 ThrottlingException"
    clock.now += 30
    assert weights.current() == {"champion": 0.7, "challenger": 0.3}  # zero weights only: unusable
    assert weights.source == CONFIG
    assert weights.last_error == "WeightsUnavailable: no variant of this Lambda has a positive weight"
    clock.now += 30
    assert weights.current() == {"champion": 0.0, "challenger": 0.4}
    assert (weights.source, weights.last_error) == (ENDPOINT, "")
    clock.now += 30
    assert weights.current() == {"champion": 0.0, "challenger": 0.4}
    assert weights.source == LAST_KNOWN
    assert weights.last_error == "RuntimeError: " + "x" * 186 and len(weights.last_error) == 200
    clock.now += 30
    assert weights.current() == {"champion": 1.0}
    assert (weights.source, weights.last_error, weights.lookups) == (ENDPOINT, "", 5)


def test_the_ttl_boundary_and_expire() -> None:
    clock = Clock()
    fetch = Answers({"champion": 0.1}, {"champion": 0.2}, {"champion": 0.3})
    weights = LiveWeights({"champion": 0.7}, fetch, ttl_seconds=30, clock=clock)
    assert weights.current() == {"champion": 0.1}
    clock.now += 29.5
    assert weights.current() == {"champion": 0.1} and weights.lookups == 1
    clock.now += 0.5  # exactly the TTL since the lookup: read again
    assert weights.current() == {"champion": 0.2} and weights.lookups == 2
    weights.expire()
    assert weights.current() == {"champion": 0.3} and weights.lookups == 3
    assert weights.current() == {"champion": 0.3} and weights.lookups == 3
