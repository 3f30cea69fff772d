"""What the loopback servers share: keep-alive HTTP/1.1, no Nagle delay, whole-body responses."""

from __future__ import annotations

import ipaddress
from http.server import BaseHTTPRequestHandler

LOOPBACK = "127.0.0.1"


class LoopbackHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's and http.client's pools expect
    # Headers and body leave in separate writes; with Nagle on, delayed ACKs add ~40 ms each.
    disable_nagle_algorithm = True

    def read_body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def respond(self, status: int, headers: dict[str, str], payload: bytes) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address to bind) is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: whatever it resolves to may be reachable from elsewhere
        return False


def url_host(host: str) -> str:
    """The host part of a URL that reaches a server bound to ``host`` from this machine."""
    return LOOPBACK if host in ("", "0.0.0.0", "::") else host
