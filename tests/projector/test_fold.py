"""The pure fold: documents from events, statuses against the plan, idempotence."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest

from genjournal.testing import samples
from journal.errors import CorruptEventError
from journal.events import Event, PlanSpec
from journal.store import RawEvent, StoredEvent
from projector.fold import DOCUMENT_KEYS, apply, dumps, finalize, fold

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def stored(events: list[Event], stream: str = "style:style-0") -> list[RawEvent]:
    """Wraps events as a stream would store them, with fixed times, as the fold reads them."""
    return [
        RawEvent.from_stored(
            StoredEvent(
                position=i + 1, stream=stream, version=i + 1, recorded_at=T0 + timedelta(seconds=i), event=e
            )
        )
        for i, e in enumerate(events)
    ]


def test_status_walks_basic_partial_complete() -> None:
    """A style is basic with content only, partial with some rooms, complete with every planned step."""
    plan = samples.small_plan(styles=1, rooms=2, images_per_style=1, images_per_room=1)
    events = [samples.style_created("style-0")]
    assert fold(stored(events), plan)["style-0"]["status"] == "basic"
    events += [
        samples.image_generated(0),
        samples.room_generated("room-0"),
        samples.image_generated(0, room="room-0"),
    ]
    assert fold(stored(events), plan)["style-0"]["status"] == "partial"
    events += [samples.room_generated("room-1"), samples.image_generated(0, room="room-1")]
    doc = fold(stored(events), plan)["style-0"]
    assert doc["status"] == "complete"
    assert doc["progress"] == {
        "roomsDone": 2,
        "roomsPlanned": 2,
        "roomsFailed": 0,
        "imagesDone": 3,
        "imagesPlanned": 3,
        "imagesFailed": 0,
    }


def test_all_rooms_without_all_images_is_not_complete() -> None:
    """Every room present but an image missing keeps the style partial: nothing pending means complete."""
    plan = samples.small_plan(styles=1, rooms=1, images_per_style=1, images_per_room=1)
    events = [
        samples.style_created("style-0"),
        samples.image_generated(0),
        samples.room_generated("room-0"),
        samples.image_failed(0, room="room-0"),
    ]
    doc = fold(stored(events), plan)["style-0"]
    assert doc["status"] == "partial"
    assert doc["roomProfiles"][0]["failedImages"][0]["index"] == 0


def test_room_count_comes_from_the_plan_not_a_constant() -> None:
    """The same events are complete under a one-room plan and partial under a two-room plan."""
    events = stored(
        [
            samples.style_created("style-0"),
            samples.image_generated(0),
            samples.room_generated("room-0"),
            samples.image_generated(0, room="room-0"),
        ]
    )
    one = samples.small_plan(styles=1, rooms=1)
    two = samples.small_plan(styles=1, rooms=2)
    assert fold(events, one)["style-0"]["status"] == "complete"
    assert fold(events, two)["style-0"]["status"] == "partial"


def test_failures_show_as_gaps_until_a_success_fills_them() -> None:
    """A failed room appears in failedRooms, and disappears when a later run generates it."""
    plan = samples.small_plan(styles=1, rooms=1)
    events = [samples.style_created("style-0"), samples.room_failed("room-0")]
    doc = fold(stored(events), plan)["style-0"]
    assert [r["roomType"] for r in doc["failedRooms"]] == ["room-0"]
    assert doc["failedRooms"][0]["error"]["kind"] == "rate_limited"
    events.append(samples.room_generated("room-0"))
    doc = fold(stored(events), plan)["style-0"]
    assert doc["failedRooms"] == []
    assert [r["roomType"] for r in doc["roomProfiles"]] == ["room-0"]


def test_style_failure_without_content_is_status_failed() -> None:
    """A style whose content step failed has status failed and says why."""
    doc = fold(stored([samples.style_failed("style-0")]), samples.small_plan())["style-0"]
    assert doc["status"] == "failed"
    assert doc["failure"]["error"]["status"] == 500


def test_applying_an_event_twice_changes_nothing() -> None:
    """Re-applying an already folded version is a no-op (the version guard)."""
    events = stored([samples.style_created("style-0"), samples.room_generated("room-0")])
    doc = None
    for e in events:
        doc = apply(doc, e)
    assert doc is not None
    snapshot = copy.deepcopy(doc)
    apply(doc, events[0])
    apply(doc, events[1])
    assert doc == snapshot


def test_a_payload_missing_its_fields_is_refused_naming_the_position() -> None:
    """The fold refuses an event whose payload lacks what its type promises, naming the position."""
    event = stored([samples.style_created("style-0")])[0]
    broken = RawEvent(
        event.position,
        event.stream,
        event.version,
        event.type,
        event.recorded_at,
        event.run_id,
        event.step,
        {"subcategory": "style-0"},
        event.meta,
    )
    with pytest.raises(CorruptEventError, match="position 1"):
        apply(None, broken)


def test_documents_have_fixed_keys_and_times_from_events() -> None:
    """A document has the fixed key order and its timestamps are the events' recorded_at."""
    events = stored([samples.style_created("style-0"), samples.image_generated(0)])
    doc = fold(events, samples.small_plan())["style-0"]
    assert tuple(doc) == DOCUMENT_KEYS
    assert doc["createdAt"] == "2026-01-02T03:04:05.000000Z"
    assert doc["updatedAt"] == "2026-01-02T03:04:06.000000Z"
    assert doc["images"][0]["createdAt"] == "2026-01-02T03:04:06.000000Z"


