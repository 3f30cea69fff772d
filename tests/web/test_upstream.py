"""``xgbapi serve --upstream``: the page in front of a deployed API, credentials kept server-side.

The deployed API is played by the predict client's loopback fake (tests/predict/conftest.py),
which recomputes every SigV4 signature with botocore, and by a variant of it that checks the
API key the way API Gateway does (403 ``{"message": "Forbidden"}``).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import pytest
from botocore.credentials import Credentials
from selenium.webdriver.common.by import By

from client.upstream import connect, predict_url
from contract.errors import CliError
from local.client import ApiClient
from local.upstream import running_upstream
from local.web import Examples, WebApp
from tests.conftest import ROOT
from tests.predict.conftest import (
    ACCESS_KEY,
    REGION,
    SECRET_KEY,
    SESSION_TOKEN,
    FakeApi,
    Received,
    _Handler,
    _Server,
)
from tests.web.conftest import open_page, wait_for

API_KEY = "k3y-for-the-web-tests-0123456789"
SECRETS = (SECRET_KEY, SESSION_TOKEN, API_KEY)


@dataclass
class KeyedApi(FakeApi):
    """The fake API behind API Gateway's API-key check."""

    api_key: str = API_KEY

    def respond(self, request: Received) -> tuple[int, dict[str, str], Any]:
        if request.headers.get("x-api-key") != self.api_key:
            with self.lock:
                self.received.append(request)
            return 403, {}, {"message": "Forbidden"}
        return super().respond(request)


@contextmanager
def serving(api: FakeApi) -> Iterator[FakeApi]:
    server = _Server(("127.0.0.1", 0), _Handler)
    api.url = f"http://127.0.0.1:{server.server_address[1]}/v1/predict"
    server.api = api
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def stage_url(api: FakeApi) -> str:
    return api.url.removesuffix("/predict")


def web_app(deployment: Any, target: str) -> WebApp:
    config = deployment.config
    return WebApp(config.endpoint_name, config.handler_variants,
                  Examples.load(deployment.prepared.directory, config.handler_variants), target=target)


def everything_the_browser_gets(url: str) -> str:
    """Every GET the page makes, headers and bodies together."""
    seen = []
    for path in ("/", "/spec", "/example?index=0", "/health"):
        try:
            response = urllib.request.urlopen(url + path, timeout=10)
        except urllib.error.HTTPError as error:
            response = error
        seen.append(str(response.headers) + response.read().decode())
    return "\n".join(seen)


def test_the_stage_url_names_its_predict_resource() -> None:
    base = "https://abc123.execute-api.eu-west-1.amazonaws.com/v1"
    assert predict_url(base) == predict_url(base + "/") == predict_url(base + "/predict") == base + "/predict"


def test_iam_upstream_signs_each_request_and_keeps_the_credentials(deployment: Any,
                                                                   aws_env: Credentials) -> None:
    with serving(FakeApi(url="", credentials=aws_env)) as api:
        upstream = connect(stage_url(api), "iam", REGION, deployment.config)
        assert upstream.target.url == api.url
        with running_upstream(web_app(deployment, upstream.describe()), upstream.forward) as front:
            client = ApiClient(front.url)
            try:
                row = {name: 0.5 for name in deployment.config.feature_names}
                status, headers, body, _ = client.predict({"instances": [row],
                                                           "target_variant": "challenger"})
                assert status == 200, body
                assert body["predictions"] == [0.5 * len(row)] and body["variant"] == "challenger"
                (received,) = api.received
                assert received.signature_ok is True and received.path == "/v1/predict"
                assert received.headers["x-amz-security-token"] == SESSION_TOKEN
                assert json.loads(received.body)["instances"] == [row]
                # A signature the API does not accept comes back as the API's 403.
                api.credentials = Credentials(ACCESS_KEY, "another secret", SESSION_TOKEN)
                status, _, body, _ = client.predict({"instances": [row]})
                assert (status, body["error"]["code"]) == (403, "ACCESS_DENIED")
            finally:
                client.close()
            seen = everything_the_browser_gets(front.url)
    assert "champion" in seen and deployment.config.feature_names[0] in seen
    assert not [secret for secret in SECRETS if secret in seen]
    assert all(secret not in json.dumps(headers) for secret in SECRETS)


