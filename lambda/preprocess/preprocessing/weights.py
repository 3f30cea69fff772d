"""The endpoint's live variant weights, for the Lambda's own variant assignment.

``LiveWeights.current()`` answers from a cache younger than WEIGHTS_TTL_SECONDS (default 30 s);
otherwise it calls DescribeEndpoint once and keeps the variants' ``CurrentWeight``. So a
runtime weight change (``xgbapi traffic``) reaches every Lambda instance within the TTL, without
a deploy, and a cold start makes at most one DescribeEndpoint call (on its first unpinned
request). A lookup that fails (throttled, denied, timed out, an unreadable answer) never fails
the request: the last weights read are used, else the config's, and the next lookup waits a
TTL too, so a failing API is not called on every request.

DescribeEndpoint is sent as one SigV4-signed JSON request built with botocore's signer rather
than through a botocore ``sagemaker`` client: creating that client parses the SageMaker API's
3.6 MB service model, about 100 ms of every cold start, for one read-only call. The role may
call it on this endpoint's ARN only (the API stack grants ``sagemaker:DescribeEndpoint``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

Fetch = Callable[[], dict[str, float]]
CONFIG, ENDPOINT, LAST_KNOWN = "config", "endpoint", "last known"  # where weights came from


class WeightsUnavailable(Exception):
    """DescribeEndpoint did not give usable weights (the message names why, for the log)."""


class LiveWeights:
    """Weights by variant name: the endpoint's, cached; falling back as the module says."""

    def __init__(self, configured: Mapping[str, float], fetch: Fetch | None, *, ttl_seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.configured = dict(configured)
        self._fetch = fetch
        self._ttl = ttl_seconds
        self._clock = clock
        self._weights = self.configured
        self.source = CONFIG
        self.last_error = ""
        self._checked_at: float | None = None
        self.lookups = 0  # DescribeEndpoint calls made (the tests and the bench read it)

    def current(self) -> dict[str, float]:
        """The weights to assign by now; never raises."""
        now = self._clock()
        if self._fetch is None or (self._checked_at is not None and now - self._checked_at < self._ttl):
            return self._weights
        self._checked_at = now
        self.lookups += 1
        try:
            live = self._fetch()
            weights = {name: live[name] for name in self.configured if name in live}
            if not any(w > 0 for w in weights.values()):
                raise WeightsUnavailable("no variant of this Lambda has a positive weight")
        except Exception as error:  # a weights lookup must never fail a request
            self.last_error = f"{type(error).__name__}: {error}"[:200]
            if self.source == ENDPOINT:
                self.source = LAST_KNOWN
            return self._weights
        self._weights, self.source, self.last_error = weights, ENDPOINT, ""
        return weights

    def expire(self) -> None:
        """Read the endpoint again on the next request (after it refused a variant we chose)."""
        self._checked_at = None


def describe_endpoint_fetch(session: Any, endpoint_name: str, api_url: str, *,
                            timeout_seconds: float) -> Fetch:
    """A Fetch that reads ``endpoint_name``'s current weights with a signed DescribeEndpoint.

    ``session``: the botocore session whose credentials and region the handler uses; ``api_url``:
    the SageMaker API endpoint (``https://api.sagemaker.<region>.amazonaws.com/``, or the local
    runtime server).
    """
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.httpsession import URLLib3Session

    region = session.get_config_variable("region")
    http = URLLib3Session(timeout=timeout_seconds)
    body = json.dumps({"EndpointName": endpoint_name})

    def fetch() -> dict[str, float]:
        credentials = session.get_credentials()
        if credentials is None:
            raise WeightsUnavailable("no AWS credentials")
        request = AWSRequest(method="POST", url=api_url, data=body, headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "SageMaker.DescribeEndpoint"})
        SigV4Auth(credentials.get_frozen_credentials(), "sagemaker", region).add_auth(request)
        response = http.send(request.prepare())
        if response.status_code != 200:
            code = response.headers.get("x-amzn-ErrorType") or _error_type(response.content)
            raise WeightsUnavailable(f"DescribeEndpoint answered {response.status_code} {code}")
        variants = json.loads(response.content)["ProductionVariants"]
        return {v["VariantName"]: float(v["CurrentWeight"]) for v in variants}

    return fetch


def _error_type(content: bytes) -> str:
    try:
        return str(json.loads(content).get("__type", "")).rpartition("#")[2]
    except (ValueError, AttributeError):
        return ""


def api_url_for(runtime_endpoint_url: str) -> str:
    """The SageMaker API URL beside a sagemaker-runtime URL (same partition, FIPS or not)."""
    return runtime_endpoint_url.replace("://runtime.sagemaker.", "://api.sagemaker.", 1).replace(
        "://runtime-fips.sagemaker.", "://api-fips.sagemaker.", 1).rstrip("/") + "/"


def live_weights(settings: Any, session: Any, runtime_endpoint_url: str) -> LiveWeights:
    """The handler's LiveWeights: the config's weights, then the endpoint's as read by a signed
    DescribeEndpoint (none when the handler assigns no variants)."""
    configured = {v.name: v.weight for v in settings.variants}
    fetch = None
    if settings.variants:
        api_url = settings.sagemaker_api_url or api_url_for(runtime_endpoint_url)
        fetch = describe_endpoint_fetch(session, settings.endpoint_name, api_url,
                                        timeout_seconds=settings.connect_timeout_seconds)
    return LiveWeights(configured, fetch, ttl_seconds=settings.weights_ttl_seconds)
