"""What only the MongoDB view store has to prove: ordered writes without transactions are safe.

Runs on mongomock always and on a real server too when ``MONGODB_URI`` is set.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from genjournal.testing import samples
from journal import failpoints
from journal.backends.mongo import MongoEventStore
from journal.failpoints import FailpointError
from journal.store import EventStore, LeaseHolder, format_time
from projector.backends.mongo import MongoViewStore
from projector.export import export_bytes
from projector.fold import DOCUMENT_KEYS, finalize, fold
from projector.projector import Projector
from projector.store import ViewState
from projector.views import open_views
from tests.journal.backends import BACKEND_PARAMS, MongoBackend, make_backend

MONGO_PARAMS = [param for param in BACKEND_PARAMS if param != "sqlite"]


@pytest.fixture(params=MONGO_PARAMS)
def mongo(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MongoBackend]:
    """Yields a MongoDB journal backend (mongomock, and a real server when configured)."""
    made = make_backend(request.param, tmp_path)
    assert isinstance(made, MongoBackend)
    try:
        yield made
    finally:
        made.cleanup()


@pytest.fixture
def events(mongo: MongoBackend) -> Iterator[MongoEventStore]:
    """Yields an open MongoDB event store."""
    store = mongo.open_mongo()
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def views(events: MongoEventStore) -> Iterator[MongoViewStore]:
    """Yields the view store next to the event store."""
    opened = MongoViewStore.for_events(events)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture(autouse=True)
def _no_failpoints() -> Iterator[None]:
    """Switches off every failpoint a test configured, whatever happened."""
    yield
    failpoints.configure(None)


def _fill(store: EventStore, styles: int = 2) -> None:
    store.append("run:r", [samples.run_started(samples.small_plan(styles=styles, rooms=2))])
    for i in range(styles):
        stream = f"style:style-{i}"
        store.append(stream, [samples.style_created(f"style-{i}")])
        store.append(stream, [samples.room_generated("room-0")])
        store.append(stream, [samples.image_failed(0)])
        store.append(stream, [samples.image_generated(0, room="room-0")])


def _replay(store: EventStore) -> list[dict[str, Any]]:
    everything = store.read_all(limit=10_000)
    plans = [e.event.data.plan for e in everything if e.type == "RunStarted"]
    return list(fold(everything, plans[-1] if plans else None).values())


def _raw_db(store: MongoEventStore) -> Any:
    return store.database


def test_catch_up_cut_between_documents_and_checkpoint_is_redone_exactly_once(
    events: MongoEventStore, views: MongoViewStore
) -> None:
    """A catch-up dying between its documents and its checkpoint is redone once, on replay."""
    _fill(events)
    projector = Projector(events, views)
    projector.catch_up()
    checkpoint = views.load_state().checkpoint
    events.append("style:style-0", [samples.room_generated("room-1")])
    events.append("style:style-0", [samples.image_generated(1, room="room-1")])
    failpoints.configure("projection-before-checkpoint=raise")
    with pytest.raises(FailpointError):
        projector.catch_up()
    failpoints.configure(None)
    # The documents went ahead of the checkpoint: allowed, and what the replay must absorb.
    assert views.load_state().checkpoint == checkpoint
    ahead = views.document("style-0")
    assert ahead is not None
    assert [r["roomType"] for r in ahead["roomProfiles"]] == ["room-0", "room-1"]
    assert projector.catch_up() == 2
    assert projector.catch_up() == 0
    assert views.load_state().checkpoint == events.last_position()
    assert list(projector.documents()) == _replay(events)
    redone = views.document("style-0")
    assert redone is not None
    assert redone["version"] == events.stream_version("style:style-0")
    # Usage sums are where a twice-applied event would show: they match a recount.
    replayed = views.cost_sums(by="style")
    assert replayed
    projector.rebuild()
    assert views.cost_sums(by="style") == replayed


def test_rebuild_cut_before_swap_keeps_old_projection_and_next_rebuild_clears_debris(
    events: MongoEventStore, views: MongoViewStore
) -> None:
    """A rebuild failing before its swap leaves the old projection serving; the next cleans up."""
    _fill(events)
    projector = Projector(events, views)
    projector.catch_up()
    before = export_bytes(projector.documents())
    state = views.load_state()
    # Appended but not caught up: a swapped-in rebuild would show it, the old projection not.
    events.append("style:style-1", [samples.room_generated("room-1")])
    failpoints.configure("rebuild-before-swap=raise")
    with pytest.raises(FailpointError):
        projector.rebuild()
    failpoints.configure(None)
    assert export_bytes(projector.documents()) == before
    assert views.load_state() == state
    assert views.debris() == ["projection_next", "runs_next", "style_costs_next", "styles_next"]
    projector.rebuild()
    assert views.debris() == []
    assert list(projector.documents()) == _replay(events)
    assert views.load_state().checkpoint == events.last_position()


def test_export_is_byte_identical_on_sqlite_and_mongomock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same journal exports the same bytes from SQLite and mongomock, live and after rebuild."""
    start = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def ticking() -> Iterator[datetime]:
        # Millisecond steps: MongoDB keeps milliseconds, SQLite microseconds.
        for step in range(1_000_000):
            yield start + timedelta(milliseconds=7 * step)

    sqlite_clock = ticking()
    monkeypatch.setattr("journal.backends.sqlite.store.utcnow", lambda: next(sqlite_clock))
    mongo_clock = ticking()
    exports: dict[str, list[bytes]] = {}
    for name in ("sqlite", "mongomock"):
        backend = make_backend(name, tmp_path / name)
        (tmp_path / name).mkdir()
        store = (
            backend.open_mongo(clock=lambda: next(mongo_clock))
            if isinstance(backend, MongoBackend)
            else backend.open()
        )
        views = open_views(store)
        try:
            _fill(store, styles=3)
            store.append("style:style-2", [samples.room_failed("room-1")])
            store.append("style:style-1", [samples.style_failed("style-1")])
            projector = Projector(store, views)
            projector.catch_up()
            live = export_bytes(projector.documents())
            projector.rebuild()
            exports[name] = [live, export_bytes(projector.documents())]
        finally:
            views.close()
            store.close()
            backend.cleanup()
    assert exports["sqlite"][0] == exports["sqlite"][1]
    assert exports["mongomock"] == exports["sqlite"]
    assert format_time(start + timedelta(milliseconds=7)).encode() in exports["sqlite"][0]


