"""A minimal keep-alive HTTP client for the local API (demo, tests, load benchmark)."""

from __future__ import annotations

import http.client
import json
import time
from typing import Any
from urllib.parse import urlsplit

from contract.names import PREDICT_PATH


class ApiClient:
    """One persistent connection; not thread-safe (use one per thread)."""

    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        url = urlsplit(base_url)
        self._connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=timeout)

    def post(self, path: str, body: bytes, content_type: str | None = "application/json",
             headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any, float]:
        """(status, headers, decoded JSON body, seconds) of one request."""
        all_headers = dict(headers or {})
        if content_type is not None:
            all_headers["Content-Type"] = content_type
        start = time.perf_counter()
        self._connection.request("POST", path, body=body, headers=all_headers)
        response = self._connection.getresponse()
        payload = response.read()
        elapsed = time.perf_counter() - start
        return response.status, dict(response.getheaders()), json.loads(payload or b"null"), elapsed

    def predict(self, document: dict[str, Any]) -> tuple[int, dict[str, str], Any, float]:
        return self.post(PREDICT_PATH, json.dumps(document).encode())

    def get(self, path: str) -> tuple[int, Any]:
        self._connection.request("GET", path)
        response = self._connection.getresponse()
        return response.status, json.loads(response.read() or b"null")

    def close(self) -> None:
        self._connection.close()
