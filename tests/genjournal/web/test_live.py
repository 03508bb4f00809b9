"""The journal tail and one client's SSE stream, driven directly on a real SQLite journal."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from genjournal.web import live
from genjournal.web.live import JournalTail, event_stream
from journal.backends.sqlite import SqliteEventStore
from journal.events import StepStarted, StepStartedData


def append(store: SqliteEventStore, count: int) -> None:
    """Appends ``count`` small events to one run stream."""
    for i in range(count):
        store.append(
            "run:r1",
            [StepStarted(run_id="r1", data=StepStartedData(stream="style:a", step=f"s{i}", kind="text"))],
        )


def positions(chunk: bytes) -> list[int]:
    """Returns the SSE ids in a chunk of frames, checking each frame's data is its envelope."""
    found = []
    for ident, data in re.findall(rb"id: (\d+)\ndata: (.*)\n\n", chunk):
        assert json.loads(data)["position"] == int(ident)
        found.append(int(ident))
    return found


async def collect(stream: AsyncIterator[bytes], until: int, timeout: float = 10.0) -> list[int]:
    """Reads a stream until it has delivered position ``until``; returns the positions seen."""
    seen: list[int] = []

    async def read() -> None:
        async for chunk in stream:
            seen.extend(positions(chunk))
            if seen and seen[-1] >= until:
                return

    await asyncio.wait_for(read(), timeout)
    return seen


@pytest.fixture
def store(tmp_path: Path) -> SqliteEventStore:
    """Returns a fresh SQLite journal."""
    return SqliteEventStore(tmp_path / "journal.db")


def test_stream_replays_after_the_cursor_then_goes_live(store: SqliteEventStore) -> None:
    """A client resuming at position 2 gets 3…5 from the store, then 6…8 as they are appended."""
    append(store, 5)

    async def scenario() -> list[int]:
        tail = JournalTail(store, interval_s=0.01)
        await tail.start()
        try:
            stream = event_stream(tail, 2)
            assert await anext(stream) == b"retry: 1000\n\n"
            first = await collect(stream, 5)
            await asyncio.to_thread(append, store, 3)
            return first + await collect(stream, 8)
        finally:
            await tail.stop()

    assert asyncio.run(scenario()) == [3, 4, 5, 6, 7, 8]


def test_a_lagging_client_falls_back_to_the_store_and_loses_nothing(
    store: SqliteEventStore,
) -> None:
    """A client whose live queue overflows replays from the store: every event once, in order."""

    async def scenario() -> list[int]:
        tail = JournalTail(store, interval_s=0.005, page_size=3, queue_batches=1)
        await tail.start()
        try:
            stream = event_stream(tail, 0)
            await anext(stream)
            # Append while the client is not reading: its one-batch queue overflows.
            await asyncio.to_thread(append, store, 20)
            await asyncio.sleep(0.3)
            assert tail.subscribers == 1
            return await collect(stream, 20)
        finally:
            await tail.stop()

    assert asyncio.run(scenario()) == list(range(1, 21))


def test_an_idle_stream_sends_heartbeats(store: SqliteEventStore) -> None:
    """With nothing new, the stream sends an SSE comment every heartbeat interval."""

    async def scenario() -> bytes:
        tail = JournalTail(store, interval_s=0.01)
        await tail.start()
        try:
            stream = event_stream(tail, 0, heartbeat_s=0.05)
            await anext(stream)
            return await asyncio.wait_for(anext(stream), 2)
        finally:
            await tail.stop()

    assert asyncio.run(scenario()) == b": keep-alive\n\n"


def test_stopping_the_tail_ends_every_stream(store: SqliteEventStore) -> None:
    """When the server shuts down, open streams end instead of hanging."""

    async def scenario() -> list[bytes]:
        tail = JournalTail(store, interval_s=0.01)
        await tail.start()
        stream = event_stream(tail, 0)
        await anext(stream)
        reader = asyncio.ensure_future(asyncio.wait_for(_drain(stream), 2))
        await asyncio.sleep(0.05)
        await tail.stop()
        return await reader

    assert asyncio.run(scenario()) == []


async def _drain(stream: AsyncIterator[bytes]) -> list[bytes]:
    return [chunk async for chunk in stream]


def test_the_tail_reads_the_journal_once_for_all_clients(store: SqliteEventStore) -> None:
    """Ten clients share one tail: each new event is read from the journal once, for all."""

    async def scenario() -> list[list[int]]:
        tail = JournalTail(store, interval_s=0.01)
        reads = 0
        original = tail.read_frames

        def counting(after: int, limit: int = 500) -> list[live.Frame]:
            nonlocal reads
            frames = original(after, limit)
            reads += len(frames)
            return frames

        tail.read_frames = counting  # type: ignore[method-assign]
        await tail.start()
        try:
            streams = [event_stream(tail, 0) for _ in range(10)]
            for stream in streams:
                await anext(stream)
            await asyncio.sleep(0.05)
            await asyncio.to_thread(append, store, 4)
            seen = await asyncio.gather(*(collect(stream, 4) for stream in streams))
            assert reads == 4
            return list(seen)
        finally:
            await tail.stop()

    assert asyncio.run(scenario()) == [[1, 2, 3, 4]] * 10
