"""The store port: the one narrow interface every journal backend implements.

There is no update and no delete, here or in any adapter: the journal is append-only.

* ``append(stream, events, expected_version=...)`` writes a batch to one stream,
  all or nothing. Versions are 1, 2, 3… per stream, gap-free; ``(stream, version)``
  is a unique key the backend enforces. ``expected_version=None`` appends at the end,
  whatever the version (the backend still serialises writers); an integer makes the
  append conditional and raises ``ConcurrencyError`` on mismatch (0 = a new stream).
  A success event is unique per ``(stream, step, generation)`` (a unique index, not a
  Python check; a step's generation is 1 until a regeneration request asks for the
  next); a batch that would repeat one raises ``DuplicateStepError`` carrying the
  event already recorded, and writes nothing.
* ``read_stream(stream, after=0)`` returns a stream from a version on.
* ``read_all(after_position=0, limit=...)`` returns one page of the whole journal in
  position order. A backend guarantees that a reader who remembers the last position it
  saw never misses an event that commits later (see each adapter's docstring).
* ``query(...)`` filters by stream or stream prefix, type, run and time, on indexes.
* ``last_position()``; ``stream_version(stream)``; ``recorded_steps(...)``: the
  ``(stream, step)`` pairs that have a success event.
* A run lease (``acquire_lease`` / ``renew_lease`` / ``release_lease`` /
  ``read_lease``) so that two generator processes never both pay for one step.
* ``self_check()``: what the backend finds wrong with its own storage (damaged pages,
  missing positions, gaps in stream versions), as ``StoreFinding``s for ``verify``.
* ``stream_scan()``: an optional capability. A backend whose journal can be read range
  by range in (stream, version) order, from several processes at once, at one
  consistent cut, returns a ``StreamScan`` (and, through it, a picklable
  ``StreamScanner`` for other processes); a parallel rebuild uses it. Others return
  None and are rebuilt in one pass over ``read_all``.
"""

from __future__ import annotations

import abc
import os
import socket
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple, Protocol

from pydantic import BaseModel, ConfigDict

from journal.errors import ConcurrencyError, DuplicateStepError, StoreError
from journal.events import Event, Meta, data_dict

ENVELOPE_FIELDS = (
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
)


def utcnow() -> datetime:
    """Returns the current time in UTC, to the millisecond.

    Milliseconds are what BSON dates hold; every backend records times at that precision
    so the same journal projects to the same bytes whichever store keeps it.
    """
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def format_time(moment: datetime) -> str:
    """Formats a UTC time as fixed-width ISO 8601 (sorts as text, ends in Z)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    """Parses a time written by ``format_time`` (or any ISO 8601 with an offset)."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


class RawEvent(NamedTuple):
    """A stored event as plain data (payload and meta as dicts, time as text), for fast folds."""

    position: int
    stream: str
    version: int
    type: str
    recorded_at: str
    run_id: str | None
    step: str | None
    data: dict[str, Any]
    meta: dict[str, Any]

    @classmethod
    def from_stored(cls, stored: StoredEvent) -> RawEvent:
        """Converts a typed stored event (slow; for tests and small reads)."""
        envelope = stored.to_envelope()
        return cls(
            position=stored.position,
            stream=stored.stream,
            version=stored.version,
            type=stored.type,
            recorded_at=envelope["recorded_at"],
            run_id=stored.run_id,
            step=stored.step,
            data=envelope["data"],
            meta=envelope["meta"],
        )


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as the journal holds it: the event plus stream, version, position, time."""

    position: int
    stream: str
    version: int
    recorded_at: datetime
    event: Event

    @property
    def id(self) -> str:
        """Returns the event id."""
        return self.event.id

    @property
    def type(self) -> str:
        """Returns the event type name."""
        return self.event.type

    @property
    def step(self) -> str | None:
        """Returns the idempotency key of the step the event belongs to."""
        return self.event.step

    @property
    def run_id(self) -> str | None:
        """Returns the run that wrote the event."""
        return self.event.run_id

    @property
    def data(self) -> Any:
        """Returns the typed payload."""
        return self.event.data

    @property
    def meta(self) -> Meta:
        """Returns provenance and cost."""
        return self.event.meta

    def to_envelope(self) -> dict[str, Any]:
        """Returns the flat JSON envelope of docs/design.md, keys in their fixed order."""
        event = self.event
        return {
            "id": event.id,
            "stream": self.stream,
            "version": self.version,
            "position": self.position,
            "type": event.type,
            "schema_version": event.schema_version,
            "recorded_at": format_time(self.recorded_at),
            "run_id": event.run_id,
            "step": event.step,
            "data": data_dict(event),
            "meta": event.meta.model_dump(mode="json", exclude_none=True),
        }


class AppendBatch(NamedTuple):
    """One stream's batch for ``append_many``: all of it is written, or none."""

    stream: str
    events: Sequence[Event]
    expected_version: int | None = None


