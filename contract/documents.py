"""What the contract's JSON documents (manifests, model records) share: patterns, errors, reading."""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any, TypeVar

S3_URI = re.compile(r"^s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]/.+$")
VARIANT_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")  # SageMaker's variant-name pattern


class DocumentError(ValueError):
    """A document that cannot be used; the message names the file, the field and the fix."""

    def __init__(self, path: Path | str, field_name: str, problem: str) -> None:
        super().__init__(f"{path}: {field_name}: {problem}")
        self.path = str(path)
        self.field = field_name
        self.problem = problem


ErrorType = TypeVar("ErrorType", bound=DocumentError)


def read_json(path: Path, error: type[ErrorType], missing_fix: str) -> Any:
    """The decoded JSON of ``path``; an unreadable or invalid file raises ``error``."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(path, "<file>", f"does not exist; {missing_fix}") from None
    except IsADirectoryError:
        raise error(path, "<file>", "is a directory; name the file itself") from None
    except OSError as failure:
        raise error(path, "<file>", f"cannot be read ({failure.strerror})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as failure:
        raise error(path, "<file>", f"is not valid JSON (line {failure.lineno}, "
                    f"column {failure.colno}: {failure.msg})") from None


def write_atomically(target: Path, payload: str) -> Path:
    """Write ``payload`` to ``target`` through a temporary file: never a half-written document."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(payload)
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return target
