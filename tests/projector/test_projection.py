"""The live projection and rebuild: incremental == all-at-once == rebuild == export, on every backend."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genjournal.testing import samples
from journal.events import Event, Meta, PlanSpec, RunStarted, StepStarted, StepStartedData
from journal.store import EventStore
from projector.export import export_bytes
from projector.facts import fold_facts
from projector.fold import fold
from projector.projector import Projector
from projector.store import ViewStore
from projector.views import open_views
from tests.journal.backends import Backend, make_backend

STYLES = ["style-0", "style-1", "style-2"]
ROOMS = ["room-0", "room-1", "room-2"]
PROJECTION_BACKENDS = ("sqlite", "mongomock")


def plan_with(rooms: int) -> PlanSpec:
    """Returns a plan over the test styles with the first ``rooms`` rooms."""
    return samples.small_plan(styles=3, rooms=rooms, images_per_style=2, images_per_room=1)


@st.composite
def metas(draw: st.DrawFn, image: bool) -> Meta:
    """Draws what a call recorded: model, usage (or none), image size and quality."""
    metered = draw(st.booleans())
    return Meta(
        model=draw(st.sampled_from(["m-image", "m-image-b"] if image else ["m-text", "m-text-b"])),
        input_tokens=draw(st.integers(0, 900)) if metered else None,
        output_tokens=draw(st.integers(0, 900)) if metered else None,
        images=draw(st.integers(0, 2)) if image else None,
        image_size=draw(st.sampled_from([None, "1024x1024", "1536x1024"])) if image else None,
        image_quality=draw(st.sampled_from([None, "low", "high"])) if image else None,
        attempts=draw(st.integers(1, 4)),
    )


@st.composite
def journals(draw: st.DrawFn) -> list[tuple[str, Event]]:
    """Draws a valid journal: plans, runs, started calls, steps, failures, varied usage."""
    out: list[tuple[str, Event]] = [
        ("run:r0", samples.run_started(plan_with(draw(st.integers(0, 3))), run_id="r0"))
    ]
    succeeded: set[tuple[str, str]] = set()
    for _ in range(draw(st.integers(0, 40))):
        slug = draw(st.sampled_from(STYLES))
        stream = f"style:{slug}"
        kinds = ["content", "room", "image", "room_image", "plan", "step", "finish"]
        kind = draw(st.sampled_from(kinds))
        run = draw(st.sampled_from(["r0", "r1"]))
        ok = draw(st.booleans())
        if kind == "plan":
            out.append(("run:r1", samples.run_started(plan_with(draw(st.integers(0, 3))), run_id="r1")))
            continue
        if kind == "step":
            call = draw(st.sampled_from(["text", "image"]))
            data = StepStartedData(stream=stream, step="content", kind=call)
            out.append((f"run:{run}", StepStarted(run_id=run, data=data)))
            continue
        if kind == "finish":
            outcome = draw(st.sampled_from(["completed", "budget"]))
            out.append((f"run:{run}", samples.run_finished(outcome, run_id=run)))
            continue
        has_content = (stream, "content") in succeeded
        if kind == "content" or not has_content:
            if (stream, "content") in succeeded:
                continue
            event: Event = samples.style_created(slug) if ok else samples.style_failed(slug)
        elif kind == "room":
            room = draw(st.sampled_from(ROOMS))
            if (stream, f"room:{room}") in succeeded:
                continue
            event = samples.room_generated(room) if ok else samples.room_failed(room)
        elif kind == "image":
            index = draw(st.integers(0, 2))
            if (stream, f"image:style:{index}") in succeeded:
                continue
            event = samples.image_generated(index) if ok else samples.image_failed(index)
        else:
            done_rooms = sorted(step[5:] for s, step in succeeded if s == stream and step.startswith("room:"))
            if not done_rooms:
                continue
            room = draw(st.sampled_from(done_rooms))
            index = draw(st.integers(0, 1))
            if (stream, f"image:room:{room}:{index}") in succeeded:
                continue
            event = (
                samples.image_generated(index, room=room) if ok else samples.image_failed(index, room=room)
            )
        if event.is_success:
            assert event.step is not None
            succeeded.add((stream, event.step))
        meta = draw(metas(event.type.startswith("Image")))
        event = event.model_copy(update={"run_id": run, "meta": meta})
        out.append((stream, event))
    return out


def _facts(views: ViewStore) -> tuple[dict[str, object], dict[str, object]]:
    """Returns the stored audit facts: style facts by slug, run facts by run id."""
    return (
        {facts["slug"]: facts for facts in views.iter_style_facts()},
        {run["run_id"]: run for run in views.runs()},
    )


def _docs(projector: Projector) -> list[dict[str, object]]:
    return list(projector.documents())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    journal=journals(), chunks=st.lists(st.integers(1, 7), min_size=1, max_size=10), page=st.integers(1, 5)
)
def test_incremental_equals_all_at_once_equals_rebuild_equals_export(
    journal: list[tuple[str, Event]], chunks: list[int], page: int
) -> None:
    """Random journals: catching up in random chunks == folding at once == rebuild == export (+ facts)."""
    for backend_name in PROJECTION_BACKENDS:
        with tempfile.TemporaryDirectory() as tmp:
            backend = make_backend(backend_name, Path(tmp))
            store = backend.open()
            views = open_views(store)
            try:
                projector = Projector(store, views, page_size=page, cache_size=2)
                remaining = list(journal)
                i = 0
                while remaining:
                    size = chunks[i % len(chunks)]
                    i += 1
                    for stream, event in remaining[:size]:
                        store.append(stream, [event])
                    remaining = remaining[size:]
                    projector.catch_up()
                incremental = _docs(projector)
                everything = store.read_all(limit=10_000)
                plans = [e.event.data.plan for e in everything if isinstance(e.event, RunStarted)]
                at_once = list(fold(everything, plans[-1]).values())
                assert incremental == at_once
                facts_at_once = fold_facts(store.read_all_raw(limit=10_000))
                assert _facts(views) == facts_at_once
                exported = export_bytes(incremental)
                projector.rebuild()
                assert _docs(projector) == at_once
                assert _facts(views) == facts_at_once
                assert export_bytes(_docs(projector)) == exported
                assert json.loads(exported) == at_once
            finally:
                views.close()
                store.close()
                backend.cleanup()


def _fill(store: EventStore) -> None:
    store.append("run:r", [samples.run_started(samples.small_plan(styles=2, rooms=2))])
    for slug in ("style-0", "style-1"):
        store.append(f"style:{slug}", [samples.style_created(slug)])
        store.append(f"style:{slug}", [samples.room_generated("room-0")])
        store.append(f"style:{slug}", [samples.image_failed(0)])


def test_export_is_byte_identical_before_and_after_rebuild(backend: Backend, store: EventStore) -> None:
    """export after rebuild equals export before it, byte for byte."""
    _fill(store)
    views = open_views(store)
    try:
        projector = Projector(store, views)
        projector.catch_up()
        before = export_bytes(projector.documents())
        stats = projector.rebuild()
        assert stats.documents == 2
        assert export_bytes(projector.documents()) == before
    finally:
        views.close()


def test_rebuild_catches_up_with_events_appended_after_it(backend: Backend, store: EventStore) -> None:
    """After a rebuild, new events keep folding in incrementally from the swapped checkpoint."""
    _fill(store)
    views = open_views(store)
    try:
        projector = Projector(store, views)
        projector.rebuild()
        store.append("style:style-0", [samples.room_generated("room-1")])
        assert projector.catch_up() == 1
        doc = projector.document("style-0")
        assert doc is not None
        assert [r["roomType"] for r in doc["roomProfiles"]] == ["room-0", "room-1"]
    finally:
        views.close()


def test_two_projectors_catching_up_never_move_a_document_backwards(
    backend: Backend, store: EventStore
) -> None:
    """A projector whose checkpoint was overtaken re-reads instead of writing stale documents."""
    _fill(store)
    views_a, views_b = open_views(store), open_views(store)
    try:
        a = Projector(store, views_a, page_size=2)
        b = Projector(store, views_b, page_size=100)
        a.catch_up(max_pages=1)
        b.catch_up()
        a.catch_up()
        reference = list(fold(store.read_all(limit=1000), samples.small_plan(styles=2, rooms=2)).values())
        assert list(a.documents()) == reference
    finally:
        views_a.close()
        views_b.close()


def test_plan_change_refinalizes_every_document(backend: Backend, store: EventStore) -> None:
    """A RunStarted with a bigger plan turns complete styles partial, without touching their events."""
    plan = samples.small_plan(styles=1, rooms=1, images_per_style=0, images_per_room=0)
    store.append("run:a", [samples.run_started(plan, run_id="a")])
    store.append("style:style-0", [samples.style_created("style-0")])
    store.append("style:style-0", [samples.room_generated("room-0")])
    views = open_views(store)
    try:
        projector = Projector(store, views)
        projector.catch_up()
        assert projector.document("style-0")["status"] == "complete"  # type: ignore[index]
        bigger = samples.small_plan(styles=1, rooms=2, images_per_style=0, images_per_room=0)
        store.append("run:b", [samples.run_started(bigger, run_id="b")])
        projector.catch_up()
        assert projector.document("style-0")["status"] == "partial"  # type: ignore[index]
    finally:
        views.close()


def test_parallel_rebuild_equals_sequential_rebuild(tmp_path: Path) -> None:
    """Style-stream ranges folded in worker processes give the sequential rebuild's documents and facts."""
    backend = make_backend("sqlite", tmp_path)
    store = backend.open()
    views = open_views(store)
    try:
        store.append("run:a", [samples.run_started(samples.small_plan(styles=9, rooms=3), run_id="a")])
        for i in range(9):
            stream = f"style:style-{i}"
            store.append(stream, [samples.style_created(f"style-{i}")])
            for room in ("room-0", "room-2"):
                store.append(stream, [samples.room_generated(room)])
                store.append(stream, [samples.image_failed(1, room=room)])
        store.append("run:b", [samples.run_started(samples.small_plan(styles=9, rooms=2), run_id="b")])
        store.append("run:b", [samples.step_started("style:style-1", "room:room-1", run_id="b")])
        store.append("run:b", [samples.run_finished("completed", run_id="b")])
        projector = Projector(store, views)
        projector.rebuild(workers=1)
        sequential = export_bytes(projector.documents())
        sequential_facts = _facts(views)
        assert sequential_facts == fold_facts(store.read_all_raw(limit=10_000))
        stats = projector.rebuild(workers=3)
        assert stats.documents == 9
        assert export_bytes(projector.documents()) == sequential
        assert _facts(views) == sequential_facts
        assert views.debris() == []  # type: ignore[attr-defined]
    finally:
        views.close()
        store.close()