def validate_batch(stream: str, events: Sequence[Event]) -> None:
    """Refuses a malformed batch before any backend writes it (raises ValueError).

    One commit records at most one paid step's success: the unique (stream, step, generation) key is
    enforced per commit in every backend, and the generator never needs more.
    """
    if not stream or not isinstance(stream, str):
        raise ValueError("stream must be a non-empty string")
    if stream.startswith("$"):
        raise ValueError(f"stream names starting with '$' are reserved: {stream!r}")
    successes = 0
    ids: set[str] = set()
    for event in events:
        if not isinstance(event, Event):
            raise TypeError(f"not an event: {event!r}")
        if event.is_success:
            successes += 1
            if not event.step:
                raise ValueError(f"a {event.type} success event needs a step")
        if event.id in ids:
            raise ValueError(f"event id {event.id} appears twice in one batch")
        ids.add(event.id)
    if successes > 1:
        raise ValueError("a batch may carry at most one success event (one paid step per commit)")


class LeaseHolder(BaseModel):
    """Says who holds the run lease, where, and since when."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    host: str
    pid: int
    since: datetime
    heartbeat: datetime
    proc_start: str | None = None

    @classmethod
    def for_this_process(cls, run_id: str) -> LeaseHolder:
        """Describes the current process as a lease holder."""
        now = utcnow()
        return cls(
            run_id=run_id,
            host=socket.gethostname(),
            pid=os.getpid(),
            since=now,
            heartbeat=now,
            proc_start=process_start_marker(os.getpid()),
        )

    def is_alive(self, *, heartbeat_timeout_s: float, now: datetime | None = None) -> bool:
        """Tells whether the holder may still be running.

        On this host the answer is exact: the pid exists and is the same process (its
        start time matches, so a recycled pid does not count). Elsewhere it is the
        heartbeat: fresh within the timeout.
        """
        if self.host == socket.gethostname():
            return process_start_marker(self.pid) == self.proc_start and pid_exists(self.pid)
        now = now or utcnow()
        return (now - self.heartbeat).total_seconds() < heartbeat_timeout_s


def pid_exists(pid: int) -> bool:
    """Tells whether a process with this pid exists on this host (zombies count as gone)."""
    if pid <= 0:
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            state = fh.read().rsplit(")", 1)[-1].split()[0]
        return state not in ("Z", "X")
    except FileNotFoundError:
        return False
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def process_start_marker(pid: int) -> str | None:
    """Returns the process start time (in clock ticks since boot) or None if unknown."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            fields = fh.read().rsplit(")", 1)[-1].split()
        return fields[19]
    except (OSError, IndexError):
        return None


@dataclass(frozen=True)
class StoreFinding:
    """One problem a backend found in its own storage (``error`` fails verify; ``info`` is expected)."""

    check: str
    severity: Literal["error", "info"]
    message: str
    example: str | None = None
    count: int = 1


class StreamScan(Protocol):
    """Reads stream ranges in (stream, version) order at a fixed cut of the journal."""

    def stream_sizes(self, *, start: str, stop: str, max_position: int) -> list[tuple[str, int]]:
        """Returns (stream, events at or before ``max_position``) for the streams in ``[start, stop)``."""
        ...

    def read_streams_raw(
        self,
        *,
        start: str,
        stop: str,
        after: tuple[str, int] | None = None,
        max_position: int,
        limit: int = 5000,
    ) -> list[RawEvent]:
        """Returns a page of the streams in ``[start, stop)`` after ``after``, up to ``max_position``."""
        ...

    def scanner(self) -> StreamScanner:
        """Returns a picklable handle that opens a reader like this one in another process."""
        ...

    def close(self) -> None:
        """Releases the reader's connections."""
        ...


class StreamScanner(Protocol):
    """A picklable handle that opens a ``StreamScan`` on the same journal, in any process.

    The backend promises that every event at or before ``last_position()`` is committed
    (positions are commit-ordered), so readers that agree on a ``max_position`` see the
    same events.
    """

    def open(self) -> StreamScan:
        """Opens a reader (the caller closes it)."""
        ...


