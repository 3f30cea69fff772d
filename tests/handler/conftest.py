"""Fixtures for the handler tests; helpers live in support.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from botocore.stub import Stubber

from tests.handler.support import PredictionService, load_handler


@pytest.fixture(scope="module")
def h() -> PredictionService:
    """The handler's service with the default configuration (features f0, f1, f2)."""
    return load_handler()


@pytest.fixture
def stub(h: PredictionService) -> Iterator[Stubber]:
    with Stubber(h.runtime) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()
