"""Shared training-test data: the bundled diabetes set, prepared once per session (442 rows)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from training import data
from training.data import Prepared

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


@pytest.fixture(scope="session")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Prepared:
    out = tmp_path_factory.mktemp("prepared") / "diabetes"
    return data.write_prepared(data.load_table(None), out)


def _write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    lines = [",".join(header)] + [",".join(str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def write_csv() -> Callable[[Path, list[str], list[list[object]]], Path]:
    """Write a CSV with a header row (test modules cannot import conftest in importlib mode)."""
    return _write_csv