def test_styles_are_plain_documents_keyed_by_slug(events: MongoEventStore, views: MongoViewStore) -> None:
    """A plain find() on ``styles`` returns the projected documents as-is, with ``_id`` = slug."""
    _fill(events)
    Projector(events, views).catch_up()
    with events.guarded():
        stored = list(_raw_db(events)["styles"].find().sort("_id", 1))
    assert [doc["_id"] for doc in stored] == ["style-0", "style-1"]
    for doc in stored:
        assert list(doc) == ["_id", *DOCUMENT_KEYS]
        assert {key: value for key, value in doc.items() if key != "_id"} == views.document(doc["_id"])
        assert doc["_id"] == doc["slug"]
    assert stored[0]["status"] == "partial"
    assert views.status_counts() == {"partial": 2}


def test_a_lower_version_never_replaces_a_higher_one(events: MongoEventStore, views: MongoViewStore) -> None:
    """A commit carrying an older version of a document leaves the newer stored one in place."""
    _fill(events, styles=1)
    raw = events.read_all_raw(limit=100)
    plan = samples.small_plan(styles=1, rooms=2)
    newer = fold(raw, plan)["style-0"]
    older = fold(raw[:-1], plan)["style-0"]
    assert older["version"] < newer["version"]
    assert views.commit({"style-0": newer}, expected=0, state=ViewState(checkpoint=5, plan=plan))
    assert views.commit({"style-0": older}, expected=5, state=ViewState(checkpoint=6, plan=plan))
    assert views.document("style-0") == newer
    assert views.load_state().checkpoint == 6


def _two_plans(events: MongoEventStore) -> tuple[Any, Any, dict[str, Any], dict[str, Any]]:
    """Returns a small and a bigger plan and one style's document finalized under each."""
    small = samples.small_plan(styles=1, rooms=1, images_per_style=0, images_per_room=0)
    bigger = samples.small_plan(styles=1, rooms=2, images_per_style=0, images_per_room=0)
    events.append("style:style-0", [samples.style_created("style-0")])
    events.append("style:style-0", [samples.room_generated("room-0")])
    doc = fold(events.read_all_raw(limit=100), None)["style-0"]
    under_small, under_bigger = finalize(doc, small), finalize(doc, bigger)
    assert under_small["status"] == "complete"
    assert under_bigger["status"] == "partial"
    return small, bigger, under_small, under_bigger


