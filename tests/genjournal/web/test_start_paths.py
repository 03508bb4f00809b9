"""A run started from the dashboard works on the journal `serve` was given, wherever it ran from."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from genjournal.testing.fake_openai import FakeOpenAI
from tests.conftest import TEST_API_KEY
from tests.genjournal.web.conftest import PLAN, Served, clean_env, wait_until

pytestmark = pytest.mark.slow

RUN = [sys.executable, "-m", "genjournal", "run"]
#: the one step the first run cannot do (a server error on every attempt it makes)
LEFT_OVER = "style:japandi/image:room:kitchen:0"


def test_start_run_from_a_relative_data_dir_requests_only_the_pending_step(
    tmp_path: Path, fake_openai: FakeOpenAI, serve: Callable[..., Served]
) -> None:
    """`serve --data-dir data` (relative) + Start: the run resumes that journal and pays for one step."""
    env = clean_env(OPENAI_API_KEY=TEST_API_KEY, OPENAI_BASE_URL=fake_openai.base_url)
    (tmp_path / "plan.toml").write_text(PLAN, encoding="utf-8")
    fake_openai.configure({"rules": [{"match": LEFT_OVER, "fault": "500"}]})
    first = subprocess.run(
        [*RUN, "--plan", "plan.toml", "--data-dir", "data", "--provider", "openai", "--max-attempts", "1"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert first.returncode == 1, first.stderr  # everything but the one step is journaled
    assert [e.step for e in fake_openai.ledger() if e.status != 200] == [LEFT_OVER]
    fake_openai.configure({"rules": []})
    fake_openai.clear_ledger()

    served = serve(Path("data"), env=env, cwd=tmp_path)
    with httpx.Client(base_url=served.url, timeout=30) as page:
        found = re.search(r'<meta name="csrf" content="([^"]+)">', page.get("/").text)
        assert found is not None
        started = page.post(
            "/api/runs", json={}, headers={"origin": served.url, "x-genjournal-csrf": found.group(1)}
        )
        assert started.status_code == 202, started.text
        finished = wait_until(
            lambda: (
                (runs := page.get("/api/runs").json())["last_started_here"]["exit_code"] is not None and runs
            ),
            timeout=90,
        )
        assert finished["last_started_here"]["exit_code"] == 0, finished
        status = page.get("/api/status").json()

    assert [e.step for e in fake_openai.ledger()] == [LEFT_OVER]
    assert status["incomplete"] == []
    assert status["runs"] == 2
