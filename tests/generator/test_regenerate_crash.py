"""Regeneration under a hard kill (real subprocesses, failpoints that `os._exit`): all or nothing, never twice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from genjournal.testing import samples
from journal.failpoints import FAILPOINT_EXIT_CODE
from tests.generator.test_run import journal_events, write_plan

pytestmark = pytest.mark.slow

SUCCESS = ("StyleCreated", "RoomGenerated", "ImageGenerated")


def genjournal(data: Path, *args: str, failpoints: str | None = None) -> subprocess.CompletedProcess[str]:
    """Runs a genjournal command on the data dir in a fresh process (offline; failpoints if given)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "GENJOURNAL_"))}
    if failpoints:
        env["GENJOURNAL_FAILPOINTS"] = failpoints
    return subprocess.run(
        [sys.executable, "-m", "genjournal", *args, "--data-dir", str(data)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def completed(tmp_path: Path) -> tuple[Path, Path]:
    """Returns (data dir, plan) of a finished offline run of the small plan."""
    data, plan = tmp_path / "data", write_plan(tmp_path, samples.PLAN_TOML)
    first = genjournal(data, "run", "--provider", "offline", "--plan", str(plan))
    assert first.returncode == 0, first.stderr
    return data, plan


def requests(data: Path) -> list[tuple[object, object]]:
    """Returns the (stream, step) of every regeneration request, in journal order."""
    return [
        (e["stream"], e["step"]) for e in journal_events(data) if e["type"] == "StepRegenerationRequested"
    ]


def test_a_regenerate_killed_before_its_commit_journals_nothing_and_a_rerun_marks_all(tmp_path: Path) -> None:
    """Killed at append-before-commit while marking two styles: no request at all; run again: every one."""
    data, _ = completed(tmp_path)
    selection = ("art-deco", "japandi", "--kind", "room")
    dry = genjournal(data, "regenerate", *selection, "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    planned = {(s["stream"], s["step"]) for s in json.loads(dry.stdout)["steps"]}
    assert {stream for stream, _ in planned} == {"style:art-deco", "style:japandi"}
    before = journal_events(data)
    killed = genjournal(
        data, "regenerate", *selection, "--reason", "flat", failpoints="append-before-commit=exit"
    )
    assert killed.returncode == FAILPOINT_EXIT_CODE, killed.stderr
    assert "failpoint append-before-commit hit" in killed.stderr
    assert journal_events(data) == before
    again = genjournal(data, "regenerate", *selection, "--reason", "flat")
    assert again.returncode == 0, again.stderr
    assert set(requests(data)) == planned
    assert len(requests(data)) == len(planned)


def test_a_run_killed_mid_regeneration_then_resumed_records_each_generation_2_once(tmp_path: Path) -> None:
    """A run of regenerated steps killed after a provider answer, then rerun: one generation-2 success each, verify clean."""
    data, plan = completed(tmp_path)
    marked = genjournal(
        data, "regenerate", "wabi-sabi", "japandi", "--kind", "room", "--reason", "r", "--json"
    )
    assert marked.returncode == 0, marked.stderr
    wanted = {(s["stream"], s["step"]) for s in json.loads(marked.stdout)["steps"]}
    assert len(wanted) > 2
    run = ("run", "--provider", "offline", "--plan", str(plan), "--concurrency", "1")
    killed = genjournal(data, *run, failpoints="provider-after-response=exit@2")
    assert killed.returncode == FAILPOINT_EXIT_CODE, killed.stderr
    partial = Counter(
        (e["stream"], e["step"])
        for e in journal_events(data)
        if e["type"] in SUCCESS and e["data"].get("generation") == 2
    )
    assert sum(partial.values()) < len(wanted)
    resumed = genjournal(data, *run)
    assert resumed.returncode == 0, resumed.stderr
    events = journal_events(data)
    seconds = Counter(
        (e["stream"], e["step"]) for e in events if e["type"] in SUCCESS and e["data"].get("generation") == 2
    )
    assert seconds == Counter(dict.fromkeys(wanted, 1))
    firsts = Counter(
        (e["stream"], e["step"]) for e in events if e["type"] in SUCCESS and "generation" not in e["data"]
    )
    assert set(firsts.values()) == {1}
    assert not any(e["data"].get("generation", 1) > 2 for e in events if e["type"] in SUCCESS)
    verified = genjournal(data, "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