class EventStore(abc.ABC):
    """Appends events and reads them back; never updates, never deletes."""

    #: a short name for messages ("sqlite", "mongodb")
    backend: str = "abstract"
    #: how often a reader tailing the journal should poll at most (a server store wants fewer reads)
    min_poll_interval_s: float = 0.0

    @abc.abstractmethod
    def append(
        self,
        stream: str,
        events: Sequence[Event],
        *,
        expected_version: int | None = None,
    ) -> list[StoredEvent]:
        """Appends a batch to one stream atomically and durably; returns it as stored."""

    @abc.abstractmethod
    def read_stream(self, stream: str, *, after: int = 0) -> list[StoredEvent]:
        """Returns the events of a stream with version greater than ``after``."""

    @abc.abstractmethod
    def read_all(self, *, after_position: int = 0, limit: int = 1000) -> list[StoredEvent]:
        """Returns up to ``limit`` events with position greater than ``after_position``."""

    @abc.abstractmethod
    def query(
        self,
        *,
        stream: str | None = None,
        stream_prefix: str | None = None,
        types: Iterable[str] | None = None,
        run_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        after_position: int = 0,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[StoredEvent]:
        """Returns events matching every given filter, in position order."""

    @abc.abstractmethod
    def last_position(self) -> int:
        """Returns the position of the newest event ``read_all`` can reach (0 when empty)."""

    @abc.abstractmethod
    def stream_version(self, stream: str) -> int:
        """Returns the version of a stream's newest event (0 if the stream is empty)."""

    @abc.abstractmethod
    def recorded_steps(self, *, stream_prefix: str = "") -> set[tuple[str, str]]:
        """Returns every (stream, step) that has a success event."""

    @abc.abstractmethod
    def find_success(self, stream: str, step: str, generation: int | None = None) -> StoredEvent | None:
        """Returns a step's success event of that generation (None: its newest), or None."""

    @abc.abstractmethod
    def acquire_lease(
        self, holder: LeaseHolder, *, name: str = "run", heartbeat_timeout_s: float = 60.0
    ) -> LeaseHolder | None:
        """Takes the lease for ``holder``; returns the previous dead holder taken over, if any.

        Raises ``LeaseHeldError`` naming the holder when a live one has it.
        """

    @abc.abstractmethod
    def renew_lease(self, holder: LeaseHolder, *, name: str = "run") -> bool:
        """Refreshes the heartbeat; returns False if the lease is no longer ours."""

    @abc.abstractmethod
    def release_lease(self, holder: LeaseHolder, *, name: str = "run") -> None:
        """Gives the lease up if ``holder`` still has it."""

    @abc.abstractmethod
    def read_lease(self, *, name: str = "run") -> LeaseHolder | None:
        """Returns the current lease holder, alive or not, or None."""

    @abc.abstractmethod
    def self_check(self) -> list[StoreFinding]:
        """Checks the backend's own storage (read-only); returns what is wrong, or nothing."""

    @abc.abstractmethod
    def close(self) -> None:
        """Releases connections; the store is unusable afterwards."""

    def stream_scan(self) -> StreamScan | None:
        """Returns this store as a reader of stream ranges, or None when the backend has none."""
        return None

    # --- conveniences built on the port ---------------------------------------------

    def iter_all(self, *, after_position: int = 0, page_size: int = 1000) -> Iterator[StoredEvent]:
        """Yields every event after a position, page by page, in position order."""
        position = after_position
        while True:
            page = self.read_all(after_position=position, limit=page_size)
            if not page:
                return
            yield from page
            position = page[-1].position
            if len(page) < page_size:
                return

    def append_many(self, batches: Sequence[AppendBatch]) -> list[list[StoredEvent] | StoreError]:
        """Appends several batches, each atomically; returns each one's events or the error refusing it.

        Backends that can (SQLite) make the whole group one durable commit; this default
        appends them one by one. Errors that are not about one batch (the store is down,
        the disk is full) are raised, not returned.
        """
        results: list[list[StoredEvent] | StoreError] = []
        for batch in batches:
            try:
                results.append(
                    self.append(batch.stream, batch.events, expected_version=batch.expected_version)
                )
            except (ConcurrencyError, DuplicateStepError) as refused:
                results.append(refused)
        return results

    def read_all_raw(self, *, after_position: int = 0, limit: int = 1000) -> list[RawEvent]:
        """Returns a page like ``read_all`` as plain data (backends override it to go faster)."""
        return [RawEvent.from_stored(e) for e in self.read_all(after_position=after_position, limit=limit)]

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
