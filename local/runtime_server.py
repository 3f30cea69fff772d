"""A SageMaker runtime on loopback that speaks the InvokeEndpoint wire protocol, and the two
SageMaker API (control-plane) calls the product makes on its endpoint.

Runtime: ``POST /endpoints/{name}/invocations`` as botocore sends it (rest-json): the variant is
picked by weight or by the ``X-Amzn-SageMaker-Target-Variant`` header, the response names it in
``X-Amzn-Invoked-Production-Variant``, and faults come back in AWS's error format
(``x-amzn-ErrorType`` + JSON body) so botocore raises the exceptions it raises in AWS:
ValidationError for an unknown endpoint or variant, ModelError (424, with OriginalStatusCode)
when the container rejects the input or its model is broken. What the container reads and
answers (text/csv, text/libsvm, the Accept header) is local/variants.py, ``LocalVariant.invoke``.

Control plane: ``POST /`` in the SageMaker API's JSON 1.1 protocol, as botocore's ``sagemaker``
client sends it (``X-Amz-Target: SageMaker.<Operation>``, ``Content-Type:
application/x-amz-json-1.1``, a SigV4 ``Authorization`` for service ``sagemaker``, JSON body):
DescribeEndpoint and UpdateEndpointWeightsAndCapacities, so ``xgbapi traffic --local`` and the
preprocessing Lambda's own DescribeEndpoint work against ``make serve-local``. Answers are
``application/x-amz-json-1.1``; errors are HTTP 400 with ``x-amzn-ErrorType: <Code>`` and a
body ``{"__type": "<Code>", "message": ...}`` (botocore's json parser reads ``__type`` from the
body; AWS sometimes namespaces it, ``prefix#Code``, so callers should keep what follows ``#``).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import math
import re
import threading
import time
import uuid
from collections.abc import Callable
from email.message import Message
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from contract.limits import ENDPOINT_BODY_LIMIT_BYTES
from local.loopback_http import LoopbackHandler
from local.variants import InputError, LocalVariant, WeightedRouter

ACCOUNT = "123456789012"
_INVOCATIONS = re.compile(r"^/endpoints/(?P<name>[^/]+)/invocations$")

Response = tuple[int, dict[str, str], bytes]

JSON_11 = "application/x-amz-json-1.1"
TARGET_PREFIX = "SageMaker."  # the service model's targetPrefix
SIGNING_NAME = "sagemaker"  # the service model's signingName (its endpointPrefix is api.sagemaker)
# Access key id -> secret: requests signed with one of these keys have their SigV4 signature
# checked (the CLI's --local client and the local Lambda host sign with local/local).
LOCAL_CREDENTIALS = {"local": "local"}
_AUTHORIZATION = re.compile(r"^AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*"
                            r"SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]+)$")


class LocalRuntime:
    """What the endpoint does with one invocation or control-plane call; the HTTP layer only
    translates.

    Control plane (``control``): DescribeEndpoint and UpdateEndpointWeightsAndCapacities on this
    runtime's one endpoint. A weight change is live for the runtime's own weighted routing at
    once; DesiredInstanceCount is validated and recorded (DescribeEndpoint reports it) but one
    in-process model serves each variant whatever the count.

    ``control_plane_fault`` (None by default) makes the control-plane calls fail as AWS can,
    for tests of their callers; invocations are never affected:

    - ``(code, status)``, e.g. ``("ThrottlingException", 400)`` or ``("AccessDeniedException",
      400)``: every control-plane call answers that AWS error (``x-amzn-ErrorType`` and
      ``__type`` set to ``code``), before it changes anything.
    - ``("timeout", seconds)``: every control-plane call sleeps ``seconds`` and then answers as
      usual, so a caller with a shorter read timeout times out.

    Set and clear it from the test (``runtime.control_plane_fault = ("ThrottlingException",
    400)``, later ``= None``); it is read once per call. Note botocore retries
    ThrottlingException by itself: a client under test wants ``retries={"total_max_attempts": 1}``.

    ``credentials`` maps access key ids to secrets (default LOCAL_CREDENTIALS): a request signed
    with one of them must carry a valid SigV4 signature (InvalidSignatureException otherwise);
    one signed with any other key is accepted unchecked (there is no IAM here). A request with
    no SigV4 Authorization, or scoped to another service than ``sagemaker``, is refused as AWS
    refuses it.
    """

    def __init__(self, endpoint_name: str, variants: list[LocalVariant], *, seed: int | None = None,
                 region: str = "us-east-1", credentials: dict[str, str] | None = None) -> None:
        self.endpoint_name = endpoint_name
        self.variants = {v.name: v for v in variants}
        self.router = WeightedRouter(variants, seed)
        self.region = region
        self.counts = {v.name: 0 for v in variants}
        self._count_lock = threading.Lock()
        self.control_plane_fault: tuple[str, float] | None = None
        self.credentials = dict(LOCAL_CREDENTIALS if credentials is None else credentials)
        self.created_at = time.time()
        self._modified_at = self.created_at
        self._instance_counts = {v.name: 1 for v in variants}
        self._control_lock = threading.Lock()  # weights + instance counts + modified time

    @property
    def endpoint_arn(self) -> str:
        return f"arn:aws:sagemaker:{self.region}:{ACCOUNT}:endpoint/{self.endpoint_name.lower()}"

    @property
    def endpoint_config_name(self) -> str:
        # No EndpointConfig exists locally; a stable name that says so.
        return f"{self.endpoint_name}-local"

    def invoke(self, endpoint: str, body: bytes, content_type: str | None,
               target_variant: str | None,
               accept: str | None = None) -> Response:
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

    # --- control plane ----------------------------------------------------------------------

    def control(self, target: str | None, body: bytes, *, method: str = "POST", path: str = "/",
                headers: Message | None = None) -> Response:
        """One SageMaker API (JSON 1.1) request: ``target`` is its X-Amz-Target header,
        ``headers`` all of its headers (for Content-Type and the SigV4 check)."""
        headers = headers if headers is not None else Message()
        operation = (target or "").removeprefix(TARGET_PREFIX) if (target or "").startswith(
            TARGET_PREFIX) else None
        handler = self._operations().get(operation or "")
        if handler is None:
            return _json_error("UnknownOperationException", f"the local SageMaker API answers "
                               f"{', '.join(TARGET_PREFIX + name for name in self._operations())} "
                               f"only, not {target or 'a request without X-Amz-Target'}")
        media = (headers.get("Content-Type") or "").partition(";")[0].strip().lower()
        if media != JSON_11:
            # Local strictness: botocore (and a correct hand-built request) always sends it.
            return _json_error("SerializationException",
                               f"Content-Type must be {JSON_11} for {target}, not {media or 'none'}")
        refused = check_signature(method, path, headers, body, self.credentials)
        if refused is not None:
            return _json_error(*refused)
        fault = self.control_plane_fault
        if fault is not None:
            kind, value = fault
            if kind == "timeout":
                time.sleep(value)
            else:
                return _json_error(kind, _fault_message(kind, operation or "", self.endpoint_arn),
                                   status=int(value))
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            return _json_error("SerializationException", "the body is not JSON")
        if not isinstance(request, dict):
            return _json_error("SerializationException", "the body is not a JSON object")
        name = request.get("EndpointName")
        if not isinstance(name, str) or not name:
            return _json_error("ValidationException", "1 validation error detected: Value null at "
                               "'endpointName' failed to satisfy constraint: Member must not be null")
        if name != self.endpoint_name:
            return _json_error("ValidationException", f"Could not find endpoint "
                               f"\"arn:aws:sagemaker:{self.region}:{ACCOUNT}:endpoint/{name.lower()}\".")
        return handler(request)

    def _operations(self) -> dict[str, Callable[[dict[str, Any]], Response]]:
        return {"DescribeEndpoint": self._describe_endpoint,
                "UpdateEndpointWeightsAndCapacities": self._update_weights}

    def describe_endpoint(self) -> dict[str, Any]:
        """DescribeEndpoint's answer for this endpoint (the JSON the wire carries)."""
        with self._control_lock:
            weights = self.router.weights()
            counts = dict(self._instance_counts)
            modified = self._modified_at
        return {
            "EndpointName": self.endpoint_name,
            "EndpointArn": self.endpoint_arn,
            "EndpointConfigName": self.endpoint_config_name,
            "ProductionVariants": [
                {"VariantName": name, "CurrentWeight": weight, "DesiredWeight": weight,
                 "CurrentInstanceCount": counts[name], "DesiredInstanceCount": counts[name]}
                for name, weight in weights.items()],
            "EndpointStatus": "InService",
            "CreationTime": self.created_at,
            "LastModifiedTime": modified,
        }

    def _describe_endpoint(self, request: dict[str, Any]) -> Response:
        return _json_ok(self.describe_endpoint())

    def _update_weights(self, request: dict[str, Any]) -> Response:
        entries = request.get("DesiredWeightsAndCapacities")
        if not isinstance(entries, list) or not entries:
            return _json_error("ValidationException", "1 validation error detected: Value at "
                               "'desiredWeightsAndCapacities' failed to satisfy constraint: Member "
                               "must have length greater than or equal to 1")
        weights: dict[str, float] = {}
        counts: dict[str, int] = {}
        seen: set[str] = set()
        for entry in entries:
            problem = _entry_problem(entry)
            if problem:
                return _json_error("ValidationException", problem)
            name = entry["VariantName"]
            if name in seen:
                return _json_error("ValidationException", f"The variant name {name} appears more "
                                   "than once in DesiredWeightsAndCapacities.")
            seen.add(name)
            if "DesiredWeight" in entry:
                weights[name] = float(entry["DesiredWeight"])
            if "DesiredInstanceCount" in entry:
                counts[name] = int(entry["DesiredInstanceCount"])
        unknown = sorted(seen - set(self.variants))
        if unknown:
            return _json_error("ValidationException", f"The variant(s) {', '.join(unknown)} are not present "
                               f"in endpoint \"{self.endpoint_arn}\".")
        with self._control_lock:
            final = {**self.router.weights(), **weights}
            if not any(weight > 0 for weight in final.values()):
                return _json_error("ValidationException", "The desired weights would leave no "
                                   "variant with a weight greater than 0; at least one variant "
                                   "must keep a positive weight.")
            # DesiredWeight becomes the current weight at once: the local endpoint has no
            # Updating phase (in AWS, EndpointStatus is Updating until CurrentWeight follows).
            self.router.set_weights(weights)
            self._instance_counts.update(counts)
            self._modified_at = time.time()
        return _json_ok({"EndpointArn": self.endpoint_arn})


