"""The journal's shape in MongoDB: collections, indexes, commit and tombstone documents."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from journal.events import SUCCESS_TYPES, Event, generation_of
from journal.store import parse_time

Doc = dict[str, Any]

SCHEMA_VERSION = 1
MARKER_ID = "genjournal"
DEFAULT_DATABASE = "genjournal"
HOLE_STREAM = "$hole"
COLLECTIONS = ("events", "counters", "leases", "meta")


@dataclass(frozen=True)
class IndexSpec:
    """Describes one index the journal relies on."""

    name: str
    keys: tuple[tuple[str, int], ...]
    unique: bool = False
    partial: Mapping[str, Any] | None = None


EVENT_INDEXES = (
    IndexSpec("stream_version", (("stream", 1), ("version", 1)), unique=True),
    IndexSpec(
        "stream_success_step",
        (("stream", 1), ("success_step", 1)),
        unique=True,
        partial={"success_step": {"$type": "string"}},
    ),
    IndexSpec("position", (("position", 1),), unique=True),
    IndexSpec("stream_last_version", (("stream", 1), ("last_version", 1))),
    IndexSpec("type_position", (("events.type", 1), ("position", 1))),
    IndexSpec("run_position", (("events.run_id", 1), ("position", 1))),
    IndexSpec("recorded_at", (("recorded_at", 1),)),
)


def _ms(moment: datetime) -> datetime:
    """Returns a UTC time truncated to what BSON stores (milliseconds)."""
    moment = moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _ceil_ms(moment: datetime) -> datetime:
    """Returns the first millisecond at or after a time (for comparing with stored times)."""
    floor = _ms(moment)
    return floor if floor == moment.astimezone(UTC) else floor + timedelta(milliseconds=1)


def _as_utc(value: Any) -> datetime | None:
    """Reads a stored time (naive BSON UTC, aware, or ISO text) as an aware UTC datetime."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, str):
        try:
            return parse_time(value)
        except ValueError:
            return None
    return None


@dataclass(frozen=True)
class Block:
    """A run of positions handed out by the counter, and when it was handed out."""

    first: int
    count: int
    recorded_at: datetime

    @property
    def last(self) -> int:
        """Returns the block's last position."""
        return self.first + self.count - 1


def _tombstone(position: int, recorded_at: datetime) -> Doc:
    return {
        "_id": f"{HOLE_STREAM}:{position}",
        "stream": HOLE_STREAM,
        "version": position,
        "last_version": position,
        "position": position,
        "count": 1,
        "hole": True,
        "recorded_at": recorded_at,
        "events": [],
    }


def _success_step(events: Sequence[Event]) -> tuple[str, int] | None:
    """Returns the (step, generation) of a commit's success event, if it carries one."""
    for event in events:
        if event.type in SUCCESS_TYPES and event.step is not None:
            return event.step, generation_of(event)
    return None


def success_key(step: str, generation: int) -> str:
    """Returns the ``success_step`` value the unique index holds for a step's generation.

    Generation 1 is the bare step key, as journals from before generations store it, so
    they need no migration; a later one is ``<step>@<generation>`` (no step key has an
    ``@``). The index ``(stream, success_step)`` is thus unique per (stream, step, generation).
    """
    return step if generation == 1 else f"{step}@{generation}"


def split_success_key(key: str) -> tuple[str, int]:
    """Returns the (step, generation) a ``success_step`` value stands for."""
    step, sep, generation = key.rpartition("@")
    if sep and generation.isdigit():
        return step, int(generation)
    return key, 1


def query_filter(
    *,
    stream: str | None,
    stream_prefix: str | None,
    types: Sequence[str] | None,
    run_id: str | None,
    since: datetime | None,
    until: datetime | None,
    lowest: int,
    highest: int,
) -> Doc:
    """Builds the document-level filter of ``query`` (each part served by an index)."""
    spec: Doc = {"position": {"$gte": lowest, "$lte": highest}}
    clauses: list[Doc] = []
    if stream is not None:
        clauses.append({"stream": stream})
    if stream_prefix:
        clauses.append({"stream": {"$gte": stream_prefix, "$lt": stream_prefix + "\U0010ffff"}})
    if types is not None:
        spec["events.type"] = {"$in": list(types)}
    if run_id is not None:
        spec["events.run_id"] = run_id
    if since is not None or until is not None:
        window: Doc = {}
        if since is not None:
            window["$gte"] = _ceil_ms(since)
        if until is not None:
            window["$lt"] = _ceil_ms(until)
        spec["recorded_at"] = window
    if len(clauses) == 1:
        spec.update(clauses[0])
    elif clauses:
        spec["$and"] = clauses
    return spec
