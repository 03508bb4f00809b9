"""Opening the view store that lives next to a given event store."""

from __future__ import annotations

from journal.errors import ConfigError
from journal.store import EventStore
from projector.store import ViewStore


def open_views(events: EventStore, *, create: bool = True) -> ViewStore:
    """Returns the view store co-located with an event store (same file or database).

    ``create=False`` opens it read-only: nothing is created, migrated or indexed.
    """
    if events.backend == "sqlite":
        from journal.backends.sqlite import SqliteEventStore
        from projector.backends.sqlite import SqliteViewStore

        assert isinstance(events, SqliteEventStore)
        return SqliteViewStore(events.path, create=create)
    if events.backend == "mongodb":
        from projector.backends.mongo import MongoViewStore

        return MongoViewStore.for_events(events, create=create)
    raise ConfigError(f"no projection store for the {events.backend} backend")
