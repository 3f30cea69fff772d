"""The one exception that becomes an answer other than 200 (and the log line's error code)."""

from __future__ import annotations

import json


class RequestError(Exception):
    """A response other than 200: status, a stable code and a message safe to show the caller."""

    def __init__(self, status: int, code: str, message: str, *, instance: int | None = None,
                 field: str | None = None, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.instance, self.field, self.retry_after = instance, field, retry_after


def quoted(value: str) -> str:
    """A client-supplied name for a message: quoted and cut short."""
    return json.dumps(value[:64] + ("..." if len(value) > 64 else ""))
