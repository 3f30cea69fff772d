"""Forward one page's prediction requests to the deployed API, authenticated as ``xgbapi predict``
authenticates its own: SigV4 for ``execute-api`` with the user's AWS credentials
(``predict.sign``, the normal credential chain, refreshed when near expiry) or the ``x-api-key``
header from ``$XGB_API_KEY``. ``xgbapi serve --upstream`` (local/upstream.py) calls
``Upstream.forward`` for each ``POST /predict`` of its page: the credentials stay in this process.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import threading
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from client import predict
from client.predict import Target
from contract.errors import CliError
from contract.names import PREDICT_PATH
from contract.request import API_KEY_ENV, API_KEY_HEADER, AUTH_MODES, AuthMode

# API Gateway's integration timeout is 29 s; wait a little longer for its own answer.
UPSTREAM_TIMEOUT_S = 35.0
# The deployed API's answer headers a page may see; nothing else is passed on.
PASSED_HEADERS = ("content-type", "retry-after", "x-amzn-requestid", "x-amzn-errortype")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")

Response = tuple[int, dict[str, str], bytes]


def predict_url(url: str) -> str:
    """The predict URL of a stage URL (``https://abc.execute-api.../v1`` -> ``.../v1/predict``);
    a URL that already ends in ``/predict`` is kept."""
    parts = urlsplit(url.strip())
    path = parts.path.rstrip("/")
    if not path.endswith(PREDICT_PATH):
        path += PREDICT_PATH
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def connect(url: str, auth: str | None, region: str | None, config: Any) -> Upstream:
    """The deployed API at ``url``, with ``auth`` (default: the config's ``api.auth``).

    CliError, before anything listens, for a URL that is not https (http only on loopback, for
    tests), no credentials to sign with, or no API key in $XGB_API_KEY."""
    target_url = predict_url(url)
    parts = urlsplit(target_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CliError(f"--upstream {url!r} is not an http(s) URL", "give the API's stage URL, e.g. "
                       "https://abc123.execute-api.us-east-1.amazonaws.com/v1")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        raise CliError(f"--upstream {url} is not https; credentials would cross the network in the clear",
                       "use the API's https URL (the stack output PredictUrl)")
    mode = auth or (config.api.auth if config is not None else "iam")
    if mode not in AUTH_MODES:
        raise CliError(f"--auth {mode} is not one of {', '.join(AUTH_MODES)}", "pick one")
    chosen: AuthMode = mode
    host = predict._EXECUTE_API_HOST.match(parts.hostname)
    region = region or (host[1] if host else None) or (config.region if config is not None else None)
    target = Target(url=target_url, auth=chosen, region=region)
    if chosen == "iam":
        predict.sign_as_user(target, requests="the requests", asked_by="--auth iam")
    elif chosen == "api_key":
        key = os.environ.get(API_KEY_ENV)
        if not key:
            raise CliError("--auth api_key needs the API key", f"set {API_KEY_ENV} (aws apigateway "
                           "get-api-keys --include-values lists the stack's key)")
        target.api_key = key
    return Upstream(target)


def _error(status: int, code: str, message: str) -> Response:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    return status, {"Content-Type": "application/json"}, body


@dataclass
class Upstream:
    """Forwards request bodies to the target; keep-alive connections reused across threads."""

    target: Target
    timeout: float = UPSTREAM_TIMEOUT_S
    _idle: list[http.client.HTTPConnection] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def describe(self) -> str:
        how = {"iam": f"signed with your AWS credentials (SigV4, {self.target.region})",
               "api_key": f"with the API key from ${API_KEY_ENV}", "none": "unauthenticated"}
        return f"{self.target.url}, {how[self.target.auth]}"

    def forward(self, query: str, body: bytes, content_type: str) -> Response:
        """The deployed API's answer to ``POST <target>?query`` with ``body``; a 502/504 in the
        API's error shape when it cannot be reached or the request cannot be signed."""
        url = urlsplit(self.target.url)
        headers = {"Host": url.netloc, "Content-Type": content_type, "Accept": "application/json"}
        if self.target.auth == "api_key" and self.target.api_key:
            headers[API_KEY_HEADER] = self.target.api_key
        elif self.target.auth == "iam":
            signed = replace(self.target, url=self.target.url + (f"?{query}" if query else ""))
            try:
                headers = predict.sign(signed, body, headers)
            except CliError as error:
                return _error(502, "signing_failed", str(error))
        path = url.path + (f"?{query}" if query else "")
        for attempt in (1, 2):  # a kept-alive connection the API closed meanwhile: once more
            connection, reused = self._connection(url.scheme, url.hostname or "", url.port)
            try:
                connection.request("POST", path, body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
            except TimeoutError:
                connection.close()
                return _error(504, "upstream_timeout", f"the API at {url.netloc} did not answer "
                              f"within {self.timeout:.0f} s")
            except (OSError, http.client.HTTPException) as error:
                connection.close()
                if reused and attempt == 1:
                    continue
                return _error(502, "upstream_unreachable", f"the API at {url.netloc} could not be "
                              f"reached ({type(error).__name__})")
            if response.will_close:
                connection.close()
            else:
                with self._lock:
                    self._idle.append(connection)
            passed = {name: value for name, value in response.getheaders()
                      if name.lower() in PASSED_HEADERS}
            return response.status, passed, payload
        raise AssertionError("unreachable")

    def _connection(self, scheme: str, host: str,
                    port: int | None) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            if self._idle:
                return self._idle.pop(), True
        kind = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
        return kind(host, port, timeout=self.timeout), False

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            with contextlib.suppress(OSError):
                connection.close()
