"""The chaos checks themselves: each passes a consistent journal and flags its own violation."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from tests.chaos import checks
from tests.chaos.accounting import reconcile

RUN = "run-1"
PLAN: dict[str, Any] = {
    "images_per_style": 0,
    "images_per_room": 1,
    "subcategories": [{"slug": "art-deco", "name": "Art Deco"}],
    "room_types": [{"slug": "kitchen", "name": "Kitchen"}],
}


class Journal:
    """Builds envelopes the way the store numbers them: positions and stream versions gap-free."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.versions: dict[str, int] = {}

    def add(
        self,
        stream: str,
        type_name: str,
        *,
        step: str | None = None,
        run_id: str = RUN,
        data: dict[str, Any] | None = None,
        meta: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Appends one envelope and returns it."""
        self.versions[stream] = self.versions.get(stream, 0) + 1
        event = {
            "id": f"e{len(self.events) + 1}",
            "stream": stream,
            "version": self.versions[stream],
            "position": len(self.events) + 1,
            "type": type_name,
            "run_id": run_id,
            "step": step,
            "data": data or {},
            "meta": meta or {},
        }
        self.events.append(event)
        return event

    def step(
        self,
        step: str,
        request_id: str,
        *,
        run_id: str = RUN,
        tokens: int = 10,
        outcome: str = "RoomGenerated",
    ) -> dict[str, Any]:
        """Journals StepStarted and the step's outcome, as a run does."""
        self.add(
            f"run:{run_id}",
            "StepStarted",
            run_id=run_id,
            data={"stream": "style:art-deco", "step": step, "kind": "text"},
        )
        return self.add(
            "style:art-deco",
            outcome,
            step=step,
            run_id=run_id,
            meta={"input_tokens": tokens, "request_id": request_id},
        )


def ledger_entry(step: str, request_id: str, *, outcome: str = "ok", tokens: int = 10) -> dict[str, Any]:
    """Returns a ledger entry like the fake server's, for a call the real API bills."""
    billable = outcome in ("ok", "malformed")
    return {
        "path": "/v1/chat/completions",
        "family": "text",
        "step": f"style:art-deco/{step}",
        "billable": billable,
        "outcome": outcome,
        "request_id": request_id,
        "input_tokens": tokens if billable else None,
        "output_tokens": None,
        "images": None,
    }


def complete_journal() -> Journal:
    """Returns a journal in which run-1 did the whole small plan (no images)."""
    journal = Journal()
    journal.add(f"run:{RUN}", "RunStarted")
    journal.step("content", "r1", outcome="StyleCreated")
    journal.step("room:kitchen", "r2")
    return journal


def test_a_consistent_journal_passes_every_journal_check() -> None:
    """Gap-free versions and positions, one success per step, dependencies first: no findings."""
    events = complete_journal().events
    assert checks.check_journal(events, gap_free_positions=True) == []
    assert checks.check_dependencies(events) == []
    assert checks.check_prefix(events[:2], events) == []


def test_a_duplicate_success_is_flagged() -> None:
    """Two success events for one (stream, step) are reported."""
    journal = complete_journal()
    journal.add("style:art-deco", "RoomGenerated", step="room:kitchen")
    assert any(
        "duplicate success" in p for p in checks.check_journal(journal.events, gap_free_positions=True)
    )


def test_version_and_position_gaps_are_flagged() -> None:
    """A missing stream version and a missing position are both reported."""
    events = complete_journal().events
    del events[1]
    found = checks.check_journal(events, gap_free_positions=True)
    assert any("versions are not" in p for p in found)
    assert any("positions have gaps" in p for p in found)
    assert not any("positions have gaps" in p for p in checks.check_journal(events, gap_free_positions=False))


def test_a_rewritten_or_missing_earlier_row_is_flagged() -> None:
    """A row that changed after a crash, or a journal that shrank, is reported."""
    before = [(1, "a"), (2, "b")]
    assert checks.check_prefix(before, [(1, "a"), (2, "B"), (3, "c")]) == [
        "row 2 changed: (2, 'b') -> (2, 'B')"
    ]
    assert "shrank" in checks.check_prefix(before, [(1, "a")])[0]


def test_a_step_started_before_its_dependency_was_journaled_is_flagged() -> None:
    """A room started before its style's content was journaled breaks invariant 1."""
    journal = Journal()
    journal.step("room:kitchen", "r2")
    journal.add("style:art-deco", "StyleCreated", step="content")
    assert len(checks.check_dependencies(journal.events)) == 2  # its StepStarted and its success


def test_pending_steps_need_a_failure_event_of_the_last_run() -> None:
    """A planned step neither done nor explained by its (or its parent's) failure is flagged."""
    journal = Journal()
    journal.add(f"run:{RUN}", "RunStarted")
    journal.step("content", "r1", outcome="StyleCreated")
    assert len(checks.check_completion(journal.events, PLAN, RUN)) == 2  # the room and its image
    journal.add("style:art-deco", "RoomFailed", step="room:kitchen")
    assert checks.check_completion(journal.events, PLAN, RUN) == []  # the image is blocked by the room
    assert len(checks.check_completion(journal.events, PLAN, "run-2")) == 2


def test_blob_checks_find_missing_torn_and_stale_temp_files(tmp_path: Path) -> None:
    """A missing blob, a blob not hashing to its name, and a stale temp file are all reported."""
    good = b"\x89PNG good"
    sha = hashlib.sha256(good).hexdigest()
    path = tmp_path / "images" / sha[:2] / f"{sha}.png"
    path.parent.mkdir(parents=True)
    path.write_bytes(good)
    event = {
        "type": "ImageGenerated",
        "stream": "style:a",
        "step": "image:style:0",
        "data": {"path": f"images/{sha[:2]}/{sha}.png", "sha256": sha, "bytes": len(good)},
    }
    assert checks.check_blobs([event], tmp_path) == []
    path.write_bytes(b"\x89PNG torn")
    assert len(checks.check_blobs([event], tmp_path)) == 2  # the event's blob, and the file's name
    path.unlink()
    assert "missing" in checks.check_blobs([event], tmp_path)[0]
    temp = path.parent / f".tmp-{sha[:16]}-4242-abcd"
    temp.write_bytes(b"half")
    assert checks.check_blobs([], tmp_path, stale_pids=[99]) == []
    assert "survived" in checks.check_blobs([], tmp_path, stale_pids=[4242])[0]
    assert checks.check_no_temp_files(tmp_path) != []


def test_a_matching_ledger_reconciles_with_no_findings() -> None:
    """Billed calls that each are a journaled result (or a billed malformed try) reconcile."""
    journal = Journal()
    journal.add(f"run:{RUN}", "RunStarted")
    journal.step("content", "r1", outcome="StyleCreated", tokens=20)
    ledger = [ledger_entry("content", "r0", outcome="malformed"), ledger_entry("content", "r1")]
    account, problems = reconcile(RUN, journal.events, ledger)
    assert problems == []
    assert (account.paid_calls, account.results_journaled, account.billed_failures_journaled) == (
        2,
        1,
        1,
    )
    assert account.extra_paid_calls == account.lost_results == 0


def test_a_result_paid_in_flight_is_an_extra_call_not_a_lost_result() -> None:
    """A step answered but killed before its event: one extra paid call, one step in flight."""
    journal = Journal()
    journal.add(f"run:{RUN}", "RunStarted")
    journal.add(
        f"run:{RUN}",
        "StepStarted",
        data={"stream": "style:art-deco", "step": "content", "kind": "text"},
    )
    account, problems = reconcile(RUN, journal.events, [ledger_entry("content", "r1")])
    assert problems == []
    assert (account.extra_paid_calls, account.steps_in_flight, account.lost_results) == (1, 1, 0)


def test_ledger_violations_are_each_flagged() -> None:
    """No StepStarted, a re-request after success, a usage or request-id mismatch: all reported."""
    journal = complete_journal()
    ledger = [ledger_entry("content", "r1"), ledger_entry("room:kitchen", "rX", tokens=11)]
    problems = reconcile(RUN, journal.events, ledger)[1]
    assert any("usage" in p for p in problems)
    assert any("success names request r2" in p for p in problems)
    journal.step("content", "r3", run_id="run-2", outcome="StyleFailed")
    account, problems = reconcile("run-2", journal.events, [ledger_entry("content", "r3")])
    assert any("again after its success" in p for p in problems)
    assert any("failure journaled although" in p for p in problems)
    assert account.rerequested == 1
    account, problems = reconcile("run-3", journal.events, [ledger_entry("content", "r4")])
    assert any("without journaling StepStarted" in p for p in problems)
    assert account.lost_results == 1
    assert reconcile(None, [], [ledger_entry("content", "r5")])[1] != []


def test_a_clean_run_with_steps_in_flight_is_flagged() -> None:
    """A run that says it completed may not leave a started step without an outcome."""
    journal = Journal()
    journal.add(
        f"run:{RUN}",
        "StepStarted",
        data={"stream": "style:art-deco", "step": "content", "kind": "text"},
    )
    journal.add(f"run:{RUN}", "RunFinished", data={"outcome": "completed"})
    assert any("ended completed" in p for p in reconcile(RUN, journal.events, [])[1])
