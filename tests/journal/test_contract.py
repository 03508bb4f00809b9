"""The store contract: the same promises, proven on every backend (see conftest.backend)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import timedelta

import pytest

from genjournal.testing import samples
from journal.errors import (
    ConcurrencyError,
    CorruptEventError,
    DuplicateStepError,
    FutureSchemaError,
    LeaseHeldError,
    UnknownEventTypeError,
)
from journal.events import CURRENT_SCHEMA
from journal.store import EventStore, LeaseHolder, utcnow
from tests.journal.backends import Backend


def test_every_event_type_round_trips_equal(store: EventStore) -> None:
    """Each event type reads back equal to what was appended, with its envelope filled in."""
    appended = []
    for stream, event in samples.one_of_each():
        appended += store.append(stream, [event])
    read = store.read_all(limit=100)
    assert [r.event for r in read] == [a.event for a in appended]
    assert [r.position for r in read] == [a.position for a in appended]
    assert [(r.stream, r.version) for r in read] == [(a.stream, a.version) for a in appended]
    for stored in read:
        envelope = stored.to_envelope()
        assert list(envelope) == [
            "id",
            "stream",
            "version",
            "position",
            "type",
            "schema_version",
            "recorded_at",
            "run_id",
            "step",
            "data",
            "meta",
        ]
        assert envelope["recorded_at"].endswith("Z")
        assert envelope["schema_version"] == CURRENT_SCHEMA[stored.type]
        assert None not in envelope["meta"].values()
        json.dumps(envelope)


def test_versions_are_gap_free_per_stream(store: EventStore) -> None:
    """Versions run 1, 2, 3… within each stream, independent of other streams."""
    store.append("style:a", [samples.room_failed("r1"), samples.room_failed("r2")])
    store.append("style:b", [samples.room_failed("r1")])
    store.append("style:a", [samples.image_failed(0)])
    assert [e.version for e in store.read_stream("style:a")] == [1, 2, 3]
    assert [e.version for e in store.read_stream("style:b")] == [1]
    assert [e.version for e in store.read_stream("style:a", after=1)] == [2, 3]
    assert store.stream_version("style:a") == 3
    assert store.stream_version("style:none") == 0


def test_expected_version_mismatch_raises_and_writes_nothing(store: EventStore) -> None:
    """A stale expected_version raises ConcurrencyError with its fields and appends nothing."""
    store.append("style:a", [samples.room_failed()], expected_version=0)
    before = store.last_position()
    with pytest.raises(ConcurrencyError) as caught:
        store.append("style:a", [samples.image_failed(), samples.image_failed(1)], expected_version=0)
    assert (caught.value.stream, caught.value.expected, caught.value.actual) == ("style:a", 0, 1)
    assert store.last_position() == before
    assert store.stream_version("style:a") == 1
    store.append("style:a", [samples.image_failed()], expected_version=1)
    assert store.stream_version("style:a") == 2


def test_duplicate_success_step_refuses_whole_batch(store: EventStore) -> None:
    """A batch repeating a recorded success step writes nothing and returns the existing event."""
    first = store.append("style:a", [samples.image_generated(0)])[0]
    before = store.last_position()
    with pytest.raises(DuplicateStepError) as caught:
        store.append("style:a", [samples.image_failed(1), samples.image_generated(0)])
    assert caught.value.step == "image:style:0"
    assert caught.value.existing is not None
    assert caught.value.existing.id == first.id
    assert store.last_position() == before
    assert [e.id for e in store.read_stream("style:a")] == [first.id]


def test_same_step_succeeds_in_different_streams(store: EventStore) -> None:
    """Step uniqueness is per stream: two styles both have a `content` success."""
    store.append("style:a", [samples.style_created("a")])
    store.append("style:b", [samples.style_created("b")])
    assert store.recorded_steps() == {("style:a", "content"), ("style:b", "content")}


def test_failure_events_may_repeat_for_a_step(store: EventStore) -> None:
    """Failures are audit records: several for one step are all kept, then a success."""
    store.append("style:a", [samples.room_failed("r1")])
    store.append("style:a", [samples.room_failed("r1")])
    store.append("style:a", [samples.room_generated("r1")])
    assert [e.type for e in store.read_stream("style:a")] == ["RoomFailed", "RoomFailed", "RoomGenerated"]
    assert store.find_success("style:a", "room:r1") is not None
    assert store.find_success("style:a", "room:r2") is None


def test_batch_with_two_success_events_is_refused_before_writing(store: EventStore) -> None:
    """One commit records at most one paid step's success; a batch with two is a caller bug."""
    with pytest.raises(ValueError, match="success"):
        store.append("style:a", [samples.image_generated(0), samples.image_generated(1)])
    assert store.last_position() == 0


