"""Live journal events for SSE clients: one tail per server, fanned out to every client.

``JournalTail`` polls ``read_all(after_position=head)`` on one dedicated thread every
``interval_s`` (10 ms by default) while nothing is new, and at once again while pages
come back full, so the journal is read once however many browsers watch, and a run
appending from another process shows up within one poll interval. Only a non-empty page
wakes the event loop. Each new event is encoded once into its SSE
frame (``id`` = journal position, ``data`` = the ``history --json`` envelope) and the
same bytes go to every subscriber.

``event_stream`` is one client's stream. It subscribes *first*, then replays from the
store everything after the client's cursor (``Last-Event-ID`` or ``?after=``) up to the
position the tail had reached when it subscribed, then forwards live batches, skipping
anything at or below its cursor. Positions only grow and the store promises a reader who
remembers its last position never misses a later commit, so a reconnecting client gets
every event exactly once, in order. A client too slow for its bounded queue is not
dropped: it falls back to replaying from the store, which is the truth anyway.

Memory is bounded per client and in total: a client holds at most ``QUEUE_BATCHES``
references to batches every client shares; replays go through ``replay_page``, which
reads a page once for all the clients replaying it (at most ``REPLAY_READERS`` reads at
a time, ``REPLAY_CACHE_PAGES`` pages kept); and the server takes at most ``MAX_CLIENTS``
streams (``serve --max-clients``), refusing more with 503 and ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from journal.errors import JournalError
from journal.store import EventStore, StoredEvent

REPLAY_PAGE = 500
#: live batches a client may have queued before it falls back to replaying from the store
QUEUE_BATCHES = 64
#: full replay pages kept, encoded, for the next client replaying the same range
REPLAY_CACHE_PAGES = 32
#: store reads for replays in flight at once, whatever the number of clients
REPLAY_READERS = 2
#: clients served at once; past it, ``/events`` answers 503 with ``Retry-After``
MAX_CLIENTS = 1000
RETRY_MS = 1000


@dataclass(frozen=True, slots=True)
class ReplayPage:
    """Up to ``REPLAY_PAGE`` consecutive frames as one encoded chunk, shared by every client."""

    last_position: int
    count: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Frame:
    """One journal event as an encoded SSE frame, plus what the server itself needs of it."""

    position: int
    envelope: dict[str, Any]
    data: bytes


def encode_frame(stored: StoredEvent) -> Frame:
    """Encodes a stored event as an SSE frame whose id is its journal position."""
    envelope = stored.to_envelope()
    text = json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))
    return Frame(
        position=stored.position,
        envelope=envelope,
        data=f"id: {stored.position}\ndata: {text}\n\n".encode(),
    )


class Subscription:
    """A client's queue of live batches, remembering the tail head it started from."""

    def __init__(self, start: int, maxsize: int = QUEUE_BATCHES) -> None:
        self.start = start
        self.queue: asyncio.Queue[list[Frame] | None] = asyncio.Queue(maxsize)
        self.overflowed = False

    def push(self, batch: list[Frame] | None) -> None:
        """Queues a batch (None ends the stream); a full queue marks the client as lagging."""
        try:
            self.queue.put_nowait(batch)
        except asyncio.QueueFull:
            self.overflowed = True