def _entry_problem(entry: object) -> str | None:
    """Why one DesiredWeightsAndCapacities member is invalid, or None."""
    if not isinstance(entry, dict):
        return "each member of DesiredWeightsAndCapacities must be an object"
    name = entry.get("VariantName")
    if not isinstance(name, str) or not name:
        return "VariantName is required in each member of DesiredWeightsAndCapacities"
    if "DesiredWeight" not in entry and "DesiredInstanceCount" not in entry:
        return (f"Variant {name}: give DesiredWeight, DesiredInstanceCount or both "
                "(ServerlessUpdateConfig is not supported locally).")
    weight = entry.get("DesiredWeight", 0)
    if (isinstance(weight, bool) or not isinstance(weight, int | float) or not math.isfinite(weight)
            or weight < 0):
        return (f"Value {weight!r} at 'desiredWeight' of variant {name} failed to satisfy "
                "constraint: Member must have value greater than or equal to 0")
    count = entry.get("DesiredInstanceCount", 0)
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        return (f"Value {count!r} at 'desiredInstanceCount' of variant {name} failed to satisfy "
                "constraint: Member must be an integer greater than or equal to 0")
    return None


def _fault_message(code: str, operation: str, endpoint_arn: str) -> str:
    if code == "ThrottlingException":
        return "Rate exceeded"
    if code == "AccessDeniedException":
        return (f"User: arn:aws:sts::{ACCOUNT}:assumed-role/local/local is not authorized to "
                f"perform: sagemaker:{operation} on resource: {endpoint_arn} because no "
                "identity-based policy allows the sagemaker:" + operation + " action")
    return f"{code} (injected by the local runtime's control_plane_fault)"


