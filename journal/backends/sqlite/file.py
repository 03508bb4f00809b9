"""The journal file itself: its schema, the row encoding and checksum, connections, errors.

Everything here is about the bytes in ``journal.db`` and how SQLite reports on them:
the ``events`` table, its indexes and append-only triggers (``SCHEMA``), the CRC-32
every row carries (``row_checksum``; checked on every read), ``translate_error`` from
SQLite's result codes to the journal's errors, ``inspect_file`` (what a file is, read
without writing), and ``connect`` (read-only and lock-free on read-only media).
``store.SqliteEventStore`` builds the event store on top.
"""

from __future__ import annotations

import json
import os
import sqlite3
import zlib
from pathlib import Path
from typing import Any

from journal.errors import (
    CorruptEventError,
    IncompatibleStoreError,
    JournalError,
    StoreError,
    StoreFullError,
    StoreUnavailableError,
)
from journal.events import (
    SUCCESS_TYPES,
    Event,
    dump_data,
    dump_meta,
)

APPLICATION_ID = 0x474A4E4C  # "GJNL"
#: 1: success unique per (stream, step); 2: per (stream, step, generation)
SCHEMA_VERSION = 2
SQLITE_MAGIC = b"SQLite format 3\x00"

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    position       INTEGER PRIMARY KEY,
    id             TEXT    NOT NULL UNIQUE,
    stream         TEXT    NOT NULL,
    version        INTEGER NOT NULL CHECK (version >= 1),
    type           TEXT    NOT NULL,
    schema_version INTEGER NOT NULL,
    recorded_at    TEXT    NOT NULL,
    run_id         TEXT,
    step           TEXT,
    success        INTEGER NOT NULL CHECK (success IN (0, 1)),
    data           TEXT    NOT NULL,
    meta           TEXT    NOT NULL,
    checksum       INTEGER,
    UNIQUE (stream, version),
    CHECK (success = 0 OR step IS NOT NULL)
);
CREATE UNIQUE INDEX IF NOT EXISTS events_success_generation
    ON events (stream, step, COALESCE(json_extract(data, '$.generation'), 1)) WHERE success = 1;
CREATE INDEX IF NOT EXISTS events_type ON events (type, position);
CREATE INDEX IF NOT EXISTS events_run ON events (run_id, position);
CREATE INDEX IF NOT EXISTS events_time ON events (recorded_at);
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'genjournal: events are append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'genjournal: events are append-only'); END;
CREATE TABLE IF NOT EXISTS leases (
    name       TEXT PRIMARY KEY,
    run_id     TEXT NOT NULL,
    host       TEXT NOT NULL,
    pid        INTEGER NOT NULL,
    since      TEXT NOT NULL,
    heartbeat  TEXT NOT NULL,
    proc_start TEXT
);
"""

#: journal schema 1 → 2: one success per (stream, step) becomes one per generation. Only
#: indexes change (no row is touched): the payload's ``generation`` (absent = 1) joins the
#: unique key, so every old row keeps its checksum and reads as generation 1.
UPGRADE_TO_2 = (
    "CREATE UNIQUE INDEX IF NOT EXISTS events_success_generation ON events"
    " (stream, step, COALESCE(json_extract(data, '$.generation'), 1)) WHERE success = 1",
    "DROP INDEX IF EXISTS events_success_step",
    "PRAGMA user_version = 2",
)

COLUMNS = (
    "position, id, stream, version, type, schema_version, recorded_at, run_id, step, data, meta, checksum"
)
INSERT = (
    "INSERT INTO events (id, stream, version, type, schema_version, recorded_at, run_id, step,"
    " success, data, meta, checksum) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def row_checksum(
    event_id: str,
    stream: str,
    version: int,
    type_name: str,
    schema_version: int,
    recorded_at: str,
    run_id: str | None,
    step: str | None,
    data: str,
    meta: str,
) -> int:
    """Returns the CRC-32 a row is stored with, so a flipped or hand-edited byte is caught on read.

    It covers every column a reader trusts, ``step`` and ``run_id`` included: an altered
    step would otherwise silently change what replay counts as done.
    """
    text = (
        f"{event_id}\x1f{stream}\x1f{version}\x1f{type_name}\x1f{schema_version}\x1f{recorded_at}"
        f"\x1f{NULL if run_id is None else run_id}\x1f{NULL if step is None else step}\x1f{data}\x1f{meta}"
    )
    return zlib.crc32(text.encode("utf-8"))


NULL = "\x00"


def event_row(event: Event, stream: str, version: int, stamp: str) -> tuple[Any, ...]:
    """Returns the ``events`` row an event is stored as (the order of ``INSERT``), checksum included."""
    data, meta = dump_data(event), dump_meta(event)
    return (
        event.id,
        stream,
        version,
        event.type,
        event.schema_version,
        stamp,
        event.run_id,
        event.step,
        1 if event.type in SUCCESS_TYPES else 0,
        data,
        meta,
        row_checksum(
            event.id,
            stream,
            version,
            event.type,
            event.schema_version,
            stamp,
            event.run_id,
            event.step,
            data,
            meta,
        ),
    )


# sqlite3 extended/primary result codes we translate (sqlite3.h)
SQLITE_BUSY = 5
SQLITE_LOCKED = 6
SQLITE_READONLY = 8
SQLITE_IOERR = 10
SQLITE_CORRUPT = 11
SQLITE_FULL = 13
SQLITE_CANTOPEN = 14
SQLITE_NOTADB = 26


SCAN_JSON = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def verify_checksum(row: tuple[Any, ...]) -> None:
    (
        position,
        event_id,
        stream,
        version,
        type_name,
        schema_version,
        recorded_at,
        run_id,
        step,
        data,
        meta,
        checksum,
    ) = row
    if checksum is not None and checksum != row_checksum(
        event_id, stream, version, type_name, schema_version, recorded_at, run_id, step, data, meta
    ):
        raise CorruptEventError(
            f"event at position {position} does not match its checksum: the journal row was "
            "altered or damaged after it was written",
            position=position,
        )


def undecodable_position(path: str | os.PathLike[str]) -> int | None:
    """Returns the position of the first event row holding bytes that are not UTF-8, if any."""
    try:
        conn = sqlite3.connect(path, isolation_level=None)
    except sqlite3.Error:
        return None
    conn.text_factory = bytes
    try:
        rows = conn.execute(
            "SELECT position, id, stream, type, recorded_at, run_id, step, data, meta FROM events"
            " ORDER BY position"
        )
        for row in rows:
            for value in row[1:]:
                if isinstance(value, bytes):
                    try:
                        value.decode("utf-8")
                    except UnicodeDecodeError:
                        return int(row[0])
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    return None


def translate_error(exc: sqlite3.Error, path: str | os.PathLike[str]) -> JournalError:
    """Maps a sqlite3 exception to the journal's error tree (the caller raises it)."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    text = str(exc)
    if "Could not decode to UTF-8" in text:
        # A byte of a stored row was damaged into invalid UTF-8: name the row, like a
        # checksum mismatch does, rather than echo the garbled text.
        position = undecodable_position(path)
        if position is not None:
            return CorruptEventError(
                f"event at position {position} is not valid UTF-8: the journal row was "
                "damaged after it was written",
                position=position,
            )
    if primary == SQLITE_FULL or "disk is full" in text:
        return StoreFullError(f"the disk holding {path} is full; this write was refused")
    if primary in (SQLITE_BUSY, SQLITE_LOCKED) or "locked" in text:
        return StoreUnavailableError(f"{path} stayed locked by another writer: {text}")
    if primary in (SQLITE_NOTADB, SQLITE_CORRUPT) or "not a database" in text:
        return IncompatibleStoreError(f"{path} is damaged or not a SQLite database: {text}")
    if primary in (SQLITE_CANTOPEN, SQLITE_READONLY, SQLITE_IOERR):
        return StoreUnavailableError(f"cannot use {path}: {text}")
    return StoreError(f"sqlite error on {path}: {text}")


