"""Fixtures for the generator tests: a fake OpenAI server on 127.0.0.1 and providers on it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from generator.providers.openai import OpenAIProvider, OpenAISettings
from genjournal.testing.fake_openai import FakeOpenAI

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