def test_fold_is_deterministic_to_the_byte() -> None:
    """Folding the same events twice gives byte-identical JSON."""
    events = stored(
        [
            samples.style_created("style-0"),
            samples.room_generated("room-1"),
            samples.room_generated("room-0"),
            samples.image_failed(1),
        ]
    )
    plan = samples.small_plan(rooms=2)
    first = dumps(fold(events, plan)["style-0"])
    second = dumps(fold(list(events), plan)["style-0"])
    assert first == second


def test_rooms_follow_plan_order_not_generation_order() -> None:
    """roomProfiles are listed in the plan's room order whatever order they were generated in."""
    events = stored(
        [samples.style_created("style-0"), samples.room_generated("room-1"), samples.room_generated("room-0")]
    )
    doc = fold(events, samples.small_plan(rooms=2))["style-0"]
    assert [r["roomType"] for r in doc["roomProfiles"]] == ["room-0", "room-1"]


def test_style_outside_the_plan_keeps_its_document() -> None:
    """A style the plan no longer lists keeps its history, marked inPlan false."""
    events = stored([samples.style_created("gone")], stream="style:gone")
    doc = fold(events, samples.small_plan())["gone"]
    assert doc["inPlan"] is False
    assert doc["approach"] is not None


def test_without_a_plan_nothing_is_called_complete() -> None:
    """Before any RunStarted recorded a plan, a style with content is basic, not complete."""
    doc = finalize(fold(stored([samples.style_created("style-0")]), None)["style-0"], None)
    assert doc["progress"]["roomsPlanned"] == 0
    assert doc["status"] == "basic"


def test_plan_spec_is_part_of_run_started() -> None:
    """The fold reads its room count from a PlanSpec (guard against drift of the sample)."""
    assert isinstance(samples.run_started().data.plan, PlanSpec)


def test_refinalizing_a_style_the_plan_dropped_equals_a_fresh_fold() -> None:
    """A stored document re-finalized under a plan without its style matches what a rebuild gives."""
    events = stored([samples.style_created("style-1")], stream="style:style-1")
    with_it = fold(events, samples.small_plan(styles=2))["style-1"]
    without = samples.small_plan(styles=1)
    assert with_it["subcategory"] == "Style 1"
    assert finalize(with_it, without) == fold(events, without)["style-1"]
