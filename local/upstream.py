"""``xgbapi serve --upstream URL``: the web page in front of the deployed API.

A browser cannot sign SigV4 requests, and an API key in a page is public. So this server serves
the same page (local/web.py, its form drawn from the config's model manifests) and forwards
``POST /predict`` to the deployed API through ``forward``, which signs each request with the
user's AWS credentials or adds the API key (client/upstream.py: the predict client's signing).
Nothing of the credentials reaches the browser: the page, its documents and the forwarded
answers carry none, and no header of the browser's request is forwarded.

Requests the server refuses before forwarding (the user's credentials are at stake):
- a ``Host`` other than this server's loopback address (DNS rebinding), unless it listens on
  another address (``--host``), and an ``Origin`` of another site;
- a ``Content-Type`` other than ``application/json`` or ``text/csv``: neither can be sent across
  sites without a CORS preflight, which this server never grants;
- a path other than ``/predict`` and a body over API Gateway's 10 MB.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from urllib.parse import urlsplit

from contract.limits import API_PAYLOAD_LIMIT_BYTES
from contract.names import PREDICT_PATH
from local.loopback_http import LoopbackHandler, is_loopback, url_host
from local.web import Response, WebApp, error_response

# forward(query, body, content_type) -> the deployed API's (status, headers, body).
Forward = Callable[[str, bytes, str], Response]
FORWARDED_TYPES = ("application/json", "text/csv")
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


class _Handler(LoopbackHandler):
    server: UpstreamHTTPServer

    def do_GET(self) -> None:
        if not self._trusted():
            return
        page = self.server.web.get(self.path)
        if page is not None:
            self.respond(*page)
        else:
            self.respond(*error_response(403, "MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token"))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > API_PAYLOAD_LIMIT_BYTES:
            self.close_connection = True
            self.respond(*error_response(413, "REQUEST_TOO_LARGE", "Request Too Long"))
            return
        body = self.read_body()
        if not self._trusted():
            return
        url = urlsplit(self.path)
        if url.path != PREDICT_PATH:
            self.respond(*error_response(403, "MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token"))
            return
        content_type = self.headers.get("Content-Type") or ""
        if content_type.split(";")[0].strip().lower() not in FORWARDED_TYPES:
            self.respond(*error_response(415, "unsupported_media_type", "Content-Type must be "
                                        "application/json or text/csv"))
            return
        self.respond(*self.server.forward(url.query, body, content_type))

    def _trusted(self) -> bool:
        """False (and answered 403) for a request another site's page may have made."""
        host = (self.headers.get("Host") or "").strip().lower()
        allowed = self.server.allowed_hosts
        if allowed is not None and host not in allowed:
            self.respond(*error_response(403, "forbidden_host", "this server answers requests for "
                                        f"{sorted(allowed)[0]} only"))
            return False
        origin = self.headers.get("Origin")
        if origin is not None and origin.lower() != f"http://{host}":
            self.respond(*error_response(403, "forbidden_origin", "requests from other sites' pages "
                                        "are refused"))
            return False
        return True

    def log_message(self, format: str, *args: object) -> None:
        if self.server.access_log:
            super().log_message(format, *args)


class UpstreamHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], web: WebApp, forward: Forward, *,
                 access_log: bool = False) -> None:
        super().__init__(address, _Handler)
        self.web = web
        self.forward = forward
        self.access_log = access_log
        port = self.server_address[1]
        # Bound to loopback: only this machine's own names of it. Elsewhere: any (the user chose).
        self.allowed_hosts: frozenset[str] | None = (
            frozenset(f"{name}:{port}" for name in LOOPBACK_NAMES) if is_loopback(address[0]) else None)


@dataclass
class UpstreamFront:
    url: str  # the page's address
    web: WebApp


@contextmanager
def running_upstream(web: WebApp, forward: Forward, *, host: str = "127.0.0.1", port: int = 0,
                     access_log: bool = False) -> Iterator[UpstreamFront]:
    """Serve the page and forward ``POST /predict`` until the block ends."""
    server = UpstreamHTTPServer((host, port), web, forward, access_log=access_log)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield UpstreamFront(url=f"http://{url_host(host)}:{server.server_address[1]}", web=web)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