class JournalTail:
    """Reads new journal events once for the whole server and hands them to subscribers."""

    def __init__(
        self,
        store: EventStore,
        *,
        interval_s: float = 0.02,
        page_size: int = REPLAY_PAGE,
        queue_batches: int = QUEUE_BATCHES,
        on_batch: Callable[[list[Frame]], None] | None = None,
    ) -> None:
        self.store = store
        self.queue_batches = queue_batches
        self.interval_s = interval_s
        self.page_size = page_size
        self.on_batch = on_batch
        self.head = 0
        self._subscribers: set[Subscription] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._closed = False
        self._pages: OrderedDict[int, ReplayPage] = OrderedDict()
        self._reading: dict[int, asyncio.Future[ReplayPage | None]] = {}
        self._readers: asyncio.Semaphore | None = None

    def read_frames(self, after: int, limit: int = REPLAY_PAGE) -> list[Frame]:
        """Returns the frames of up to ``limit`` events after a position (blocking; for threads)."""
        return [encode_frame(stored) for stored in self.store.read_all(after_position=after, limit=limit)]

    def _read_page(self, after: int) -> ReplayPage | None:
        frames = self.read_frames(after, self.page_size)
        if not frames:
            return None
        return ReplayPage(frames[-1].position, len(frames), b"".join(frame.data for frame in frames))

    async def replay_page(self, after: int) -> ReplayPage | None:
        """Returns the encoded events after a position, read once for every client that asks.

        Committed events never change, so a *full* page is kept (the last
        ``REPLAY_CACHE_PAGES`` of them) and handed to the next client replaying the same
        range; clients asking for a page being read wait for that read. At most
        ``REPLAY_READERS`` store reads run at once: memory and threads stay bounded
        however many clients replay.
        """
        cached = self._pages.get(after)
        if cached is not None:
            self._pages.move_to_end(after)
            return cached
        pending = self._reading.get(after)
        if pending is not None:
            return await asyncio.shield(pending)
        if self._readers is None:
            self._readers = asyncio.Semaphore(REPLAY_READERS)
        future: asyncio.Future[ReplayPage | None] = asyncio.get_running_loop().create_future()
        self._reading[after] = future
        try:
            async with self._readers:
                page = await asyncio.to_thread(self._read_page, after)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody logs it as lost
            raise
        finally:
            del self._reading[after]
        future.set_result(page)
        if page is not None and page.count == self.page_size:
            self._pages[after] = page
            while len(self._pages) > REPLAY_CACHE_PAGES:
                self._pages.popitem(last=False)
        return page

    async def start(self) -> None:
        """Starts tailing from the journal's current end."""
        self._loop = asyncio.get_running_loop()
        self.head = await asyncio.to_thread(self.store.last_position)
        self._thread = threading.Thread(
            target=self._poll, args=(self.head,), name="genjournal-tail", daemon=True
        )
        self._thread.start()

    async def stop(self) -> None:
        """Stops tailing and ends every subscriber's stream."""
        self._stopping.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 5)
        self._end_streams()

    def end_streams_soon(self) -> None:
        """Ends every client's stream (thread- and signal-safe), so a server can stop at once."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._end_streams)

    def _end_streams(self) -> None:
        self._closed = True
        for sub in list(self._subscribers):
            sub.push(None)

    def subscribe(self) -> Subscription:
        """Registers a client; live batches after the current head go to its queue."""
        sub = Subscription(self.head, self.queue_batches)
        if self._closed:
            sub.push(None)
        self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Forgets a client."""
        self._subscribers.discard(sub)

    @property
    def subscribers(self) -> int:
        """Returns how many clients are subscribed."""
        return len(self._subscribers)

    def _poll(self, head: int) -> None:
        # The whole polling loop lives on this thread, so an idle journal costs one
        # indexed SELECT per interval and never wakes the event loop.
        failing = False
        while not self._stopping.is_set():
            try:
                batch = self.read_frames(head, self.page_size)
            except JournalError as exc:
                # A journal that cannot be read right now (locked, unreachable, a corrupt
                # row) is reported once; the tail keeps trying, clients keep their streams.
                if not failing:
                    print(f"genjournal serve: cannot read the journal: {exc}", file=sys.stderr)
                failing = True
                self._stopping.wait(1.0)
                continue
            failing = False
            if batch:
                head = batch[-1].position
                assert self._loop is not None
                try:
                    self._loop.call_soon_threadsafe(self._dispatch, batch)
                except RuntimeError:  # the loop is closed: the server is gone
                    return
            if len(batch) < self.page_size:
                self._stopping.wait(self.interval_s)

    def _dispatch(self, batch: list[Frame]) -> None:
        # Runs on the event loop, in read order: ``head`` is what subscribers were given.
        self.head = batch[-1].position
        if self.on_batch is not None:
            self.on_batch(batch)
        for sub in list(self._subscribers):
            sub.push(batch)


async def event_stream(tail: JournalTail, cursor: int, *, heartbeat_s: float = 15.0) -> AsyncIterator[bytes]:
    """Yields one client's SSE bytes: the events after ``cursor`` from the store, then live ones."""
    sub = tail.subscribe()
    try:
        yield f"retry: {RETRY_MS}\n\n".encode()
        while True:
            while cursor < sub.start:
                page = await tail.replay_page(cursor)
                if page is None:
                    break
                cursor = page.last_position
                yield page.data
            while not sub.overflowed:
                try:
                    batch = await asyncio.wait_for(sub.queue.get(), heartbeat_s)
                except TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                if batch is None:
                    return
                fresh = [frame.data for frame in batch if frame.position > cursor]
                if fresh:
                    cursor = batch[-1].position
                    yield b"".join(fresh)
            # Too slow for the live queue: start over from the store at our cursor.
            tail.unsubscribe(sub)
            sub = tail.subscribe()
    finally:
        tail.unsubscribe(sub)
