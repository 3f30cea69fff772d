"""A LocalRuntime served over HTTP on loopback for the duration of a ``with`` block (tests)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from local.runtime_server import LocalRuntime, RuntimeHTTPServer


@contextmanager
def serving(runtime: LocalRuntime) -> Iterator[str]:
    """The base URL of ``runtime`` on a free loopback port; the server stops with the block."""
    server = RuntimeHTTPServer(("127.0.0.1", 0), runtime)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
