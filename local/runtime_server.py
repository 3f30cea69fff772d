"""A SageMaker runtime on loopback that speaks the InvokeEndpoint wire protocol.

``POST /endpoints/{name}/invocations`` as botocore sends it (rest-json): the variant is picked
by weight or by the ``X-Amzn-SageMaker-Target-Variant`` header, the response names it in
``X-Amzn-Invoked-Production-Variant``, and faults come back in AWS's error format
(``x-amzn-ErrorType`` + JSON body) so botocore raises the exceptions it raises in AWS:
ValidationError for an unknown endpoint or variant, ModelError (424, with OriginalStatusCode)
when the container rejects the input or its model is broken. What the container reads and
answers (text/csv, text/libsvm, the Accept header) is local/variants.py, ``LocalVariant.invoke``.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import ThreadingHTTPServer
from urllib.parse import unquote

from contract.limits import ENDPOINT_BODY_LIMIT_BYTES
from local.loopback_http import LoopbackHandler
from local.variants import InputError, LocalVariant, WeightedRouter

ACCOUNT = "123456789012"
_INVOCATIONS = re.compile(r"^/endpoints/(?P<name>[^/]+)/invocations$")


class LocalRuntime:
    """What the endpoint does with one invocation; the HTTP layer only translates."""

    def __init__(self, endpoint_name: str, variants: list[LocalVariant], *, seed: int | None = None,
                 region: str = "us-east-1") -> None:
        self.endpoint_name = endpoint_name
        self.variants = {v.name: v for v in variants}
        self.router = WeightedRouter(variants, seed)
        self.region = region
        self.counts = {v.name: 0 for v in variants}
        self._count_lock = threading.Lock()

    def invoke(self, endpoint: str, body: bytes, content_type: str | None,
               target_variant: str | None,
               accept: str | None = None) -> tuple[int, dict[str, str], bytes]:
        """``accept`` is the request's Accept header: botocore sends InvokeEndpoint's Accept
        there, and SageMaker hands it to the container, which picks the response format."""
        if endpoint != self.endpoint_name:
            return _error(400, "ValidationError",
                          f"Endpoint {endpoint} of account {ACCOUNT} not found.")
        if target_variant is not None:
            variant = self.variants.get(target_variant)
            if variant is None:
                return _error(400, "ValidationError", f"The variant {target_variant!r} is not one "
                              f"of the production variants of endpoint {endpoint}.")
        else:
            variant = self.router.pick()
        with self._count_lock:
            self.counts[variant.name] += 1
        if len(body) > ENDPOINT_BODY_LIMIT_BYTES:
            return _model_error(variant, 413, f"request body exceeds {ENDPOINT_BODY_LIMIT_BYTES} bytes")
        try:
            response_type, predictions = variant.invoke(body, content_type, accept)
        except InputError as error:
            return _model_error(variant, error.status, str(error))
        return 200, {"Content-Type": response_type,
                     "X-Amzn-Invoked-Production-Variant": variant.name}, predictions


def _error(status: int, code: str, message: str, **extra: object) -> tuple[int, dict[str, str], bytes]:
    body = json.dumps({"message": message, **extra}).encode()
    return status, {"Content-Type": "application/json", "x-amzn-ErrorType": code}, body


def _model_error(variant: LocalVariant, original_status: int,
                 message: str) -> tuple[int, dict[str, str], bytes]:
    side = "server" if original_status >= 500 else "client"
    return _error(424, "ModelError", f"Received {side} error ({original_status}) from "
                  f"primary with message \"{message}\".", OriginalStatusCode=original_status,
                  OriginalMessage=message, LogStreamArn=f"local:{variant.name}")


class _Handler(LoopbackHandler):
    server: RuntimeHTTPServer

    def do_POST(self) -> None:
        body = self.read_body()
        match = _INVOCATIONS.match(self.path.split("?")[0])
        if match is None:
            status, headers, payload = _error(404, "UnknownOperationException",
                                              f"no operation at {self.path}")
        else:
            status, headers, payload = self.server.runtime.invoke(
                unquote(match["name"]), body, self.headers.get("Content-Type", ""),
                self.headers.get("X-Amzn-SageMaker-Target-Variant"), self.headers.get("Accept"))
        self.respond(status, headers, payload)

    def log_message(self, format: str, *args: object) -> None:
        pass  # one access log is enough: the API front's


class RuntimeHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], runtime: LocalRuntime) -> None:
        super().__init__(address, _Handler)
        self.runtime = runtime
