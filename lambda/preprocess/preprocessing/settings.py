"""The Lambda's configuration: its environment, read once into ``Settings`` (read-only by convention).

Variables (``contract.names.HandlerEnv``; the API stack sets the first two from the manifest):
  ENDPOINT_NAME         endpoint to invoke (required)
  FEATURE_NAMES         JSON list of feature names in training order (a plain numeric model), or
  INPUT_SPEC_FILE       the input spec's JSON file (raw fields, their encodings, the format:
                        contract/encoding.py), relative to INPUT_SPEC_DIR; neither when every
                        variant has its own spec
  VARIANTS              JSON list of {"name", "weight"[, "spec"]}: the endpoint's variants, their
                        config weights (the fallback when the live weights cannot be read) and,
                        when the variants' specs differ, each one's spec file. Unset: the
                        handler does not assign variants (SageMaker's weights pick)
  INPUT_SPEC_DIR        where spec files are (default: the asset root)
  WEIGHTS_TTL_SECONDS   how long live weights are cached (default 30)
  SAGEMAKER_API_URL     the SageMaker API endpoint for DescribeEndpoint (default: beside the
                        runtime's)
  MAX_ROWS              instances per request (default contract.limits.MAX_ROWS_PER_REQUEST)
  MAX_BODY_BYTES        body limit after base64 decoding (default ENDPOINT_BODY_LIMIT_BYTES)
  NULL_POLICY           "missing" (null -> empty CSV field, XGBoost's missing value) or "reject"
                        (any other value rejects nulls too)
  ENDPOINT_ACCEPT       Accept sent to the container: "text/csv" (default) or "application/json"
  CONNECT_TIMEOUT_SECONDS / READ_TIMEOUT_SECONDS / MAX_ATTEMPTS   runtime client (1 / 10 / 2)

A missing or malformed required variable does not raise: ``config_error`` says what is wrong
(for the operator) and the service answers 500 ``handler_misconfigured`` to every request.
Malformed integers fall back to their defaults.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

from contract.limits import ENDPOINT_BODY_LIMIT_BYTES, MAX_ROWS_PER_REQUEST
from contract.names import HandlerEnv

if TYPE_CHECKING:
    from contract.encoding import InputSpec

ASSET_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

NullPolicy = Literal["missing", "reject"]


def _int(environ: Mapping[str, str], name: str, default: int) -> int:
    try:
        return int(environ.get(name, default))
    except ValueError:
        return default


def _features(environ: Mapping[str, str]) -> tuple[tuple[str, ...], str]:
    try:
        names = json.loads(environ.get(HandlerEnv.FEATURE_NAMES, "[]"))
    except ValueError:
        return (), "FEATURE_NAMES is not JSON"
    # Strings before uniqueness: set() of a list with a list or an object in it would raise.
    if (not isinstance(names, list) or not names
            or not all(isinstance(n, str) and n for n in names) or len(set(names)) != len(names)):
        return (), "FEATURE_NAMES must be a non-empty list of unique names"
    return tuple(names), ""


def _read_spec(environ: Mapping[str, str], name: str, what: str) -> tuple[InputSpec | None, str]:
    """The spec in file ``name`` (read once, at cold start), or an error for the operator."""
    from contract.encoding import parse_spec  # only models with raw fields load the encoder

    path = os.path.join(environ.get(HandlerEnv.INPUT_SPEC_DIR) or ASSET_ROOT, name)
    try:
        with open(path, encoding="utf-8") as handle:
            return parse_spec(json.load(handle)), ""
    except OSError:
        return None, f"{what} {path} cannot be read"
    except ValueError as error:
        return None, f"{what} {path} is not a usable input spec ({error})"


class Variant:
    """One variant the handler may assign: its name, config weight and own spec (None: the
    shared one, FEATURE_NAMES or INPUT_SPEC_FILE)."""

    __slots__ = ("name", "spec", "weight")

    def __init__(self, name: str, weight: float, spec: InputSpec | None) -> None:
        self.name, self.weight, self.spec = name, weight, spec


def _variants(environ: Mapping[str, str]) -> tuple[tuple[Variant, ...], str]:
    text = environ.get(HandlerEnv.VARIANTS)
    if not text:
        return (), ""
    try:
        items = json.loads(text)
        variants = []
        for item in items:
            name, weight = item["name"], item["weight"]
            if (not isinstance(name, str) or not name or isinstance(weight, bool)
                    or not isinstance(weight, (int, float)) or not weight >= 0):
                raise ValueError  # caught below: one message for any malformed item
            spec = None
            if item.get("spec"):
                spec, error = _read_spec(environ, item["spec"], f"the spec of variant {name}")
                if error:
                    return (), error
            variants.append(Variant(name, float(weight), spec))
    except (ValueError, TypeError, KeyError, OverflowError):  # Overflow: float() of a 400-digit int
        return (), "VARIANTS must be a JSON list of {name, weight >= 0[, spec]}"
    if not variants or len({v.name for v in variants}) != len(variants):
        return (), "VARIANTS must name at least one variant, each once"
    return tuple(variants), ""


class Settings:
    """The handler's configuration, read once at cold start; treat it as immutable.

    A plain slotted class: a NamedTuple or a frozen dataclass costs more to build at import,
    and this module is compiled at every cold start.
    """

    __slots__ = ("config_error", "connect_timeout_seconds", "endpoint_accept", "endpoint_name",
                 "feature_names", "input_spec", "max_attempts", "max_body_bytes", "max_rows",
                 "null_policy", "read_timeout_seconds", "sagemaker_api_url", "variants",
                 "weights_ttl_seconds")

    def __init__(self, *, endpoint_name: str, feature_names: tuple[str, ...], config_error: str,
                 max_rows: int = MAX_ROWS_PER_REQUEST, max_body_bytes: int = ENDPOINT_BODY_LIMIT_BYTES,
                 null_policy: NullPolicy = "missing", endpoint_accept: str = "text/csv",
                 connect_timeout_seconds: int = 1, read_timeout_seconds: int = 10,
                 max_attempts: int = 2, input_spec: InputSpec | None = None,
                 variants: tuple[Variant, ...] = (), weights_ttl_seconds: int = 30,
                 sagemaker_api_url: str = "") -> None:
        self.endpoint_name = endpoint_name
        self.feature_names = feature_names  # () when FEATURE_NAMES is unusable (see config_error)
        # Set for a model with categorical or text fields (INPUT_SPEC_FILE); None: numbers only.
        self.input_spec = input_spec
        self.variants = variants  # () when the handler does not assign variants
        self.weights_ttl_seconds = weights_ttl_seconds
        self.sagemaker_api_url = sagemaker_api_url
        self.config_error = config_error  # "" when the service can answer requests
        self.max_rows = max_rows
        self.max_body_bytes = max_body_bytes
        self.null_policy = null_policy
        self.endpoint_accept = endpoint_accept
        self.connect_timeout_seconds = connect_timeout_seconds
        self.read_timeout_seconds = read_timeout_seconds
        self.max_attempts = max_attempts

    @property
    def nulls_missing(self) -> bool:
        """Whether null (JSON) or an empty field (CSV) is sent on as XGBoost's missing value."""
        return self.null_policy == "missing"

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        """Read the variables from ``environ`` (``os.environ`` in Lambda); never raises."""
        endpoint_name = environ.get(HandlerEnv.ENDPOINT_NAME, "")
        input_spec: InputSpec | None = None
        feature_names: tuple[str, ...] = ()
        error = ""
        variants, variants_error = _variants(environ)
        if environ.get(HandlerEnv.INPUT_SPEC_FILE):
            input_spec, error = _read_spec(environ, environ[HandlerEnv.INPUT_SPEC_FILE],
                                           "INPUT_SPEC_FILE")
            feature_names = input_spec.field_names if input_spec is not None else ()
        elif environ.get(HandlerEnv.FEATURE_NAMES) or not variants or any(
                v.spec is None for v in variants):
            feature_names, error = _features(environ)
        # A failed VARIANTS leaves no variant specs, so FEATURE_NAMES is then read and usually
        # missing: name the cause, not that consequence.
        error = variants_error or error
        if not endpoint_name and not error:
            error = "ENDPOINT_NAME is not set"
        null_policy: NullPolicy = (
            "missing" if environ.get(HandlerEnv.NULL_POLICY, "missing") == "missing" else "reject")
        return cls(
            endpoint_name=endpoint_name,
            feature_names=feature_names,
            config_error=error,
            max_rows=_int(environ, HandlerEnv.MAX_ROWS, MAX_ROWS_PER_REQUEST),
            max_body_bytes=_int(environ, HandlerEnv.MAX_BODY_BYTES, ENDPOINT_BODY_LIMIT_BYTES),
            null_policy=null_policy,
            endpoint_accept=environ.get(HandlerEnv.ENDPOINT_ACCEPT, "text/csv"),
            connect_timeout_seconds=_int(environ, HandlerEnv.CONNECT_TIMEOUT_SECONDS, 1),
            read_timeout_seconds=_int(environ, HandlerEnv.READ_TIMEOUT_SECONDS, 10),
            max_attempts=_int(environ, HandlerEnv.MAX_ATTEMPTS, 2),
            input_spec=input_spec,
            variants=variants,
            weights_ttl_seconds=_int(environ, HandlerEnv.WEIGHTS_TTL_SECONDS, 30),
            sagemaker_api_url=environ.get(HandlerEnv.SAGEMAKER_API_URL, ""),
        )
