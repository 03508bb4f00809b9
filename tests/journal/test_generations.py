"""Generations in the store: one success per (stream, step, generation), on every backend, and the schema-1 upgrade."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from pathlib import Path

import pytest

from genjournal.testing import samples
from journal.backends.sqlite import SqliteEventStore
from journal.errors import DuplicateStepError
from journal.events import Event, generation_of
from journal.store import EventStore
from tests.journal.backends import Backend, SqliteBackend

OLD_INDEX = "CREATE UNIQUE INDEX events_success_step ON events (stream, step) WHERE success = 1"


def of_generation(event: Event, generation: int) -> Event:
    """Returns a copy of a success event as that generation of its step (a fresh event id)."""
    data = type(event.data).model_validate({**event.data.model_dump(), "generation": generation})
    return type(event).model_validate({**event.model_dump(exclude={"id"}), "data": data})


def test_a_second_generation_success_is_accepted_after_the_first(store: EventStore) -> None:
    """A generation-2 success of a recorded step commits beside generation 1."""
    first = store.append("style:a", [samples.image_generated(0)])[0]
    second = store.append("style:a", [of_generation(samples.image_generated(0), 2)])[0]
    assert [generation_of(e.event) for e in store.read_stream("style:a")] == [1, 2]
    assert first.id != second.id


def test_a_repeated_generation_two_success_raises_with_existing_and_generation(store: EventStore) -> None:
    """A second generation-2 success raises DuplicateStepError naming the recorded one and generation 2."""
    store.append("style:a", [samples.image_generated(0)])
    recorded = store.append("style:a", [of_generation(samples.image_generated(0), 2)])[0]
    before = store.last_position()
    with pytest.raises(DuplicateStepError) as caught:
        store.append("style:a", [samples.image_failed(1), of_generation(samples.image_generated(0), 2)])
    assert caught.value.generation == 2
    assert caught.value.step == "image:style:0"
    assert caught.value.existing is not None
    assert caught.value.existing.id == recorded.id
    assert store.last_position() == before


def test_a_repeated_first_generation_is_still_refused(store: EventStore) -> None:
    """After generation 2 exists, another generation-1 success is refused as generation 1."""
    first = store.append("style:a", [samples.room_generated("kitchen")])[0]
    store.append("style:a", [of_generation(samples.room_generated("kitchen"), 2)])
    with pytest.raises(DuplicateStepError) as caught:
        store.append("style:a", [samples.room_generated("kitchen")])
    assert caught.value.generation == 1
    assert caught.value.existing is not None
    assert caught.value.existing.id == first.id


def test_find_success_returns_the_newest_or_the_generation_asked(store: EventStore) -> None:
    """find_success without a generation is the newest; with one, exactly that generation or None."""
    first = store.append("style:a", [samples.style_created("a")])[0]
    assert store.find_success("style:a", "content", 2) is None
    second = store.append("style:a", [of_generation(samples.style_created("a"), 2)])[0]
    third = store.append("style:a", [of_generation(samples.style_created("a"), 3)])[0]
    newest = store.find_success("style:a", "content")
    assert newest is not None and newest.id == third.id
    by_generation = {g: store.find_success("style:a", "content", g) for g in (1, 2, 3, 4)}
    assert {g: (s.id if s else None) for g, s in by_generation.items()} == {
        1: first.id,
        2: second.id,
        3: third.id,
        4: None,
    }


def test_recorded_steps_lists_a_regenerated_step_once(store: EventStore) -> None:
    """recorded_steps still gives each (stream, step) once whatever its generations."""
    store.append("style:a", [samples.image_generated(0)])
    store.append("style:a", [of_generation(samples.image_generated(0), 2)])
    store.append("style:a", [of_generation(samples.image_generated(0), 3)])
    store.append("style:a", [samples.room_generated("kitchen")])
    assert store.recorded_steps() == {("style:a", "image:style:0"), ("style:a", "room:kitchen")}


def test_a_first_generation_payload_is_stored_without_a_generation_key(store: EventStore) -> None:
    """Generation 1 leaves `generation` out of the stored payload; generation 2 keeps it."""
    store.append("style:a", [samples.image_generated(0)])
    store.append("style:a", [of_generation(samples.image_generated(0), 2)])
    payloads = [raw.data for raw in store.read_all_raw(limit=10)]
    assert ["generation" in p for p in payloads] == [False, True]
    assert payloads[1]["generation"] == 2


def test_threads_racing_for_one_generation_record_it_once(backend: Backend) -> None:
    """Several writers recording generation 2 of the same step: one success, the rest DuplicateStepError."""
    seed = backend.open()
    seed.append("style:a", [samples.room_generated("kitchen")])
    stores = [backend.open() for _ in range(6)]
    outcomes: list[str] = []
    barrier = threading.Barrier(6)

    def work(index: int) -> None:
        barrier.wait()
        try:
            stores[index].append("style:a", [of_generation(samples.room_generated("kitchen"), 2)])
            outcomes.append("ok")
        except DuplicateStepError as exc:
            outcomes.append(f"dup{exc.generation}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert sorted(outcomes) == ["dup2"] * 5 + ["ok"]
        assert [generation_of(e.event) for e in seed.read_stream("style:a")] == [1, 2]
    finally:
        for opened in [seed, *stores]:
            opened.close()


# --- a schema-1 SQLite journal ---------------------------------------------------------


def _make_schema_1(path: Path) -> None:
    """Turns a fresh journal into one written before generations (old index, user_version 1)."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("DROP INDEX events_success_generation")
        conn.execute(OLD_INDEX)
        conn.execute("PRAGMA user_version = 1")
    finally:
        conn.close()


