"""genjournal's journal: immutable events, the store port, and its backends.

The journal is the only source of truth for what was generated and paid for. It knows
the event types it stores and nothing of what styles mean.
"""

from journal.blobs import BlobRef, BlobStore
from journal.config import Location, open_store, resolve_data_dir, resolve_db_url
from journal.errors import (
    ConcurrencyError,
    ConfigError,
    CorruptEventError,
    DuplicateStepError,
    EventError,
    FutureSchemaError,
    IncompatibleStoreError,
    JournalError,
    LeaseHeldError,
    StoreError,
    StoreFullError,
    StoreUnavailableError,
    UnknownEventTypeError,
)
from journal.events import (
    SUCCESS_TYPES,
    AnyEvent,
    Event,
    ImageFailed,
    ImageGenerated,
    Meta,
    PlanSpec,
    RoomFailed,
    RoomGenerated,
    RunFinished,
    RunStarted,
    StepStarted,
    StyleCreated,
    StyleFailed,
)
from journal.redaction import redact_url
from journal.store import EventStore, LeaseHolder, StoredEvent

__all__ = [
    "SUCCESS_TYPES",
    "AnyEvent",
    "BlobRef",
    "BlobStore",
    "ConcurrencyError",
    "ConfigError",
    "CorruptEventError",
    "DuplicateStepError",
    "Event",
    "EventError",
    "EventStore",
    "FutureSchemaError",
    "ImageFailed",
    "ImageGenerated",
    "IncompatibleStoreError",
    "JournalError",
    "LeaseHeldError",
    "LeaseHolder",
    "Location",
    "Meta",
    "PlanSpec",
    "RoomFailed",
    "RoomGenerated",
    "RunFinished",
    "RunStarted",
    "StepStarted",
    "StoreError",
    "StoreFullError",
    "StoreUnavailableError",
    "StoredEvent",
    "StyleCreated",
    "StyleFailed",
    "UnknownEventTypeError",
    "open_store",
    "redact_url",
    "resolve_data_dir",
    "resolve_db_url",
]
