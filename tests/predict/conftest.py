"""A fake prediction API on loopback that checks SigV4 signatures and plays back throttling.

It answers like the real handler (``{"predictions", "variant", "inference_id"}``; the
prediction of a row is the sum of its values), records every request it receives, and:
- with ``credentials`` set, recomputes each request's SigV4 signature with botocore for those
  credentials, the region and ``execute-api``, and answers 403 when it does not match;
- answers the first requests from ``plan`` (status, headers, body; status 0 drops the
  connection) before scoring normally; a row with a "bad" key gets the handler's 422.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SESSION_TOKEN = "session-token-example"
REGION = "eu-west-1"
_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request, SignedHeaders=(?P<signed>[^,]+), Signature=(?P<sig>[0-9a-f]{64})$")


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    signature_ok: bool | None = None

    @property
    def document(self) -> Any:
        return json.loads(self.body)


@dataclass
class FakeApi:
    url: str
    received: list[Received] = field(default_factory=list)
    plan: list[tuple[int, dict[str, str], Any]] = field(default_factory=list)
    credentials: Credentials | None = None
    region: str = REGION
    variant: str = "champion"
    max_delay_s: float = 0.0  # random per-request delay, so completions arrive out of order
    delay: Callable[[Any], float] | None = None  # per-request delay from the request document
    completed: list[Any] = field(default_factory=list)  # documents answered 200, in answer order
    lock: threading.Lock = field(default_factory=threading.Lock)

    def signature_ok(self, request: Received) -> bool:
        """Recompute the signature with botocore from what arrived on the wire."""
        assert self.credentials is not None
        match = _AUTHORIZATION.match(request.headers.get("authorization", ""))
        if not match or match["service"] != "execute-api" or match["region"] != self.region:
            return False
        if match["key"] != self.credentials.access_key:
            return False
        signed = match["signed"].split(";")
        headers = {name: request.headers[name] for name in signed if name in request.headers}
        if len(headers) != len(signed) or "x-amz-date" not in headers:
            return False
        if self.credentials.token and request.headers.get("x-amz-security-token") != self.credentials.token:
            return False
        base = "/".join(self.url.split("/", 3)[:3])  # http://127.0.0.1:port
        aws_request = AWSRequest(method="POST", url=base + request.path,
                                 data=request.body, headers=headers)
        aws_request.context["timestamp"] = headers["x-amz-date"]
        signer = SigV4Auth(self.credentials, "execute-api", self.region)
        canonical = signer.canonical_request(aws_request)
        expected = signer.signature(signer.string_to_sign(aws_request, canonical), aws_request)
        return bool(expected == match["sig"])

    def respond(self, request: Received) -> tuple[int, dict[str, str], Any]:
        with self.lock:
            self.received.append(request)
            planned = self.plan.pop(0) if self.plan else None
        if self.credentials is not None:
            request.signature_ok = self.signature_ok(request)
            if not request.signature_ok:
                return 403, {}, {"error": {"code": "ACCESS_DENIED", "message": "The request "
                                           "signature we calculated does not match"}}
        if self.max_delay_s:
            time.sleep(random.uniform(0, self.max_delay_s))
        if self.delay is not None:
            time.sleep(self.delay(request.document))
        if planned is not None:
            return planned
        document = request.document
        for index, row in enumerate(document["instances"]):
            if "bad" in row:
                return 422, {}, {"error": {"code": "unknown_feature", "field": "bad", "instance": index,
                                           "message": f'instances[{index}]: unknown feature "bad"'}}
        predictions = [sum(v for v in row.values() if isinstance(v, (int, float)))
                       for row in document["instances"]]
        with self.lock:
            self.completed.append(document)
        return 200, {}, {"predictions": predictions,
                         "variant": document.get("target_variant", self.variant),
                         "inference_id": f"req-{len(self.received)}"}


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        request = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        status, headers, document = self.server.api.respond(request)
        if status == 0:  # planned connection drop: close without an answer
            self.close_connection = True
            return
        payload = json.dumps(document).encode()
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    api: FakeApi

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gives up mid-request (the predict client's abort) is expected


@pytest.fixture
def fake_api() -> Iterator[FakeApi]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.api = FakeApi(url=f"http://127.0.0.1:{server.server_address[1]}/v1/predict")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.api
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Backoff jitter in tens of milliseconds; Retry-After is still honoured in full."""
    from client import predict as predict_client

    monkeypatch.setattr(predict_client, "BACKOFF_BASE_S", 0.02)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> Credentials:
    """Fake credentials in the environment as the only link of the credential chain."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION",
                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                 "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ENDPOINT_URL", "XGB_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_SESSION_TOKEN", SESSION_TOKEN)
    return Credentials(ACCESS_KEY, SECRET_KEY, SESSION_TOKEN)
