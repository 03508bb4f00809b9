"""GroupWriter: a run's appends through one thread, committed in durable groups."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from generator.writer import GroupWriter
from genjournal.testing import samples
from journal.backends.sqlite import SqliteEventStore
from journal.errors import ConcurrencyError, DuplicateStepError, StoreError, StoreUnavailableError
from journal.store import AppendBatch, StoredEvent


def _run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_an_append_returns_only_once_it_is_durable_and_visible_to_another_connection(tmp_path: Path) -> None:
    """What ``await append`` returned is already in the file, seen by a fresh connection."""
    store = SqliteEventStore(tmp_path / "journal.db")

    async def main() -> StoredEvent:
        writer = GroupWriter(store)
        writer.start()
        try:
            return await writer.append("style:style-0", samples.style_created("style-0"))
        finally:
            await asyncio.get_running_loop().run_in_executor(None, writer.close)

    stored = _run(main())
    other = SqliteEventStore(tmp_path / "journal.db", create=False)
    try:
        assert [e.id for e in other.read_stream("style:style-0")] == [stored.id]
    finally:
        other.close()
        store.close()


def test_many_concurrent_appends_share_commits_and_keep_the_order_they_were_queued(tmp_path: Path) -> None:
    """200 appends queued at once land in queue order, in fewer commits than appends."""
    store = SqliteEventStore(tmp_path / "journal.db")

    async def main() -> tuple[list[StoredEvent], GroupWriter]:
        writer = GroupWriter(store)
        writer.start()
        try:
            events = [samples.image_failed(i % 3, room=f"room-{i}") for i in range(200)]
            stored = await asyncio.gather(*(writer.append("style:style-0", e) for e in events))
            return list(stored), writer
        finally:
            await asyncio.get_running_loop().run_in_executor(None, writer.close)

    stored, writer = _run(main())
    assert [e.version for e in stored] == list(range(1, 201))
    assert [e.position for e in stored] == sorted(e.position for e in stored)
    assert writer.appends == 200
    assert writer.commits < writer.appends
    store.close()


def test_a_refused_append_fails_only_its_own_waiter(tmp_path: Path) -> None:
    """A second success for one step and a stale expected version are refused; their neighbours land."""
    store = SqliteEventStore(tmp_path / "journal.db")

    async def main() -> list[object]:
        writer = GroupWriter(store)
        writer.start()
        try:
            return await asyncio.gather(
                writer.append("style:style-0", samples.style_created("style-0")),
                writer.append("style:style-0", samples.style_created("style-0")),
                writer.append("style:style-1", samples.style_created("style-1"), expected_version=5),
                writer.append("style:style-2", samples.style_created("style-2")),
                return_exceptions=True,
            )
        finally:
            await asyncio.get_running_loop().run_in_executor(None, writer.close)

    first, duplicate, stale, last = _run(main())
    assert isinstance(first, StoredEvent) and isinstance(last, StoredEvent)
    assert isinstance(duplicate, DuplicateStepError)
    assert isinstance(stale, ConcurrencyError)
    assert store.stream_version("style:style-0") == 1
    assert store.stream_version("style:style-1") == 0
    store.close()


class _FailingStore(SqliteEventStore):
    """A real store whose next group commit fails as a whole (the disk went away)."""

    def append_many(self, batches: Sequence[AppendBatch]) -> list[list[StoredEvent] | StoreError]:
        raise StoreUnavailableError("the disk went away")


def test_a_store_failure_reaches_every_waiter_of_the_group(tmp_path: Path) -> None:
    """When the store fails a group, every append in it raises that error; nothing is lost silently."""
    store = _FailingStore(tmp_path / "journal.db")

    async def main() -> list[object]:
        writer = GroupWriter(store)
        writer.start()
        try:
            return await asyncio.gather(
                *(writer.append("style:style-0", samples.image_failed(i)) for i in range(5)),
                return_exceptions=True,
            )
        finally:
            await asyncio.get_running_loop().run_in_executor(None, writer.close)

    results = _run(main())
    assert all(isinstance(r, StoreUnavailableError) for r in results)
    store.close()


def test_close_lets_every_queued_append_finish(tmp_path: Path) -> None:
    """Appends already queued when close() is called are committed before the thread stops."""
    store = SqliteEventStore(tmp_path / "journal.db")

    async def main() -> list[StoredEvent]:
        writer = GroupWriter(store)
        writer.start()
        pending = [
            asyncio.ensure_future(writer.append("style:style-0", samples.image_failed(0))) for _ in range(50)
        ]
        await asyncio.sleep(0)  # every append is queued
        await asyncio.get_running_loop().run_in_executor(None, writer.close)
        return list(await asyncio.gather(*pending))

    stored = _run(main())
    assert len(stored) == 50
    assert len(store.read_stream("style:style-0")) == 50
    store.close()


def test_appending_before_start_is_a_programming_error(tmp_path: Path) -> None:
    """The writer refuses an append before start(): there is no loop to hand results back to."""
    store = SqliteEventStore(tmp_path / "journal.db")
    writer = GroupWriter(store)

    async def main() -> None:
        await writer.append("style:style-0", samples.image_failed(0))

    with pytest.raises(AssertionError):
        _run(main())
    store.close()