def _layout(path: Path) -> tuple[int, set[str]]:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    finally:
        conn.close()
    return version, names


def _old_journal(tmp_path: Path) -> tuple[Path, list[str]]:
    backend = SqliteBackend(tmp_path)
    store = backend.open()
    ids = [
        stored.id
        for stored in (
            store.append("style:a", [samples.style_created("a")])
            + store.append("style:a", [samples.image_generated(0)])
            + store.append("style:a", [samples.room_failed("kitchen")])
        )
    ]
    store.close()
    _make_schema_1(backend.path)
    return backend.path, ids


def _digest(path: Path) -> str:
    """Returns a digest of the journal file and its WAL (what a reader must not change)."""
    sha = hashlib.sha256()
    for part in (path, path.with_name(path.name + "-wal")):
        if part.exists():
            sha.update(part.read_bytes())
    return sha.hexdigest()


def test_a_schema_1_journal_reads_unchanged(tmp_path: Path) -> None:
    """A journal from before generations opens and reads every event as generation 1."""
    path, ids = _old_journal(tmp_path)
    version, indexes = _layout(path)
    assert version == 1
    assert "events_success_step" in indexes and "events_success_generation" not in indexes
    store = SqliteEventStore(path, create=False)
    try:
        read = store.read_all(limit=10)
        assert [e.id for e in read] == ids
        assert {generation_of(e.event) for e in read} == {1}
        assert store.find_success("style:a", "image:style:0") is not None
        assert store.recorded_steps() == {("style:a", "content"), ("style:a", "image:style:0")}
    finally:
        store.close()


def test_a_read_only_open_of_a_schema_1_journal_does_not_upgrade_it(tmp_path: Path) -> None:
    """Opening and reading a schema-1 journal leaves its bytes, user_version and old index alone."""
    path, _ = _old_journal(tmp_path)
    before = _digest(path)
    store = SqliteEventStore(path, create=False)
    try:
        store.read_all(limit=10)
        store.recorded_steps()
        store.find_success("style:a", "content")
        store.self_check()
    finally:
        store.close()
    assert _digest(path) == before
    version, indexes = _layout(path)
    assert version == 1
    assert "events_success_step" in indexes and "events_success_generation" not in indexes


def test_the_first_append_upgrades_a_schema_1_journal_and_then_accepts_generation_2(tmp_path: Path) -> None:
    """The first append moves schema 1 to 2 (old index gone); a generation-2 success then commits."""
    path, ids = _old_journal(tmp_path)
    store = SqliteEventStore(path, create=False)
    try:
        store.append("style:a", [samples.room_failed("kitchen")])
        version, indexes = _layout(path)
        assert version == 2
        assert "events_success_step" not in indexes and "events_success_generation" in indexes
        store.append("style:a", [of_generation(samples.image_generated(0), 2)])
        with pytest.raises(DuplicateStepError):
            store.append("style:a", [samples.image_generated(0)])
        with pytest.raises(DuplicateStepError) as caught:
            store.append("style:a", [of_generation(samples.image_generated(0), 2)])
        assert caught.value.generation == 2
    finally:
        store.close()
    reopened = SqliteEventStore(path, create=False)
    try:
        # every read verifies each row's checksum: the old rows are untouched by the upgrade
        read = reopened.read_all(limit=20)
        assert [e.id for e in read[: len(ids)]] == ids
        assert [generation_of(e.event) for e in read if e.step == "image:style:0"] == [1, 2]
        assert reopened.self_check() == []
    finally:
        reopened.close()


def test_a_refused_first_append_leaves_a_schema_1_journal_at_schema_1(tmp_path: Path) -> None:
    """If the upgrading append is refused (a duplicate), its transaction rolls the upgrade back too."""
    path, _ = _old_journal(tmp_path)
    store = SqliteEventStore(path, create=False)
    try:
        with pytest.raises(DuplicateStepError):
            store.append("style:a", [samples.image_generated(0)])
        version, indexes = _layout(path)
        assert version == 1
        assert "events_success_step" in indexes
        store.append("style:a", [of_generation(samples.image_generated(0), 2)])
        assert _layout(path)[0] == 2
    finally:
        store.close()
