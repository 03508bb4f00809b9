"""The pure fold of the audit facts: what counts, what does not, and no double count on replay."""

from __future__ import annotations

from genjournal.testing import samples
from journal.events import Meta
from journal.store import RawEvent, StoredEvent
from projector.facts import (
    apply_run_facts,
    apply_style_facts,
    fold_facts,
    new_run_facts,
    new_style_facts,
)


def raw(event: object, stream: str, version: int, position: int | None = None) -> RawEvent:
    """Returns an event as the fold sees it."""
    from datetime import UTC, datetime

    stored = StoredEvent(
        position=position or version,
        stream=stream,
        version=version,
        recorded_at=datetime(2026, 5, 1, 12, tzinfo=UTC),
        event=event,
    )  # type: ignore[arg-type]
    return RawEvent.from_stored(stored)


def test_an_outcome_is_summed_under_run_day_kind_model_size_and_quality() -> None:
    """A success adds one step, its attempts, tokens and images under its key."""
    event = samples.image_generated(0).model_copy(
        update={
            "meta": Meta(
                model="gpt-image-2",
                input_tokens=90,
                output_tokens=1056,
                images=1,
                image_size="1024x1024",
                image_quality="medium",
                attempts=2,
                input_image_tokens=40,
                output_text_tokens=6,
            )
        }
    )
    facts = apply_style_facts(new_style_facts("style-0"), raw(event, "style:style-0", 1))
    assert facts["costs"] == {
        ("run-test-1", "2026-05-01", "image", "gpt-image-2", "1024x1024", "medium"): [
            1,
            0,
            0,
            2,
            90,
            1056,
            1,
            0,
            40,
            6,
        ]
    }


def test_a_failure_with_usage_is_a_billed_failure_and_one_without_is_not() -> None:
    """A failure event carrying usage counts as billed; one without usage only as a failure."""
    billed = samples.room_failed("room-0").model_copy(
        update={"meta": Meta(model="m", input_tokens=5, attempts=1)}
    )
    free = samples.room_failed("room-1")
    facts = new_style_facts("style-0")
    apply_style_facts(facts, raw(billed, "style:style-0", 1))
    apply_style_facts(facts, raw(free, "style:style-0", 2))
    sums = {key[3]: value for key, value in facts["costs"].items()}
    assert sums["m"][:3] == [1, 1, 1]
    assert sums["offline-text"][:3] == [1, 1, 0]


def test_images_without_token_usage_are_unmetered() -> None:
    """Images whose call reported no tokens are counted as priced per image."""
    event = samples.image_generated(0)  # offline-image: images=1, no tokens
    facts = apply_style_facts(new_style_facts("style-0"), raw(event, "style:style-0", 1))
    (sums,) = facts["costs"].values()
    assert sums[6:8] == [1, 1]


def test_replaying_an_event_never_counts_it_twice() -> None:
    """An event whose version is not newer than the facts' is ignored (idempotent replay)."""
    event = raw(samples.style_created("style-0"), "style:style-0", 1)
    facts = apply_style_facts(new_style_facts("style-0"), event)
    before = {key: list(value) for key, value in facts["costs"].items()}
    apply_style_facts(facts, event)
    assert facts["costs"] == before
    assert facts["version"] == 1


def test_run_facts_record_start_end_and_started_calls_by_kind() -> None:
    """RunStarted, StepStarted and RunFinished fill a run's facts; replays are ignored."""
    run = new_run_facts("run-test-1")
    events = [
        samples.run_started(),
        samples.step_started(),
        samples.step_started(step="room:room-0"),
        samples.run_finished("budget"),
    ]
    for version, event in enumerate(events, start=1):
        apply_run_facts(run, raw(event, "run:run-test-1", version))
    apply_run_facts(run, raw(events[1], "run:run-test-1", 2))
    assert (run["started_text"], run["started_image"], run["outcome"], run["provider"]) == (
        2,
        0,
        "budget",
        "offline",
    )
    assert run["started_at"] is not None
    assert run["finished_at"] is not None


def test_fold_facts_splits_style_and_run_streams() -> None:
    """fold_facts returns style facts by slug and run facts by run id, ignoring other streams."""
    styles, runs = fold_facts(
        [
            raw(samples.run_started(), "run:r", 1, 1),
            raw(samples.style_created("style-0"), "style:style-0", 1, 2),
        ]
    )
    assert list(styles) == ["style-0"]
    assert list(runs) == ["r"]


def test_a_catch_up_dying_before_its_checkpoint_never_counts_usage_twice(
    backend: object, store: object
) -> None:
    """Facts written before a crash at the checkpoint (Mongo: no transaction) are not doubled."""
    import pytest

    from journal import failpoints
    from journal.failpoints import FailpointError
    from journal.store import EventStore
    from projector.projector import Projector
    from projector.views import open_views

    assert isinstance(store, EventStore)
    store.append("run:r", [samples.run_started(samples.small_plan())])
    store.append("run:r", [samples.step_started()])
    store.append("style:style-0", [samples.style_created("style-0")])
    store.append("style:style-0", [samples.image_generated(0)])
    views = open_views(store)
    try:
        projector = Projector(store, views)
        failpoints.configure("projection-before-checkpoint=raise")
        try:
            with pytest.raises(FailpointError):
                projector.catch_up()
        finally:
            failpoints.configure(None)
        projector.catch_up()
        styles, runs = fold_facts(store.read_all_raw(limit=100))
        assert {f["slug"]: f for f in views.iter_style_facts()} == styles
        assert {r["run_id"]: r for r in views.runs()} == runs
        steps = {key[2]: sums[0] for key, sums in styles["style-0"]["costs"].items()}
        assert steps == {"text": 1, "image": 1}  # each outcome counted once
    finally:
        views.close()
