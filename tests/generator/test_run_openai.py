"""`genjournal run --provider openai` against the fault-injecting server: the original design's
three crash tests, automated, plus auth failures, zero requests on a complete journal and
the billing ledger matching the journal.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from genjournal.testing.fake_openai import FakeOpenAI
from tests.generator.test_run import documents, journal_events, successes, write_plan

pytestmark = pytest.mark.slow

KEY = "sk-test-crashsuite-0123456789abcdefABCD"

ROOMS_PLAN = """
languages = ["en"]
images_per_style = 1
images_per_room = 1

[[subcategories]]
slug = "art-deco"
name = "Art Deco"

[[subcategories]]
slug = "japandi"
name = "Japandi"
""" + "".join(
    f'\n[[room_types]]\nslug = "{slug}"\nname = "{slug.replace("-", " ").title()}"\n'
    for slug in ("living-room", "kitchen", "bedroom", "bathroom", "home-office", "dining-room")
)
ROOMS = 6
STEPS = 2 * (1 + 1 + ROOMS * 2)


def env_for(server: FakeOpenAI) -> dict[str, str]:
    """Returns the environment of a run pointed at the fake server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "GENJOURNAL_"))}
    env.update({"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": server.base_url})
    return env


def run_cmd(data: Path, plan: Path, *extra: str) -> list[str]:
    """Returns the argv of an OpenAI-provider run."""
    return [
        sys.executable,
        "-m",
        "genjournal",
        "run",
        "--provider",
        "openai",
        "--plan",
        str(plan),
        "--data-dir",
        str(data),
        "--max-attempts",
        "3",
        *extra,
    ]