def test_read_all_pages_in_position_order(store: EventStore) -> None:
    """read_all pages through the journal in strictly increasing positions."""
    for i in range(25):
        store.append(f"style:s{i % 3}", [samples.image_failed(i)])
    seen = []
    position = 0
    while page := store.read_all(after_position=position, limit=7):
        seen += page
        position = page[-1].position
    positions = [e.position for e in seen]
    assert positions == sorted(positions)
    assert len(set(positions)) == 25
    assert [e.position for e in store.iter_all(page_size=4)] == positions
    assert store.last_position() == positions[-1]


def test_query_filters_by_stream_prefix_type_run_and_time(store: EventStore) -> None:
    """query narrows by stream, stream prefix, type, run and time window, newest-first limits."""
    store.append("run:r1", [samples.run_started(run_id="r1")])
    store.append("style:a", [samples.style_created("a", run_id="r1")])
    store.append("style:b", [samples.image_failed(0, run_id="r2")])
    store.append("style:b", [samples.image_failed(1, run_id="r2")])
    store.append("run:r1", [samples.run_finished(run_id="r1")])
    assert [e.stream for e in store.query(stream_prefix="style:")] == ["style:a", "style:b", "style:b"]
    assert [e.type for e in store.query(stream="run:r1")] == ["RunStarted", "RunFinished"]
    assert len(store.query(types=["ImageFailed"])) == 2
    assert store.query(types=[]) == []
    assert {e.run_id for e in store.query(run_id="r2")} == {"r2"}
    newest = store.query(types=["ImageFailed", "StyleCreated"], limit=2, newest_first=True)
    assert [e.step for e in newest] == ["image:style:0", "image:style:1"]
    now = utcnow()
    assert len(store.query(since=now - timedelta(minutes=5))) == 5
    assert store.query(since=now + timedelta(minutes=5)) == []
    assert len(store.query(until=now + timedelta(minutes=5), stream_prefix="style:b")) == 2


def test_threads_appending_to_one_stream_lose_nothing(backend: Backend) -> None:
    """Eight threads appending at once give versions 1..N with no loss or duplicate."""
    per_thread = 25
    stores = [backend.open() for _ in range(8)]
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            for i in range(per_thread):
                stores[index].append("style:hot", [samples.image_failed(index * 1000 + i)])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        events = stores[0].read_stream("style:hot")
        assert [e.version for e in events] == list(range(1, 8 * per_thread + 1))
        positions = [e.position for e in stores[0].iter_all()]
        assert len(positions) == len(set(positions)) == 8 * per_thread
        assert positions == sorted(positions)
    finally:
        for opened in stores:
            opened.close()


def test_threads_racing_on_expected_version_have_one_winner_per_version(backend: Backend) -> None:
    """Conditional appends racing for the same version: exactly one wins each round."""
    stores = [backend.open() for _ in range(4)]
    wins = [0] * 4
    conflicts = [0] * 4
    barrier = threading.Barrier(4)

    def work(index: int) -> None:
        for round_ in range(10):
            barrier.wait()
            try:
                stores[index].append("style:race", [samples.image_failed(index)], expected_version=round_)
                wins[index] += 1
            except ConcurrencyError:
                conflicts[index] += 1
            barrier.wait()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert sum(wins) == 10
        assert sum(conflicts) == 30
        assert stores[0].stream_version("style:race") == 10
    finally:
        for opened in stores:
            opened.close()


def test_threads_racing_for_one_success_step_record_it_once(backend: Backend) -> None:
    """Several writers recording the same paid step: one success, the rest DuplicateStepError."""
    stores = [backend.open() for _ in range(6)]
    outcomes: list[str] = []
    barrier = threading.Barrier(6)

    def work(index: int) -> None:
        barrier.wait()
        try:
            stores[index].append("style:a", [samples.room_generated("kitchen")])
            outcomes.append("ok")
        except DuplicateStepError:
            outcomes.append("dup")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert sorted(outcomes) == ["dup"] * 5 + ["ok"]
        assert len(stores[0].read_stream("style:a")) == 1
    finally:
        for opened in stores:
            opened.close()


def test_recorded_steps_lists_only_successes(store: EventStore) -> None:
    """recorded_steps returns (stream, step) of success events only, filtered by prefix."""
    store.append("style:a", [samples.style_created("a")])
    store.append("style:a", [samples.room_failed("r1")])
    store.append("style:a", [samples.image_generated(1, room="r2")])
    store.append("run:x", [samples.step_started()])
    assert store.recorded_steps(stream_prefix="style:") == {
        ("style:a", "content"),
        ("style:a", "image:room:r2:1"),
    }


