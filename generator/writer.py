"""GroupWriter: a run's appends funnelled through one thread, committed in groups.

Concurrent steps finish at about the same time; instead of one durable commit (one
fsync) each, the writer thread takes every append queued while the previous commit was
on its way to disk and writes them with ``EventStore.append_many`` — one commit for the
group, each batch still all-or-nothing. A step's ``await append(...)`` returns only once
its group is durable, so "journaled before the next dependent step starts" still holds.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from typing import Any

from journal.events import Event
from journal.store import AppendBatch, EventStore, StoredEvent

_STOP = object()


class GroupWriter:
    """Appends events from many coroutines through one thread, a group per durable commit."""

    def __init__(self, store: EventStore, *, max_group: int = 64) -> None:
        self.store = store
        self.max_group = max_group
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.commits = 0
        self.appends = 0

    def start(self) -> None:
        """Starts the writer thread (call from the event loop that will await appends)."""
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name="genjournal-group-writer", daemon=True)
        self._thread.start()

    async def append(self, stream: str, event: Event, expected_version: int | None = None) -> StoredEvent:
        """Appends one event and returns it as stored, once its group commit is durable."""
        assert self._loop is not None, "start() the writer first"
        future: asyncio.Future[list[StoredEvent]] = self._loop.create_future()
        self._queue.put((AppendBatch(stream, [event], expected_version), future))
        return (await future)[0]

    def close(self) -> None:
        """Lets queued appends finish, then stops the thread."""
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        stopping = False
        while not stopping:
            item = self._queue.get()
            if item is _STOP:
                return
            group = [item]
            while len(group) < self.max_group:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    stopping = True
                    break
                group.append(more)
            try:
                results: list[Any] = list(self.store.append_many([batch for batch, _ in group]))
            except BaseException as exc:  # the store failed as a whole: every waiter learns why
                results = [exc] * len(group)
            self.commits += 1
            self.appends += len(group)
            for (_, future), result in zip(group, results, strict=True):
                self._resolve(future, result)

    def _resolve(self, future: asyncio.Future[list[StoredEvent]], result: Any) -> None:
        assert self._loop is not None

        def settle() -> None:
            if future.cancelled():
                return
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)

        self._loop.call_soon_threadsafe(settle)
