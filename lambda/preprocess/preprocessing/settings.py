"""The Lambda's configuration: its environment, read once into ``Settings`` (read-only by convention).

Variables (``contract.names.HandlerEnv``; the API stack sets the first two from the manifest):
  ENDPOINT_NAME         endpoint to invoke (required)
  FEATURE_NAMES         JSON list of feature names in training order (a plain numeric model), or
  INPUT_SPEC_FILE       the input spec's JSON file (raw fields, their encodings, the format:
                        contract/encoding.py), relative to the asset root or absolute
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
    if (not isinstance(names, list) or not names or len(set(names)) != len(names)
            or not all(isinstance(n, str) and n for n in names)):
        return (), "FEATURE_NAMES must be a non-empty list of unique names"
    return tuple(names), ""


def _input_spec(environ: Mapping[str, str]) -> tuple[InputSpec | None, str]:
    """The spec in INPUT_SPEC_FILE (read once, at cold start), or an error for the operator."""
    from contract.encoding import parse_spec  # only models with raw fields load the encoder

    path = os.path.join(ASSET_ROOT, environ[HandlerEnv.INPUT_SPEC_FILE])
    try:
        with open(path, encoding="utf-8") as handle:
            return parse_spec(json.load(handle)), ""
    except OSError:
        return None, f"INPUT_SPEC_FILE {path} cannot be read"
    except ValueError as error:
        return None, f"INPUT_SPEC_FILE {path} is not a usable input spec ({error})"


class Settings:
    """The handler's configuration, read once at cold start; treat it as immutable.

    A plain slotted class: a NamedTuple or a frozen dataclass costs more to build at import,
    and this module is compiled at every cold start.
    """

    __slots__ = ("config_error", "connect_timeout_seconds", "endpoint_accept", "endpoint_name",
                 "feature_names", "input_spec", "max_attempts", "max_body_bytes", "max_rows",
                 "null_policy", "read_timeout_seconds")

    def __init__(self, *, endpoint_name: str, feature_names: tuple[str, ...], config_error: str,
                 max_rows: int = MAX_ROWS_PER_REQUEST, max_body_bytes: int = ENDPOINT_BODY_LIMIT_BYTES,
                 null_policy: NullPolicy = "missing", endpoint_accept: str = "text/csv",
                 connect_timeout_seconds: int = 1, read_timeout_seconds: int = 10,
                 max_attempts: int = 2, input_spec: InputSpec | None = None) -> None:
        self.endpoint_name = endpoint_name
        self.feature_names = feature_names  # () when FEATURE_NAMES is unusable (see config_error)
        # Set for a model with categorical or text fields (INPUT_SPEC_FILE); None: numbers only.
        self.input_spec = input_spec
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
        input_spec = None
        if environ.get(HandlerEnv.INPUT_SPEC_FILE):
            input_spec, error = _input_spec(environ)
            feature_names = input_spec.field_names if input_spec is not None else ()
        else:
            feature_names, error = _features(environ)
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
        )
