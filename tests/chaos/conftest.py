"""Fixtures for the chaos tests: a tiny plan, a fake OpenAI server, `genjournal` as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from genjournal.testing.fake_openai import FakeOpenAI
from journal import failpoints

KEY = "sk-test-chaos-fixture-0123456789abcdef"

#: one style, one style image, one room with one image: four steps in a fixed order at concurrency 1
TINY_PLAN = """
languages = ["en"]
images_per_style = 1
images_per_room = 1

[[subcategories]]
slug = "art-deco"
name = "Art Deco"

[[room_types]]
slug = "kitchen"
name = "Kitchen"
"""


@pytest.fixture
def plan(tmp_path: Path) -> Path:
    """Writes the tiny plan and returns its path."""
    path = tmp_path / "plan.toml"
    path.write_text(TINY_PLAN)
    return path


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    """Yields a fault-free fake OpenAI server."""
    with FakeOpenAI(seed=11, image_px=16) as server:
        yield server


@pytest.fixture(autouse=True)
def _no_failpoints_left() -> Iterator[None]:
    """Switches off any failpoint an in-process test configured, whatever happened."""
    yield
    failpoints.configure(None)


def genjournal(
    *args: str,
    server: FakeOpenAI | None = None,
    failpoint_spec: str | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Runs ``genjournal`` as a subprocess (pointed at ``server`` if given); returns the result."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "GENJOURNAL_"))}
    if server is not None:
        env.update({"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": server.base_url})
    if failpoint_spec:
        env["GENJOURNAL_FAILPOINTS"] = failpoint_spec
    return subprocess.run(
        [sys.executable, "-m", "genjournal", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def run_args(plan: Path, data: Path, *extra: str) -> list[str]:
    """Returns the arguments of a one-step-at-a-time run of ``plan`` into ``data``."""
    return ["run", "--plan", str(plan), "--data-dir", str(data), "--concurrency", "1", *extra]
