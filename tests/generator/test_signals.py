"""A real `genjournal run` subprocess stopped by SIGTERM/SIGINT, or killed with SIGKILL, then resumed."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.generator.test_run import PLAN, journal_events, successes, write_plan

pytestmark = pytest.mark.slow


def start_run(
    data: Path, plan: Path, *, slow_s: float = 0.05, extra: tuple[str, ...] = ()
) -> subprocess.Popen[str]:
    """Starts `genjournal run` as a subprocess whose every step takes about ``slow_s`` seconds."""
    env = {**os.environ, "GENJOURNAL_FAILPOINTS": f"step-before-call=sleep:{slow_s}"}
    env.pop("OPENAI_API_KEY", None)
    return subprocess.Popen(
        [sys.executable, "-m", "genjournal", "run", "--plan", str(plan), "--data-dir", str(data), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def wait_for_saved(proc: subprocess.Popen[str], count: int, timeout: float = 30) -> list[str]:
    """Reads stderr until ``count`` steps were reported saved; returns the lines read."""
    assert proc.stderr is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(line)
        if sum("saved" in seen for seen in lines) >= count:
            return lines
    raise AssertionError(f"only {lines} before timeout")


def integrity(data: Path) -> str:
    """Returns SQLite's integrity_check verdict for the journal."""
    conn = sqlite3.connect(data / "journal.db")
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def finish(data: Path, plan: Path) -> subprocess.CompletedProcess[str]:
    """Runs the plan to completion and returns the finished process."""
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "GENJOURNAL_FAILPOINTS")}
    return subprocess.run(
        [sys.executable, "-m", "genjournal", "run", "--plan", str(plan), "--data-dir", str(data)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_stops_cleanly_with_exit_130_and_a_later_run_completes(tmp_path: Path, signum: int) -> None:
    """A signal mid-run journals RunFinished(interrupted), exits 130, and the next run finishes the plan."""
    data = tmp_path / "data"
    plan = write_plan(tmp_path)
    proc = start_run(data, plan)
    wait_for_saved(proc, 3)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    events = journal_events(data)
    assert events[-1]["type"] == "RunFinished"
    assert events[-1]["data"]["outcome"] == "interrupted"  # type: ignore[index]
    saved_before = set(successes(events))
    assert 3 <= len(saved_before) < 18
    done = finish(data, plan)
    assert done.returncode == 0, done.stderr
    final = successes(journal_events(data))
    assert len(final) == len(set(final)) == 18
    assert f"{18 - len(saved_before)} steps to run" in done.stderr


def test_second_signal_exits_at_once(tmp_path: Path) -> None:
    """A second SIGTERM does not wait for in-flight steps: the process exits 130 immediately."""
    data = tmp_path / "data"
    plan = write_plan(tmp_path)
    proc = start_run(data, plan, slow_s=0.5)
    wait_for_saved(proc, 1)
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.05)
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert time.monotonic() - started < 2
    assert integrity(data) == "ok"


def test_sigkill_mid_run_loses_nothing_saved_and_resume_redoes_nothing(tmp_path: Path) -> None:
    """SIGKILL mid-run: the journal opens clean, and resuming only runs the steps never saved."""
    data = tmp_path / "data"
    plan = write_plan(tmp_path)
    proc = start_run(data, plan)
    reported = wait_for_saved(proc, 5)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert integrity(data) == "ok"
    events = journal_events(data)
    assert events[-1]["type"] != "RunFinished"  # it crashed
    saved = successes(events)
    # Every step the process reported as saved is in the journal (it said so after the commit).
    assert len(saved) >= sum("saved" in line for line in reported)
    done = finish(data, plan)
    assert done.returncode == 0, done.stderr
    final = successes(journal_events(data))
    assert final[: len(saved)] == saved
    assert len(final) == len(set(final)) == 18


def test_small_plan_still_reports_against_its_own_plan(tmp_path: Path) -> None:
    """After a run of a small plan, the projection measures completeness against that plan."""
    data = tmp_path / "data"
    plan = write_plan(tmp_path, PLAN)
    assert finish(data, plan).returncode == 0
    from tests.generator.test_run import documents

    docs = documents(data)
    assert len(docs) == 3
    assert all(doc["progress"]["roomsPlanned"] == 2 for doc in docs.values())  # type: ignore[index]