def _raw(stream: str, version: int, type_name: str, schema_version: int, data: object) -> dict[str, object]:
    return {
        "stream": stream,
        "version": version,
        "type": type_name,
        "schema_version": schema_version,
        "data": data,
        "meta": {},
        "step": "content",
    }


def test_unknown_event_type_is_refused_naming_its_position(backend: Backend, store: EventStore) -> None:
    """Reading an event of a type this code does not know raises, naming the position."""
    store.append("style:a", [samples.room_failed()])
    backend.inject_raw(store, _raw("style:a", 2, "StyleExploded", 1, {}))
    with pytest.raises(UnknownEventTypeError) as caught:
        store.read_all()
    assert caught.value.position == 2
    assert "position 2" in str(caught.value)


def test_future_schema_version_is_refused_naming_its_position(backend: Backend, store: EventStore) -> None:
    """An event from a newer genjournal (higher schema_version) is refused, not guessed at."""
    created = samples.style_created("a")
    backend.inject_raw(store, _raw("style:a", 1, "StyleCreated", 99, created.data.model_dump(mode="json")))
    with pytest.raises(FutureSchemaError) as caught:
        store.read_stream("style:a")
    assert caught.value.position == 1
    assert "schema_version 99" in str(caught.value)


def test_payload_that_does_not_validate_is_refused_as_corrupt(backend: Backend, store: EventStore) -> None:
    """A stored payload altered into the wrong shape is refused, naming the position."""
    backend.inject_raw(store, _raw("style:a", 1, "StyleCreated", 2, {"subcategory": "a"}))
    with pytest.raises(CorruptEventError) as caught:
        store.read_all()
    assert caught.value.position == 1


def test_old_schema_event_is_upcast_on_read(backend: Backend, store: EventStore) -> None:
    """A StyleCreated v1 (single language, hex colour) reads back as a current v2 event."""
    v1 = {
        "subcategory": "art-deco",
        "name": "Art Deco",
        "approach": "Geometric glamour",
        "color": "#C9A227",
        "content": {"poetic": "Gold on black.", "factual": "1920s Paris."},
        "language": "en",
    }
    backend.inject_raw(store, _raw("style:art-deco", 1, "StyleCreated", 1, v1))
    event = store.read_stream("style:art-deco")[0]
    assert event.event.schema_version == CURRENT_SCHEMA["StyleCreated"]
    assert event.data.name == {"en": "Art Deco"}
    assert event.data.color.hex == "#C9A227"
    assert event.data.content["en"].factual == "1920s Paris."


def test_lease_is_exclusive_while_its_holder_lives(store: EventStore) -> None:
    """A second run cannot take the lease from a live holder; the error names the holder."""
    mine = LeaseHolder.for_this_process("run-a")
    assert store.acquire_lease(mine) is None
    other = LeaseHolder.for_this_process("run-b")
    with pytest.raises(LeaseHeldError) as caught:
        store.acquire_lease(other)
    assert caught.value.holder.run_id == "run-a"
    assert "run-a" in str(caught.value)
    assert store.renew_lease(mine)
    store.release_lease(mine)
    assert store.read_lease() is None
    assert store.acquire_lease(other) is None
    assert not store.renew_lease(mine)


def test_lease_of_a_dead_process_is_taken_over_at_once(store: EventStore) -> None:
    """A lease whose holder process has exited (same host) is taken over immediately."""
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    dead_pid = int(child.stdout)
    ghost = LeaseHolder.for_this_process("run-ghost").model_copy(update={"pid": dead_pid, "proc_start": "1"})
    store.acquire_lease(ghost)
    taken = store.acquire_lease(LeaseHolder.for_this_process("run-new"))
    assert taken is not None and taken.run_id == "run-ghost"
    lease = store.read_lease()
    assert lease is not None and lease.run_id == "run-new"


def test_lease_of_another_host_expires_after_heartbeat_timeout(store: EventStore) -> None:
    """A holder on another host keeps the lease while its heartbeat is fresh, not after."""
    now = utcnow()
    remote = LeaseHolder(run_id="run-remote", host="elsewhere.example", pid=1, since=now, heartbeat=now)
    store.acquire_lease(remote)
    with pytest.raises(LeaseHeldError):
        store.acquire_lease(LeaseHolder.for_this_process("run-local"), heartbeat_timeout_s=60)
    stale = remote.model_copy(update={"heartbeat": now - timedelta(minutes=10)})
    store.release_lease(remote)
    store.acquire_lease(stale)
    taken = store.acquire_lease(LeaseHolder.for_this_process("run-local"), heartbeat_timeout_s=60)
    assert taken is not None and taken.run_id == "run-remote"


