"""Shared fixtures: a journal on every backend, and handles on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from journal.store import EventStore
from tests.journal.backends import BACKEND_PARAMS, Backend, make_backend


@pytest.fixture(params=BACKEND_PARAMS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Yields each journal backend in turn (a real MongoDB only when MONGODB_URI is set)."""
    made = make_backend(request.param, tmp_path)
    try:
        yield made
    finally:
        made.cleanup()


@pytest.fixture
def store(backend: Backend) -> Iterator[EventStore]:
    """Yields an open store on the backend under test."""
    opened = backend.open()
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture(autouse=True)
def _quiet_structlog() -> Iterator[None]:
    """Keeps structlog's global configuration from leaking between tests."""
    yield
    structlog.reset_defaults()