def test_api_key_upstream_adds_the_key_from_the_environment(deployment: Any,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XGB_API_KEY", API_KEY)
    with serving(KeyedApi(url="")) as api:
        upstream = connect(stage_url(api), "api_key", None, deployment.config)
        with running_upstream(web_app(deployment, upstream.describe()), upstream.forward) as front:
            client = ApiClient(front.url)
            try:
                row = {name: 1 for name in deployment.config.feature_names}
                status, _, body, _ = client.predict({"instances": [row]})
                assert status == 200 and body["predictions"] == [len(row)], body
                assert api.received[-1].headers["x-api-key"] == API_KEY
                assert "authorization" not in api.received[-1].headers
                api.api_key = "a key that was revoked"
                status, _, body, _ = client.predict({"instances": [row]})
                assert (status, body) == (403, {"message": "Forbidden"})
            finally:
                client.close()
            seen = everything_the_browser_gets(front.url)
    assert API_KEY not in seen


def test_upstream_refuses_what_another_site_could_send(deployment: Any,
                                                       aws_env: Credentials) -> None:
    with serving(FakeApi(url="", credentials=aws_env)) as api:
        upstream = connect(stage_url(api), "iam", REGION, deployment.config)
        with running_upstream(web_app(deployment, "test"), upstream.forward) as front:
            client = ApiClient(front.url)
            body = json.dumps({"instances": [{}]}).encode()
            try:
                # DNS rebinding: a foreign name that resolves to 127.0.0.1.
                assert client.post("/predict", body, headers={"Host": "attacker.example:80"})[0] == 403
                assert client.get("/spec")[0] == 200
                # A page of another site (the browser names it in Origin).
                status, _, answer, _ = client.post("/predict", body,
                                                   headers={"Origin": "http://attacker.example"})
                assert (status, answer["error"]["code"]) == (403, "forbidden_origin")
                # A form post or a no-CORS fetch can only send these types.
                for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
                    assert client.post("/predict", body, content_type=content_type)[0] == 415
                assert client.post("/v1/other", body)[0] == 403
            finally:
                client.close()
    assert api.received == []


def test_upstream_needs_credentials_a_key_and_https(deployment: Any, aws_env: Credentials,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(CliError, match="not https"):
        connect("http://abc123.execute-api.eu-west-1.amazonaws.com/v1", "iam", None, deployment.config)
    with pytest.raises(CliError, match="XGB_API_KEY"):
        connect("https://abc123.execute-api.eu-west-1.amazonaws.com/v1", "api_key", None, deployment.config)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    with pytest.raises(CliError, match="no AWS credentials found"):
        connect("https://abc123.execute-api.eu-west-1.amazonaws.com/v1", "iam", None, deployment.config)
    unauthenticated = replace(deployment.config, api=replace(deployment.config.api, auth="none"))
    upstream = connect("https://abc123.execute-api.eu-west-1.amazonaws.com/v1", None, None,
                       unauthenticated)
    assert upstream.target.auth == "none" and upstream.target.region == "eu-west-1"


def test_xgbapi_serve_upstream(deployment: Any, aws_env: Credentials, tmp_path: Any) -> None:
    """The command line: ready line, page line, signed forwarding, clean stop, nothing secret printed."""
    with serving(FakeApi(url="", credentials=aws_env)) as api:
        process = subprocess.Popen(
            [sys.executable, "-m", "cli", "serve", "--config", deployment.config.source,
             "--upstream", stage_url(api), "--auth", "iam", "--region", REGION, "--api-port", "0",
             "--prepared", str(deployment.prepared.directory)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
        assert process.stdout is not None
        printed = []
        try:
            for line in process.stdout:
                printed.append(line)
                match = re.match(r"ready: POST (http://127\.0\.0\.1:\d+)/predict -> (\S+)\. ", line)
                if match:
                    break
            assert match, "".join(printed) + (process.stderr.read() if process.stderr else "")
            url = match[1]
            assert match[2] == api.url
            assert f"  page: {url}/  (try the model in a browser; test rows from " in "".join(printed)
            client = ApiClient(url)
            try:
                row = {name: 2 for name in deployment.config.feature_names}
                status, _, body, _ = client.predict({"instances": [row]})
            finally:
                client.close()
            assert status == 200 and body["predictions"] == [2 * len(row)], body
            assert api.received[-1].signature_ok is True
        finally:
            process.send_signal(signal.SIGTERM)
            out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "stopped: the page's server closed" in out
    assert not [secret for secret in SECRETS if secret in "".join(printed) + out + err]


def test_a_non_loopback_address_is_announced(capsys: pytest.CaptureFixture[str]) -> None:
    from local.commands import _warn_if_exposed

    _warn_if_exposed("127.0.0.1", upstream=True)
    assert capsys.readouterr().err == ""
    _warn_if_exposed("0.0.0.0", upstream=True)
    assert "warning: listening on 0.0.0.0, not loopback" in capsys.readouterr().err


def test_the_page_through_the_upstream_in_a_browser(browser: Any, deployment: Any,
                                                    aws_env: Credentials) -> None:
    """The browser never signs: the page posts to its own server, which signs for the API."""
    with serving(FakeApi(url="", credentials=aws_env, variant="challenger")) as api:
        upstream = connect(stage_url(api), "iam", REGION, deployment.config)
        with running_upstream(web_app(deployment, upstream.describe()), upstream.forward) as front:
            open_page(browser, front.url)
            assert api.url in browser.find_element(By.ID, "where").text
            browser.find_element(By.ID, "fill").click()
            wait_for(lambda: "Test row 1 of" in browser.find_element(By.ID, "status").text, "the test row")
            browser.find_element(By.ID, "predict").click()
            prediction = browser.find_element(By.ID, "prediction")
            wait_for(prediction.is_displayed, "the prediction")
            row = api.completed[-1]["instances"][0]
            assert float(prediction.get_attribute("data-value")) == sum(row.values())
            assert browser.find_element(By.ID, "served-by").get_attribute("data-variant") == "challenger"
            assert api.received[-1].signature_ok is True
            # Throttled and refused: one readable line each, with the wait the API asked for.
            api.plan.append((429, {"Retry-After": "3"},
                             {"error": {"code": "THROTTLED", "message": "Too Many Requests"}}))
            api.plan.append((403, {}, {"message": "Forbidden"}))
            message = browser.find_element(By.ID, "message")
            for expected in ("Too many requests: the model is throttled (HTTP 429 THROTTLED): "
                             "Too Many Requests. Try again in 3 s.",
                             "Not allowed (HTTP 403): Forbidden."):
                browser.find_element(By.ID, "predict").click()
                wait_for(lambda expected=expected: message.text == expected, f"the line {expected!r}")
