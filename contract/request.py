"""The prediction request as plain data: its JSON schema and the API's auth modes.

API Gateway's request model (stacks) and the local API front's validator (local) are both
built from ``REQUEST_SCHEMA``; the handler reads the same field names.
"""

from __future__ import annotations

from typing import Any, Literal

INSTANCES = "instances"
TARGET_VARIANT = "target_variant"
INFERENCE_ID = "inference_id"
# A caller's stable id for sticky A/B assignment (a user id): the same key, the same variant.
ASSIGNMENT_KEY = "assignment_key"
ASSIGNMENT_KEY_MAX_CHARS = 256
REQUEST_FIELDS = frozenset((INSTANCES, TARGET_VARIANT, INFERENCE_ID, ASSIGNMENT_KEY))

# JSON Schema draft 4 (API Gateway's dialect). It checks the top-level shape only; the
# handler reports precise, per-field errors.
REQUEST_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "type": "object",
    "required": [INSTANCES],
    "properties": {
        INSTANCES: {"type": "array"},
        TARGET_VARIANT: {"type": "string"},
        INFERENCE_ID: {"type": "string"},
        ASSIGNMENT_KEY: {"type": "string"},
    },
}

AuthMode = Literal["iam", "api_key", "none"]
AUTH_MODES: tuple[AuthMode, ...] = ("iam", "api_key", "none")
# The header API Gateway reads an API key from, and the variable the client reads it from.
API_KEY_HEADER = "x-api-key"
API_KEY_ENV = "XGB_API_KEY"