def run(
    server: FakeOpenAI, data: Path, plan: Path, *extra: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Runs the plan against the fake server to the end."""
    return subprocess.run(
        run_cmd(data, plan, *extra), capture_output=True, text=True, timeout=timeout, env=env_for(server)
    )


def billed_steps(server: FakeOpenAI) -> Counter[str]:
    """Counts the billable requests per ``<stream>/<step>`` in the server's ledger."""
    return Counter(entry.step for entry in server.ledger() if entry.billable and entry.step)


def test_crash_1_sigkill_mid_rooms_then_resume_never_rerequests_a_saved_step(tmp_path: Path) -> None:
    """SIGKILL mid-rooms leaves a partial style; the next run requests only what was not journaled."""
    data, plan = tmp_path / "data", write_plan(tmp_path, ROOMS_PLAN)
    with FakeOpenAI(seed=3, text={"latency_ms": 40}, image={"latency_ms": 40}) as server:
        proc = subprocess.Popen(
            run_cmd(data, plan, "--concurrency", "2"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env_for(server),
        )
        assert proc.stderr is not None
        seen = []
        while sum("Room" in line and "saved" in line for line in seen) < 3:
            line = proc.stderr.readline()
            assert line, "".join(seen)
            seen.append(line)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        saved = {f"{stream}/{step}" for stream, step in successes(journal_events(data))}
        status = documents(data)["art-deco"]["status"]
        assert status in ("basic", "partial")
        first_requests = billed_steps(server)
        server.clear_ledger()
        done = run(server, data, plan)
        assert done.returncode == 0, done.stderr
        second_requests = billed_steps(server)
        # Nothing journaled before the kill is paid for again.
        assert not saved & set(second_requests)
        # The second run paid only for what was missing: at most the calls in flight were wasted.
        in_flight_lost = set(first_requests) - saved
        assert len(in_flight_lost) <= 2
        final = successes(journal_events(data))
        assert len(final) == len(set(final)) == STEPS
        assert all(doc["status"] == "complete" for doc in documents(data).values())


def test_crash_2_one_room_failing_everywhere_is_isolated_and_retried_alone(tmp_path: Path) -> None:
    """Every living-room request failing: all else is saved, RoomFailed is journaled, exit 1; next run does only living-room."""
    data, plan = tmp_path / "data", write_plan(tmp_path, ROOMS_PLAN)
    with FakeOpenAI(seed=4, rules=[{"match": "living-room", "fault": "500"}]) as server:
        first = run(server, data, plan)
        assert first.returncode == 1, first.stderr
        events = journal_events(data)
        failed = [e for e in events if e["type"] == "RoomFailed"]
        assert {e["data"]["room_type"] for e in failed} == {"living-room"}  # type: ignore[index]
        assert all(e["data"]["error"]["status"] == 500 for e in failed)  # type: ignore[index]
        assert events[-1]["data"]["outcome"] == "failed"  # type: ignore[index]
        saved = {step for _, step in successes(events)}
        assert "room:living-room" not in saved
        assert len(successes(events)) == STEPS - 2 * 2  # living-room and its image, in both styles
        assert "FAILED" in first.stderr
        server.clear_faults()
        server.clear_ledger()
        second = run(server, data, plan)
        assert second.returncode == 0, second.stderr
        asked = {step.split("/", 1)[1] for step in billed_steps(server)}
        assert asked == {"room:living-room", "image:room:living-room:0"}
        assert all(doc["status"] == "complete" for doc in documents(data).values())


def test_crash_3_connections_dropped_for_a_while_then_resume_completes(tmp_path: Path) -> None:
    """All connections dropped for a window mid-run: the run survives or records failures; a re-run completes."""
    data, plan = tmp_path / "data", write_plan(tmp_path, ROOMS_PLAN)
    with FakeOpenAI(seed=5, text={"latency_ms": 30}, image={"latency_ms": 30}) as server:
        proc = subprocess.Popen(
            run_cmd(data, plan),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env_for(server),
        )
        time.sleep(0.6)
        server.outage(3.0)
        outage_ends = time.monotonic() + 3.0
        _, err = proc.communicate(timeout=120)
        assert proc.returncode in (0, 1), err
        if proc.returncode == 1:
            assert any(e["type"].endswith("Failed") for e in journal_events(data))
        # A run that gave up quickly ends inside the window; the re-run must start after it.
        time.sleep(max(0.0, outage_ends - time.monotonic()))
        done = run(server, data, plan)
        assert done.returncode == 0, done.stderr
        final = successes(journal_events(data))
        assert len(final) == len(set(final)) == STEPS


def test_complete_journal_sends_zero_requests(tmp_path: Path) -> None:
    """A run on a journal that has every planned step sends no API request and exits 0."""
    data, plan = tmp_path / "data", write_plan(tmp_path, ROOMS_PLAN)
    with FakeOpenAI(seed=6) as server:
        assert run(server, data, plan).returncode == 0
        server.clear_ledger()
        again = run(server, data, plan)
        assert again.returncode == 0
        assert server.ledger() == []


def test_ledger_and_journal_agree_on_every_billed_step(tmp_path: Path) -> None:
    """Each billed request of a clean run is one success event whose meta carries its usage."""
    data, plan = tmp_path / "data", write_plan(tmp_path, ROOMS_PLAN)
    with FakeOpenAI(seed=7) as server:
        assert run(server, data, plan).returncode == 0
        ledger = [entry for entry in server.ledger() if entry.billable]
        events = [
            e
            for e in journal_events(data)
            if e["type"] in ("StyleCreated", "RoomGenerated", "ImageGenerated")
        ]
        assert len(ledger) == len(events) == STEPS
        assert sum(entry.input_tokens or 0 for entry in ledger) == sum(
            e["meta"].get("input_tokens", 0) for e in events
        )  # type: ignore[union-attr]
        assert sum(entry.output_tokens or 0 for entry in ledger) == sum(
            e["meta"].get("output_tokens", 0) for e in events
        )  # type: ignore[union-attr]
        request_ids = {entry.request_id for entry in ledger}
        assert {e["meta"]["request_id"] for e in events} <= request_ids  # type: ignore[index]
        started = [e for e in journal_events(data) if e["type"] == "StepStarted"]
        assert len(started) == STEPS


def test_bad_api_key_aborts_the_run_once_with_exit_2_and_no_secret(tmp_path: Path) -> None:
    """A 401 stops the whole run: RunFinished(aborted), exit 2, no failure event per step, key never printed."""
    data, plan = tmp_path / "data", write_plan(tmp_path, ROOMS_PLAN)
    with FakeOpenAI(seed=8, bad_keys=[KEY]) as server:
        result = run(server, data, plan)
        assert result.returncode == 2, result.stderr
        assert KEY not in result.stderr and KEY[8:] not in result.stderr
        events = journal_events(data)
        assert events[-1]["type"] == "RunFinished"
        assert events[-1]["data"]["outcome"] == "aborted"  # type: ignore[index]
        assert not [e for e in events if e["type"].endswith("Failed")]
        assert len(server.ledger()) <= 4  # at most the calls already in flight
        for event in events:
            assert KEY not in str(event)


def test_rate_limited_server_is_survived_with_retries(tmp_path: Path) -> None:
    """Random 429s with Retry-After are retried; the run completes with every step journaled once."""
    data, plan = tmp_path / "data", write_plan(tmp_path, ROOMS_PLAN)
    faults = {"faults": {"429": 0.3}, "retry_after_s": 0.05}
    with FakeOpenAI(seed=9, text=faults, image=faults) as server:
        result = run(server, data, plan, "--max-attempts", "8")
        assert result.returncode == 0, result.stderr
        assert any(entry.status == 429 for entry in server.ledger())
        final = successes(journal_events(data))
        assert len(final) == len(set(final)) == STEPS