def test_empty_batch_is_a_no_op(store: EventStore) -> None:
    """Appending no events writes nothing and returns nothing."""
    assert store.append("style:a", []) == []
    assert store.last_position() == 0


def test_second_handle_sees_committed_events(backend: Backend, store: EventStore) -> None:
    """An append is visible to another handle on the same journal as soon as it returns."""
    other = backend.open(create=False)
    try:
        stored = store.append("style:a", [samples.style_created("a")])
        assert [e.id for e in other.read_all()] == [stored[0].id]
    finally:
        other.close()


@pytest.mark.skipif(os.name != "posix", reason="needs fork/exec semantics")
def test_store_is_usable_after_reopen(backend: Backend) -> None:
    """Closing and reopening a journal keeps every event and its order."""
    first = backend.open()
    ids = [first.append("style:a", [samples.image_failed(i)])[0].id for i in range(5)]
    first.close()
    second = backend.open(create=False)
    try:
        assert [e.id for e in second.read_all()] == ids
    finally:
        second.close()


def test_raw_read_equals_the_typed_read_converted(store: EventStore) -> None:
    """read_all_raw returns exactly read_all's events as RawEvent, for every page boundary."""
    from journal.store import RawEvent

    for stream, event in samples.one_of_each():
        store.append(stream, [event])
    store.append(
        "style:style-1",
        [samples.room_failed("r1"), samples.image_failed(1), samples.room_failed("r2")],
    )
    typed = [RawEvent.from_stored(e) for e in store.read_all(limit=1000)]
    assert store.read_all_raw(limit=1000) == typed
    for after in range(len(typed) + 1):
        for limit in (1, 2, 5):
            page = store.read_all(after_position=after, limit=limit)
            expected = [RawEvent.from_stored(e) for e in page]
            assert store.read_all_raw(after_position=after, limit=limit) == expected


def test_raw_read_of_an_old_schema_event_folds_like_the_typed_read(
    backend: Backend, store: EventStore
) -> None:
    """An upcast event read raw folds into the same document as the same event read typed."""
    from journal.store import RawEvent
    from projector.fold import fold

    v1 = {
        "subcategory": "art-deco",
        "name": "Art Deco",
        "approach": "Geometric glamour",
        "color": "#C9A227",
        "content": {"poetic": "Gold on black.", "factual": "1920s Paris."},
        "language": "en",
    }
    backend.inject_raw(store, _raw("style:art-deco", 1, "StyleCreated", 1, v1))
    raw = store.read_all_raw()
    assert raw[0].data["name"] == {"en": "Art Deco"}
    assert fold(raw, None) == fold([RawEvent.from_stored(e) for e in store.read_all()], None)


@pytest.mark.parametrize(
    ("type_name", "schema_version", "error"),
    [("StyleExploded", 1, UnknownEventTypeError), ("StyleCreated", 99, FutureSchemaError)],
)
def test_raw_read_refuses_what_the_typed_read_refuses(
    backend: Backend, store: EventStore, type_name: str, schema_version: int, error: type[Exception]
) -> None:
    """read_all_raw refuses an unknown type or a future schema as read_all does, naming it."""
    store.append("style:a", [samples.room_failed()])
    data = samples.style_created("a").data.model_dump(mode="json")
    backend.inject_raw(store, _raw("style:a", 2, type_name, schema_version, data))
    with pytest.raises(error) as caught:
        store.read_all_raw()
    assert getattr(caught.value, "position", None) == 2
    assert len(store.read_all_raw(limit=1)) == 1


def test_append_many_refuses_one_batch_and_commits_the_others(store: EventStore) -> None:
    """A group append reports a refused batch in its slot and commits every other batch."""
    from journal.store import AppendBatch

    store.append("style:a", [samples.image_generated(0)])
    results = store.append_many(
        [
            AppendBatch("style:a", [samples.room_generated("r1")]),
            AppendBatch("style:a", [samples.image_generated(0)]),
            AppendBatch("style:b", [samples.room_failed("r1")], expected_version=5),
            AppendBatch("style:b", [samples.style_created("b")], expected_version=0),
        ]
    )
    assert isinstance(results[1], DuplicateStepError)
    assert isinstance(results[2], ConcurrencyError)
    committed = [r for r in results if isinstance(r, list)]
    assert len(committed) == 2
    assert [e.version for e in store.read_stream("style:a")] == [1, 2]
    assert [e.type for e in store.read_stream("style:b")] == ["StyleCreated"]
    positions = [e.position for e in store.iter_all()]
    assert positions == sorted(positions) and len(set(positions)) == 3
