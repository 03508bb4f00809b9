"""The journal backends the contract suite runs on, behind one small test interface.

``Backend.open()`` returns a new store handle on the same journal (a second connection,
as a second thread or process would have); ``inject_raw`` writes a stored event
around the store's validation, the way a bug, an old genjournal or a hand edit would,
so the suite can prove what reading such an event does.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from journal.events import SUCCESS_TYPES
from journal.store import EventStore, parse_time

if TYPE_CHECKING:
    from journal.backends.mongo import MongoEventStore

MONGODB_URI = os.environ.get("MONGODB_URI")


class Backend:
    """A journal under test: opens handles on it and writes raw rows into it."""

    name = "abstract"

    def open(self, *, create: bool = True) -> EventStore:
        """Opens a new handle on this backend's journal."""
        raise NotImplementedError

    def inject_raw(self, store: EventStore, row: dict[str, Any]) -> None:
        """Stores an event envelope as-is, bypassing validation."""
        raise NotImplementedError

    def cleanup(self) -> None:
        """Removes what the backend created."""


class SqliteBackend(Backend):
    """A SQLite journal file in a temp directory."""

    name = "sqlite"

    def __init__(self, tmp_path: Path) -> None:
        self.path = tmp_path / "journal.db"
        self.url = f"sqlite:///{self.path}"

    def open(self, *, create: bool = True) -> EventStore:
        from journal.backends.sqlite import SqliteEventStore

        return SqliteEventStore(self.path, create=create)

    def inject_raw(self, store: EventStore, row: dict[str, Any]) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None)
        try:
            conn.execute(
                "INSERT INTO events (id, stream, version, type, schema_version, recorded_at, run_id,"
                " step, success, data, meta) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    row.get("id", uuid.uuid4().hex),
                    row["stream"],
                    row["version"],
                    row["type"],
                    row["schema_version"],
                    row.get("recorded_at", "2026-01-01T00:00:00.000000Z"),
                    row.get("run_id"),
                    row.get("step"),
                    1 if row["type"] in SUCCESS_TYPES and row.get("step") else 0,
                    row["data"] if isinstance(row["data"], str) else json.dumps(row["data"]),
                    json.dumps(row.get("meta", {})),
                ),
            )
        finally:
            conn.close()


class MongoBackend(Backend):
    """A MongoDB journal: mongomock in-process, or a throwaway database on a real server."""

    def __init__(self, real: bool) -> None:
        self.real = real
        self.name = "mongodb" if real else "mongomock"
        db_name = f"genjournal_test_{uuid.uuid4().hex[:12]}"
        if real:
            assert MONGODB_URI
            from urllib.parse import urlsplit, urlunsplit

            parts = urlsplit(MONGODB_URI)
            self.url = urlunsplit((parts.scheme, parts.netloc, f"/{db_name}", parts.query, ""))
        else:
            self.url = f"mongomock://{db_name}"
        self.db_name = db_name

    def open(self, *, create: bool = True) -> EventStore:
        return self.open_mongo(create=create)

    def open_mongo(self, *, create: bool = True, **options: Any) -> MongoEventStore:
        """Opens a handle with Mongo-only options (``clock``, ``gap_timeout_s``)."""
        from journal.backends.mongo import MongoEventStore

        return MongoEventStore.from_url(self.url, create=create, **options)

    @contextlib.contextmanager
    def raw_database(self) -> Iterator[Any]:
        """Yields the driver's handle on this journal's database, around the store."""
        from journal.backends.mongo import connect

        target = connect(self.url)
        try:
            yield target.client[target.database]
        finally:
            if target.owned:
                target.client.close()

    def inject_raw(self, store: EventStore, row: dict[str, Any]) -> None:
        """Inserts one commit document holding the row, at a position the store allocates."""
        from journal.backends.mongo import MongoEventStore

        assert isinstance(store, MongoEventStore)
        block = store._allocate(1)
        event_id = row.get("id") or uuid.uuid4().hex
        recorded_at = row.get("recorded_at")
        doc = {
            "_id": event_id,
            "stream": row["stream"],
            "version": row["version"],
            "last_version": row["version"],
            "position": block.first,
            "count": 1,
            "recorded_at": parse_time(recorded_at)
            if isinstance(recorded_at, str)
            else recorded_at or block.recorded_at,
            "events": [
                {
                    "id": event_id,
                    "type": row["type"],
                    "schema_version": row["schema_version"],
                    "run_id": row.get("run_id"),
                    "step": row.get("step"),
                    "data": row["data"],
                    "meta": row.get("meta", {}),
                }
            ],
        }
        with store.guarded():
            store.database.get_collection("events").insert_one(doc)

    def cleanup(self) -> None:
        drop_mongo_database(self.url)


def drop_mongo_database(url: str) -> None:
    """Drops the database a MongoDB (or mongomock) URL names."""
    from journal.backends.mongo import MOCK_LOCK, connect

    target = connect(url)
    try:
        with MOCK_LOCK if not target.owned else contextlib.nullcontext():
            target.client.drop_database(target.database)
    finally:
        if target.owned:
            target.client.close()


BACKEND_PARAMS = [
    "sqlite",
    "mongomock",
    pytest.param(
        "mongodb",
        marks=pytest.mark.skipif(
            not MONGODB_URI, reason="MONGODB_URI is not set: no real MongoDB server to test against"
        ),
    ),
]


def make_backend(name: str, tmp_path: Path) -> Backend:
    """Builds the backend a test parameter names."""
    if name == "sqlite":
        return SqliteBackend(tmp_path)
    return MongoBackend(real=name == "mongodb")
