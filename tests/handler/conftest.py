"""Fixtures for the handler tests; helpers live in support.py."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

import pytest
from botocore.stub import Stubber

from tests.handler.support import load_handler


@pytest.fixture(scope="module")
def h() -> ModuleType:
    """The handler with the default configuration (features f0, f1, f2)."""
    return load_handler()


@pytest.fixture
def stub(h: ModuleType) -> Iterator[Stubber]:
    with Stubber(h._runtime) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()
