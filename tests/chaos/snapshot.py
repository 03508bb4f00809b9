"""Reading a journal after a crash without disturbing it: events, raw rows, the projection check.

On SQLite the journal file and its WAL are copied first and every read (and the
projection catch-up and rebuild, which write) happens on the copy, so the next run
finds the data dir exactly as the crash left it. A MongoDB journal cannot be copied;
there the projection check runs in place, which is what ``genjournal export`` and
``rebuild`` would do anyway.
"""

from __future__ import annotations

import shutil
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from journal.backends.sqlite import SqliteEventStore
from journal.config import open_store
from journal.store import EventStore
from projector.export import export_bytes
from projector.projector import Projector
from projector.views import open_views


@dataclass
class Snapshot:
    """What the journal held at one moment, and how its projection behaved."""

    events: list[dict[str, Any]]
    #: raw rows as bytes (SQLite) or canonical envelopes (other backends), in position order
    rows: list[Any]
    integrity: list[str] | None = None
    live_export: bytes = b""
    rebuilt_export: bytes = b""
    errors: list[str] = field(default_factory=list)


def _project(store: EventStore) -> tuple[bytes, bytes]:
    """Catches the projection up and exports it, then rebuilds it and exports again."""
    views = open_views(store)
    try:
        projector = Projector(store, views)
        projector.catch_up()
        live = export_bytes(projector.documents())
        projector.rebuild(workers=1)
        rebuilt = export_bytes(projector.documents())
    finally:
        views.close()
    return live, rebuilt


def _envelopes(store: EventStore) -> list[dict[str, Any]]:
    return [stored.to_envelope() for stored in store.iter_all(page_size=5000)]


def sqlite_snapshot(data_dir: Path, scratch: Path) -> Snapshot:
    """Copies ``journal.db`` (and its WAL) to ``scratch`` and reads everything from the copy."""
    if scratch.exists():
        shutil.rmtree(scratch)
    scratch.mkdir(parents=True)
    source = data_dir / "journal.db"
    if not source.exists():
        return Snapshot(events=[], rows=[], integrity=["ok"])
    copy = scratch / "journal.db"
    shutil.copyfile(source, copy)
    wal = data_dir / "journal.db-wal"
    if wal.exists():
        shutil.copyfile(wal, scratch / "journal.db-wal")
    conn = sqlite3.connect(copy)
    try:
        integrity = [row[0] for row in conn.execute("PRAGMA integrity_check")]
        conn.text_factory = bytes  # compare the stored bytes themselves, not their decoding
        rows = conn.execute("SELECT * FROM events ORDER BY position").fetchall()
    finally:
        conn.close()
    snap = Snapshot(events=[], rows=rows, integrity=integrity)
    store = SqliteEventStore(copy, create=False)
    try:
        snap.events = _envelopes(store)
        snap.live_export, snap.rebuilt_export = _project(store)
    except Exception as exc:  # a finding, reported with the seed, not a crash of the driver
        snap.errors.append(f"reading the journal failed: {type(exc).__name__}: {exc}")
    finally:
        store.close()
    shutil.rmtree(scratch, ignore_errors=True)
    return snap


def store_snapshot(url: str) -> Snapshot:
    """Reads a journal through its store (MongoDB, mongomock), checking the projection in place."""
    import json

    store = open_store(url, create=False)
    snap = Snapshot(events=[], rows=[])
    try:
        snap.events = _envelopes(store)
        snap.rows = [json.dumps(e, sort_keys=True) for e in snap.events]
        snap.live_export, snap.rebuilt_export = _project(store)
    except Exception as exc:  # a finding, reported with the seed, not a crash of the driver
        snap.errors.append(f"reading the journal failed: {type(exc).__name__}: {exc}")
    finally:
        store.close()
    return snap
