"""Start and stop the local request path: runtime server + API front, both on loopback."""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contract.config import AppConfig
from contract.errors import CliError
from local.api_front import ApiHTTPServer
from local.lambda_host import LOCAL_AWS, load_service, stack_environment
from local.loopback_http import LOOPBACK, url_host
from local.runtime_server import LocalRuntime, RuntimeHTTPServer
from local.variants import load_variants
from local.web import Examples, WebApp

HOST = LOOPBACK


class NotTrainedError(CliError):
    """The config's variants have no trained models yet."""


@dataclass
class LocalStack:
    api_url: str
    runtime_url: str
    runtime: LocalRuntime
    health: dict[str, Any]
    web: WebApp


def health_document(config: AppConfig, runtime: LocalRuntime) -> dict[str, Any]:
    return {
        "endpoint": config.endpoint_name,
        "variants": [
            {"name": v.name, "weight": v.weight, "manifest": str(v.manifest_path),
             "run_id": v.manifest.source.run_id, "healthy": v.booster is not None,
             **({"error": v.load_error} if v.load_error else {})}
            for v in runtime.variants.values()
        ],
    }


# The local handler reads the runtime's live weights more often than the Lambda's default 30 s,
# so a `xgbapi traffic --local` change shows in the split within seconds.
LOCAL_WEIGHTS_TTL_SECONDS = 5


@contextmanager
def running(config: AppConfig, *, api_port: int = 0, runtime_port: int = 0, seed: int | None = None,
            access_log: bool = False, weights_ttl_seconds: int = LOCAL_WEIGHTS_TTL_SECONDS,
            prepared: str | Path | None = None, host: str = HOST) -> Iterator[LocalStack]:
    """Serve the config's variants behind the real handler until the block ends.

    The API front also serves the web page (local/web.py), its "fill from a test row" rows from
    the test split in ``prepared``. ``host``: the API front's address (the runtime server
    always listens on loopback)."""
    if not config.has_models:
        missing = ", ".join(str(v.manifest_path) for v in config.variants)
        raise NotTrainedError(f"no trained model found ({missing})", "train the variants first (make train)")
    runtime = LocalRuntime(config.endpoint_name, load_variants(config), seed=seed)
    runtime_server = RuntimeHTTPServer((HOST, runtime_port), runtime)
    runtime_url = f"http://{HOST}:{runtime_server.server_address[1]}"
    with tempfile.TemporaryDirectory(prefix="xgbapi-lambda-") as spec_dir:  # read at "cold start"
        environment = stack_environment(config.endpoint_name, config.handler_variants, Path(spec_dir),
                                        api_url=f"{runtime_url}/", weights_ttl_seconds=weights_ttl_seconds)
        handler = load_service({**LOCAL_AWS, **environment}, runtime_url=runtime_url).handle
    health = health_document(config, runtime)
    web = WebApp(config.endpoint_name, config.handler_variants,
                 Examples.load(prepared, config.handler_variants))
    api_server = ApiHTTPServer((host, api_port), handler, health, access_log=access_log, web=web)
    threads = [threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                daemon=True) for server in (runtime_server, api_server)]
    for thread in threads:
        thread.start()
    try:
        yield LocalStack(api_url=f"http://{url_host(host)}:{api_server.server_address[1]}",
                         runtime_url=runtime_url, runtime=runtime, health=health, web=web)
    finally:
        for server in (api_server, runtime_server):
            server.shutdown()
            server.server_close()
        for thread in threads:
            thread.join(timeout=5)
