"""The request's metadata fields: ``target_variant`` and ``inference_id``."""

from __future__ import annotations

import re
from typing import Any

from contract.request import INFERENCE_ID, TARGET_VARIANT
from preprocessing.errors import RequestError
from preprocessing.literals import Num

VARIANT_NAME = re.compile(r"[a-zA-Z0-9](?:-*[a-zA-Z0-9]){0,62}")
INFERENCE_ID_PATTERN = re.compile(r"[\x21-\x7e][\x20-\x7e]{0,63}")


def check_meta(target_variant: Any, inference_id: Any) -> None:
    """Raise unless each is absent (None) or a valid value for InvokeEndpoint."""
    if target_variant is not None and (
            not isinstance(target_variant, str) or type(target_variant) is Num
            or len(target_variant) > 63 or not VARIANT_NAME.fullmatch(target_variant)):
        raise RequestError(400, "invalid_target_variant",
                           f"{TARGET_VARIANT} must be a production variant name "
                           "(letters, digits and hyphens, at most 63 characters)")
    if inference_id is not None and (
            not isinstance(inference_id, str) or type(inference_id) is Num
            or not INFERENCE_ID_PATTERN.fullmatch(inference_id)):
        raise RequestError(400, "invalid_inference_id",
                           f"{INFERENCE_ID} must be 1-64 printable ASCII characters, "
                           "not starting with a space")
