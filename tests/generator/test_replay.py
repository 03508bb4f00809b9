"""Replay: the journal decides what is done, what only failed, and what a run selects."""

from __future__ import annotations

import pytest

from generator.replay import JournalProgress, replay_journal, select_steps
from genjournal.testing import samples
from journal.errors import FutureSchemaError
from journal.store import EventStore
from tests.journal.backends import Backend


def test_replay_collects_successes_and_failures_that_never_succeeded(store: EventStore) -> None:
    """A step with a success is done; a step whose failure was followed by success is not 'failed'."""
    store.append("run:run-test-1", [samples.run_started()])
    store.append("style:style-0", [samples.style_created("style-0")])
    store.append("style:style-0", [samples.image_failed(0)])
    store.append("style:style-0", [samples.room_failed("room-0")])
    store.append("style:style-0", [samples.room_generated("room-0")])
    progress = replay_journal(store, page_size=2)
    assert progress.done == {("style:style-0", "content"), ("style:style-0", "room:room-0")}
    assert progress.failed == {("style:style-0", "image:style:0")}


def test_replay_refuses_an_event_from_a_newer_genjournal(backend: Backend) -> None:
    """A future schema version stops the replay (and so the run) before any call."""
    store = backend.open()
    try:
        store.append("style:style-0", [samples.style_created("style-0")])
        row = samples.style_created("style-1").model_dump(mode="json")
        backend.inject_raw(
            store,
            {
                "stream": "style:style-1",
                "version": 1,
                "type": row["type"],
                "schema_version": 99,
                "data": row["data"],
            },
        )
        with pytest.raises(FutureSchemaError):
            replay_journal(store)
    finally:
        store.close()


def test_select_is_plan_minus_done_with_filters_applied() -> None:
    """select_steps returns pending steps; --only-failed and --limit narrow them."""
    plan = samples.small_plan(styles=3, rooms=1)
    progress = JournalProgress(
        done={("style:style-0", "content")},
        failed={("style:style-1", "content")},
    )
    pending = select_steps(plan, progress)
    assert ("style:style-0", "content") not in {(s.stream, s.key) for s in pending}
    assert len(pending) == 3 * 4 - 1
    only_failed = select_steps(plan, progress, only_failed=True)
    assert [(s.stream, s.key) for s in only_failed] == [("style:style-1", "content")]
    limited = select_steps(plan, progress, limit=1)
    assert {s.stream for s in limited} == {"style:style-0"}
    chosen = select_steps(plan, progress, subcategories=["style-2"])
    assert {s.stream for s in chosen} == {"style:style-2"}
