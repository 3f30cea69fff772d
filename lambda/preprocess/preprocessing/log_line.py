"""The one structured log line per request: JSON on stdout, no request or response values.

Fields, in this order: msg, request_id (Lambda's), api_request_id (API Gateway's), status,
error_code, content_type, rows, target_variant, variant (the one that served), assignment
("pinned", "keyed", "random", or "endpoint" when SageMaker's weights chose), key_hash (a hash of
the assignment_key, never the key), weights (where the assignment's weights came from: endpoint,
last known, config), path ("fast", "exact" or "raw"), validation_ms, invoke_ms, total_ms, fault
(exception type, when there was one), level.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any


def start(request_id: Any) -> dict[str, Any]:
    """The record of a request that has not got anywhere yet (status 500 until set)."""
    return {
        "msg": "predict",
        "request_id": request_id,
        "api_request_id": None, "status": 500, "error_code": None, "content_type": None,
        "rows": 0, "target_variant": None, "variant": None, "assignment": None, "key_hash": None,
        "weights": None, "path": None,
        "validation_ms": None, "invoke_ms": None, "total_ms": None,
    }


def elapsed_ms(since: float) -> float:
    """Milliseconds since the ``time.perf_counter()`` reading ``since``, to the microsecond."""
    return round((time.perf_counter() - since) * 1000, 3)


def write(record: dict[str, Any], started: float) -> None:
    """Complete the record (total_ms, level) and print it as one line."""
    record["total_ms"] = elapsed_ms(started)
    status = record["status"]
    record["level"] = "ERROR" if status >= 500 else "WARN" if status >= 400 else "INFO"
    sys.stdout.write(json.dumps(record, separators=(",", ":")) + "\n")