def inspect_file(path: Path) -> str:
    """Classifies an existing file as ``new`` (empty) or ``journal``; refuses anything else.

    Reads through SQLite without writing: a legacy-journal file is opened ``mode=ro``;
    a WAL file (which genjournal journals always are) is opened normally, because a
    committed-but-not-checkpointed schema may live only in its WAL.
    """
    with path.open("rb") as fh:
        header = fh.read(100)
    if not header:
        return "new"
    if not header.startswith(SQLITE_MAGIC):
        raise IncompatibleStoreError(
            f"{path} is not a SQLite database, so not a genjournal journal; it was left untouched"
        )
    wal = len(header) >= 20 and header[18] == 2 and header[19] == 2
    # as_uri() percent-escapes the path: "%", "#" and "?" in a directory name are
    # characters of the name, not of the URI.
    uri = path.absolute().as_uri() + ("" if wal else "?mode=ro")
    if on_read_only_media(path):
        uri = path.absolute().as_uri() + "?mode=ro&immutable=1"
    try:
        conn = sqlite3.connect(uri, uri=True, isolation_level=None)
    except sqlite3.Error as exc:
        raise translate_error(exc, path) from exc
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        user_version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    except sqlite3.Error as exc:
        raise translate_error(exc, path) from exc
    finally:
        conn.close()
    if app_id == APPLICATION_ID:
        if user_version > SCHEMA_VERSION:
            raise IncompatibleStoreError(
                f"{path} was written by a newer genjournal (journal schema {user_version}, "
                f"this one knows {SCHEMA_VERSION}); upgrade genjournal. It was left untouched"
            )
        return "journal"
    if app_id == 0 and not tables:
        return "new"
    listed = ", ".join(sorted(tables)[:5]) or "none"
    raise IncompatibleStoreError(
        f"{path} is another application's SQLite database (application_id {app_id}, "
        f"tables: {listed}), not a genjournal journal; it was left untouched"
    )


def on_read_only_media(path: Path) -> bool:
    """Tells whether the file's directory is on a read-only filesystem (a mounted backup, say)."""
    try:
        return bool(os.statvfs(path.absolute().parent).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def connect(path: Path, *, timeout: float) -> sqlite3.Connection:
    """Opens a connection to the journal file, read-only and lock-free on read-only media.

    A WAL database needs its ``-shm`` file to read; on a read-only filesystem it cannot be
    created, so the file is opened ``immutable`` there: nothing can change it anyway.
    """
    if on_read_only_media(path):
        return sqlite3.connect(
            path.absolute().as_uri() + "?mode=ro&immutable=1",
            uri=True,
            isolation_level=None,
            check_same_thread=False,
            timeout=timeout,
        )
    return sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=timeout)


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
