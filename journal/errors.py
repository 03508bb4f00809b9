"""The journal's error tree: catch `JournalError` to catch them all.

    JournalError
    ├── ConfigError                  bad --db URL, unknown scheme, unusable data dir
    ├── EventError                   an event that cannot be trusted on read or write
    │   ├── CorruptEventError        stored bytes that do not decode (names the position)
    │   ├── UnknownEventTypeError    a `type` this code does not know (names the position)
    │   └── FutureSchemaError        a `schema_version` newer than this code (names the position)
    └── StoreError                   the backend refused or failed
        ├── ConcurrencyError         `expected_version` did not match; nothing written
        ├── DuplicateStepError       a success for this (stream, step, generation) exists; nothing written
        ├── IncompatibleStoreError   not a genjournal journal, or a newer schema; left untouched
        ├── LeaseHeldError           another live run holds the run lease
        ├── StoreFullError           the disk (or quota) is full; nothing written
        └── StoreUnavailableError    the backend cannot be reached (also a ConnectionError)

Adapters translate driver exceptions into these with ``raise ... from exc`` so the
driver's traceback stays attached for debugging while callers handle one tree.
Every message is safe to print: no secret (API key, URL credentials) is ever put in one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from journal.store import LeaseHolder, StoredEvent


class JournalError(Exception):
    """Roots every error genjournal raises on purpose."""


class ConfigError(JournalError):
    """Reports a configuration or usage mistake (bad URL, bad path)."""


class EventError(JournalError):
    """Reports an event that cannot be decoded or validated."""

    def __init__(self, message: str, *, position: int | None = None) -> None:
        super().__init__(message)
        self.position = position


class CorruptEventError(EventError):
    """Reports stored event bytes that do not decode into a valid event."""


class UnknownEventTypeError(EventError):
    """Reports an event type this code does not know."""

    def __init__(self, type_name: str, *, position: int | None = None) -> None:
        where = f" at position {position}" if position is not None else ""
        super().__init__(f"unknown event type {type_name!r}{where}", position=position)
        self.type_name = type_name


class FutureSchemaError(EventError):
    """Reports an event written by a newer genjournal than this one."""

    def __init__(
        self, type_name: str, schema_version: int, known: int, *, position: int | None = None
    ) -> None:
        where = f" at position {position}" if position is not None else ""
        super().__init__(
            f"event {type_name!r}{where} has schema_version {schema_version}, but this "
            f"genjournal knows only up to {known}; upgrade genjournal to read this journal",
            position=position,
        )
        self.type_name = type_name
        self.schema_version = schema_version
        self.known = known


class StoreError(JournalError):
    """Reports a failure or refusal of the storage backend."""


class ConcurrencyError(StoreError):
    """Reports that a stream's version was not the expected one; nothing was written."""

    def __init__(self, stream: str, expected: int, actual: int) -> None:
        super().__init__(
            f"stream {stream!r} is at version {actual}, not the expected {expected}; nothing was written"
        )
        self.stream = stream
        self.expected = expected
        self.actual = actual


class DuplicateStepError(StoreError):
    """Reports that a success event for this (stream, step, generation) is already recorded.

    Nothing from the refused batch is written. ``existing`` is the event already in the
    journal (when the store could read it back), so a caller retrying an append whose
    first attempt did commit can recognise its own event by ``existing.id``.
    """

    def __init__(
        self, stream: str, step: str, existing: StoredEvent | None = None, generation: int = 1
    ) -> None:
        which = f"generation {generation} of step {step!r}" if generation > 1 else f"step {step!r}"
        super().__init__(
            f"{which} of stream {stream!r} already has a success event; nothing from this batch was written"
        )
        self.stream = stream
        self.step = step
        self.existing = existing
        self.generation = generation


class IncompatibleStoreError(StoreError):
    """Reports a store this code must not touch (foreign file, newer schema)."""


class LeaseHeldError(StoreError):
    """Reports that another live run holds the run lease."""

    def __init__(self, holder: LeaseHolder, name: str = "run") -> None:
        what = "another run holds the journal" if name == "run" else f"the journal's {name} lease is held"
        super().__init__(
            f"{what}: {holder.run_id} on host {holder.host} "
            f"pid {holder.pid} since {holder.since.isoformat(timespec='seconds')}"
        )
        self.holder = holder
        self.name = name


class StoreFullError(StoreError):
    """Reports that the disk or quota is full; the failed write left nothing behind."""


class StoreUnavailableError(StoreError, ConnectionError):
    """Reports that the backend cannot be reached right now."""


def describe(exc: BaseException) -> dict[str, Any]:
    """Returns a small, log-safe description of an exception (class and message)."""
    return {"error": type(exc).__name__, "message": str(exc)}