# --- SigV4 -------------------------------------------------------------------------------------

def check_signature(method: str, path: str, headers: Message, body: bytes,
                    credentials: dict[str, str]) -> tuple[str, str] | None:
    """(error code, message) when AWS would refuse the request's SigV4 Authorization, else None.

    Checked: an ``AWS4-HMAC-SHA256`` Authorization is present and well formed, its credential
    scope names service ``sagemaker``, and, when its access key id is in ``credentials``, the
    signature is the one that key's secret gives (header-based SigV4: canonical request of the
    method, path, query, the SignedHeaders and the body's SHA-256). Not checked: the region of
    the scope and the clock skew of X-Amz-Date.
    """
    authorization = headers.get("Authorization")
    if not authorization:
        return "MissingAuthenticationTokenException", "Missing Authentication Token"
    match = _AUTHORIZATION.match(authorization.strip())
    if match is None:
        return "IncompleteSignatureException", (
            "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' "
            f"parameters of an AWS4-HMAC-SHA256 signature: {authorization[:80]}")
    parts = match["credential"].split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        return "IncompleteSignatureException", f"Credential {match['credential']} is malformed."
    key_id, date, region, service, _ = parts
    if service != SIGNING_NAME:
        return "InvalidSignatureException", (f"Credential should be scoped to correct service: "
                                             f"'{SIGNING_NAME}'. ")
    secret = credentials.get(key_id)
    if secret is None:
        return None  # not one of ours: accepted unchecked
    amz_date = headers.get("X-Amz-Date") or ""
    signed = match["signed"].split(";")
    canonical = "\n".join([
        method, _canonical_path(path), _canonical_query(path),
        "".join(f"{name}:{_header_value(headers, name)}\n" for name in signed),
        match["signed"], _payload_hash(headers, body)])
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, match["signature"]):
        return "InvalidSignatureException", (
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. Consult the service "
            "documentation for details.")
    return None