def test_losing_commit_refinalizes_what_it_wrote_under_the_winners_plan(
    events: MongoEventStore, views: MongoViewStore
) -> None:
    """A commit that wrote a same-version document under an older plan and lost re-finalizes it."""
    small, bigger, under_small, under_bigger = _two_plans(events)
    assert views.commit({}, expected=0, state=ViewState(checkpoint=1, plan=small))
    winner = MongoViewStore.for_events(events)

    class WinnerCommitsFirst(dict[str, Any]):
        """The loser's documents: by the time it writes them, the winner has committed in full."""

        def items(self) -> Any:
            # The loser has passed its pre-check; the winner now writes under the bigger
            # plan, moves the checkpoint and settles, all before the loser's stale write.
            assert winner.commit(
                {"style-0": under_bigger}, expected=1, state=ViewState(checkpoint=3, plan=bigger)
            )
            return super().items()

    stale = WinnerCommitsFirst({"style-0": under_small})
    assert not views.commit(stale, expected=1, state=ViewState(checkpoint=2, plan=small))
    assert views.load_state() == ViewState(checkpoint=3, plan=bigger)
    assert views.document("style-0") == under_bigger


def test_plan_changing_commit_refinalizes_documents_it_did_not_write(
    events: MongoEventStore, views: MongoViewStore
) -> None:
    """A commit changing the plan then re-finalizes every stored document, not just its own."""
    small, bigger, under_small, under_bigger = _two_plans(events)
    assert views.commit({"style-0": under_small}, expected=0, state=ViewState(checkpoint=2, plan=small))
    assert views.commit({}, expected=2, state=ViewState(checkpoint=3, plan=bigger))
    assert views.document("style-0") == under_bigger


def test_swap_cut_between_its_renames_leaves_documents_that_cover_the_checkpoint(
    events: MongoEventStore, views: MongoViewStore
) -> None:
    """A swap cut between its renames leaves new documents under a checkpoint they cover."""
    _fill(events)
    projector = Projector(events, views)
    raw = events.read_all_raw(limit=100)
    cut = raw[5].position
    # The rebuild folded up to ``cut``; live catch-ups have meanwhile gone to the end.
    target = views.begin_rebuild()
    plan = samples.small_plan(styles=2, rooms=2)
    target.write(fold([e for e in raw if e.position <= cut], plan))
    projector.catch_up()
    assert views.load_state().checkpoint > cut

    class RenameFails:
        """Stands in for ``projection_next``: every call goes through, except the rename."""

        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def rename(self, *args: Any, **kwargs: Any) -> None:
            raise ConnectionError("the server went away between the two renames")

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

    views._state_next = RenameFails(views._state_next)  # type: ignore[assignment]
    with pytest.raises(ConnectionError):
        target.swap_in(ViewState(checkpoint=cut, plan=plan))
    # New documents (folded to ``cut``) under a checkpoint they cover, fence lifted.
    assert views.debris() == ["projection_next"]
    assert views.load_state().checkpoint == cut
    projector.catch_up()
    assert list(projector.documents()) == _replay(events)


def _dead_pid() -> int:
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(child.stdout)


def _set_fence(events: MongoEventStore, holder: LeaseHolder) -> None:
    fence = {
        "rebuild": holder.run_id,
        "host": holder.host,
        "pid": holder.pid,
        "proc_start": holder.proc_start,
        "since": format_time(holder.since),
    }
    with events.guarded():
        _raw_db(events)["projection"].update_one({"_id": "state"}, {"$set": {"fence": fence}})


def test_fence_left_by_a_dead_rebuild_is_lifted_by_the_next_catch_up(
    events: MongoEventStore, views: MongoViewStore
) -> None:
    """A swap fence whose rebuild process is gone does not stop catch-ups: the next one lifts it."""
    _fill(events)
    projector = Projector(events, views)
    projector.catch_up()
    ghost = LeaseHolder.for_this_process("ghost").model_copy(update={"pid": _dead_pid(), "proc_start": "1"})
    _set_fence(events, ghost)
    events.append("style:style-0", [samples.room_generated("room-1")])
    assert projector.catch_up() == 1
    with events.guarded():
        state = _raw_db(events)["projection"].find_one({"_id": "state"})
    assert state is not None
    assert "fence" not in state
    assert list(projector.documents()) == _replay(events)


def test_live_fence_refuses_commits_until_the_swap_is_done(
    events: MongoEventStore, views: MongoViewStore
) -> None:
    """While a live rebuild fences the state, a commit writes nothing and moves no checkpoint."""
    _fill(events)
    Projector(events, views).catch_up()
    state = views.load_state()
    before = views.document("style-0")
    _set_fence(events, LeaseHolder.for_this_process("swapping"))
    assert before is not None
    changed = dict(before, version=before["version"] + 1)
    assert not views.commit(
        {"style-0": changed},
        expected=state.checkpoint,
        state=ViewState(checkpoint=state.checkpoint + 1, plan=state.plan),
    )
    assert views.load_state() == state
    assert views.document("style-0") == before
