"""Shared fixtures: a journal on every backend, a fake OpenAI server, and providers on it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from generator.providers.openai import OpenAIProvider, OpenAISettings
from genjournal.testing.fake_openai import FakeOpenAI
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


#: the API key the tests' providers use; any test may check it never leaks
TEST_API_KEY = "sk-test-genjournal-0123456789abcdefWXYZ"


@pytest.fixture(autouse=True)
def _no_real_openai(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keeps a developer's OpenAI settings from sending test traffic to the real API."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """Yields a running fake OpenAI server (seeded, no faults, no latency)."""
    with FakeOpenAI(seed=7) as server:
        yield server


@pytest.fixture
def make_provider(fake_openai: FakeOpenAI) -> Callable[..., OpenAIProvider]:
    """Returns a factory of OpenAI providers pointed at the fake server."""

    def make(**settings: Any) -> OpenAIProvider:
        return OpenAIProvider(OpenAISettings(**settings), api_key=TEST_API_KEY, base_url=fake_openai.base_url)

    return make