def _canonical_path(path: str) -> str:
    # Non-S3 services sign the normalized path, each segment URI-encoded once.
    return quote(unquote(urlsplit(path).path) or "/", safe="/~")


def _canonical_query(path: str) -> str:
    pairs = parse_qsl(urlsplit(path).query, keep_blank_values=True)
    return "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(pairs))


def _header_value(headers: Message, name: str) -> str:
    return ",".join(" ".join(value.split()) for value in headers.get_all(name) or [])


def _payload_hash(headers: Message, body: bytes) -> str:
    declared = headers.get("X-Amz-Content-SHA256")
    return declared if declared else hashlib.sha256(body).hexdigest()


# --- wire formats -----------------------------------------------------------------------------

def _error(status: int, code: str, message: str, **extra: object) -> Response:
    body = json.dumps({"message": message, **extra}).encode()
    return status, {"Content-Type": "application/json", "x-amzn-ErrorType": code}, body


def _json_ok(document: dict[str, Any]) -> Response:
    return 200, {"Content-Type": JSON_11, "x-amzn-RequestId": str(uuid.uuid4())}, \
        json.dumps(document).encode()


def _json_error(code: str, message: str, status: int = 400) -> Response:
    """A JSON 1.1 error: botocore's json parser takes the code from the body's ``__type``."""
    body = json.dumps({"__type": code, "message": message}).encode()
    return status, {"Content-Type": JSON_11, "x-amzn-ErrorType": code,
                    "x-amzn-RequestId": str(uuid.uuid4())}, body


def _model_error(variant: LocalVariant, original_status: int,
                 message: str) -> Response:
    side = "server" if original_status >= 500 else "client"
    return _error(424, "ModelError", f"Received {side} error ({original_status}) from "
                  f"primary with message \"{message}\".", OriginalStatusCode=original_status,
                  OriginalMessage=message, LogStreamArn=f"local:{variant.name}")


class _Handler(LoopbackHandler):
    server: RuntimeHTTPServer

    def do_POST(self) -> None:
        body = self.read_body()
        path = self.path.split("?")[0]
        target = self.headers.get("X-Amz-Target")
        if target is not None and path != "/":  # the SageMaker API is served at / only
            status, headers, payload = _json_error("UnknownOperationException",
                                                   f"no operation at {self.path}")
        elif path == "/":  # the SageMaker API (JSON 1.1); without X-Amz-Target, an unknown one
            status, headers, payload = self.server.runtime.control(
                target, body, method="POST", path=self.path, headers=self.headers)
        else:
            match = _INVOCATIONS.match(path)
            if match is None:
                status, headers, payload = _error(404, "UnknownOperationException",
                                                  f"no operation at {self.path}")
            else:
                status, headers, payload = self.server.runtime.invoke(
                    unquote(match["name"]), body, self.headers.get("Content-Type", ""),
                    self.headers.get("X-Amzn-SageMaker-Target-Variant"), self.headers.get("Accept"))
        self.respond(status, headers, payload)

    def handle(self) -> None:
        # The caller may give up first (e.g. its read timeout against control_plane_fault "timeout").
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            super().handle()

    def log_message(self, format: str, *args: object) -> None:
        pass  # one access log is enough: the API front's


class RuntimeHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], runtime: LocalRuntime) -> None:
        super().__init__(address, _Handler)
        self.runtime = runtime
