"""SqliteEventStore: the embedded, durable default journal (stdlib ``sqlite3``).

One file, ``<data-dir>/journal.db``, in WAL mode with ``synchronous=FULL``: ``append``
returns only after its commit is on disk. Writers take the write lock up front with
``BEGIN IMMEDIATE`` (and wait up to the busy timeout for it), so versions are computed
and inserted under one lock and ``position`` — an ``INTEGER PRIMARY KEY`` — is
gap-free and in commit order across threads and processes. Each thread gets its own
connection.

Uniqueness is the database's job, not Python's: ``UNIQUE(stream, version)`` and a
partial unique index on ``(stream, step, generation) WHERE success = 1`` (the
generation read from the payload, absent = 1). A journal written before generations
(schema 1, one success per ``(stream, step)``) is upgraded by the first append, inside
that append's transaction: only its indexes change, never a row. Triggers refuse every
UPDATE and DELETE on ``events``: the journal is append-only even to a hand-written SQL
statement.

A file is identified as a genjournal journal by ``PRAGMA application_id``; its layout by
``PRAGMA user_version``. A file that is not SQLite, another application's database, or
a journal from a newer genjournal is refused with ``IncompatibleStoreError`` and left
byte-for-byte as it was (it is inspected read-only before anything is written).
"""

from __future__ import annotations

import errno
import os
import sqlite3
import threading
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from journal.backends.sqlite.file import (
    APPLICATION_ID,
    COLUMNS,
    INSERT,
    NULL,
    SCAN_JSON,
    SCHEMA,
    SCHEMA_VERSION,
    UPGRADE_TO_2,
    connect,
    event_row,
    fsync_dir,
    inspect_file,
    translate_error,
    verify_checksum,
)
from journal.errors import (
    ConcurrencyError,
    ConfigError,
    DuplicateStepError,
    IncompatibleStoreError,
    LeaseHeldError,
    StoreError,
    StoreFullError,
)
from journal.events import (
    CURRENT_SCHEMA,
    SUCCESS_TYPES,
    Event,
    decode_event,
    decode_raw,
    generation_of,
)
from journal.failpoints import failpoint
from journal.store import (
    AppendBatch,
    EventStore,
    LeaseHolder,
    RawEvent,
    StoredEvent,
    StoreFinding,
    format_time,
    parse_time,
    utcnow,
    validate_batch,
)


class SqliteEventStore(EventStore):
    """Keeps the journal in one SQLite file with durable, serialised commits."""

    backend = "sqlite"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        create: bool = True,
        busy_timeout_s: float = 60.0,
    ) -> None:
        self.path = Path(path)
        self._busy_timeout_ms = int(busy_timeout_s * 1000)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._registry_lock = threading.Lock()
        self._closed = False
        #: the file's layout is current (checked inside the first append's transaction)
        self._upgraded = False
        kind = self._check_file(create=create)
        if kind == "new":
            if not create:
                # An empty file is not a journal yet; a read must not make it one.
                raise ConfigError(
                    f"no journal at {self.path} (the file is empty; run `genjournal run` first)"
                )
            self._initialise()

    # --- connections -----------------------------------------------------------------

    def _check_file(self, *, create: bool) -> str:
        if self.path.is_dir():
            raise ConfigError(f"{self.path} is a directory, not a journal file")
        if self.path.exists():
            return inspect_file(self.path)
        if not create:
            raise ConfigError(f"no journal at {self.path} (run `genjournal run` first)")
        parent = self.path.parent
        try:
            created = not parent.exists()
            parent.mkdir(parents=True, exist_ok=True)
            if created:
                fsync_dir(parent.parent)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise StoreFullError(f"no space to create {parent}") from exc
            raise ConfigError(f"cannot create the data directory {parent}: {exc.strerror}") from exc
        return "new"

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = connect(self.path, timeout=self._busy_timeout_ms / 1000)
            conn.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
            conn.execute("PRAGMA synchronous = FULL")
        except sqlite3.Error as exc:
            raise translate_error(exc, self.path) from exc
        with self._registry_lock:
            self._connections.append(conn)
        return conn

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            if self._closed:
                raise StoreError("the store is closed")
            conn = self._connect()
            self._local.conn = conn
        return conn

    def connection(self) -> sqlite3.Connection:
        """Returns this thread's connection (for co-located read models, e.g. projections)."""
        return self._conn()

    def _initialise(self) -> None:
        conn = self._conn()
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"{self.path}: the filesystem does not support WAL mode")
            conn.execute("BEGIN IMMEDIATE")
            try:
                found = conn.execute("PRAGMA application_id").fetchone()[0]
                if found not in (0, APPLICATION_ID):
                    raise IncompatibleStoreError(f"{self.path} changed under us; not a journal")
                for statement in SCHEMA.split(";\n"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise translate_error(exc, self.path) from exc
        fsync_dir(self.path.parent)

    def _upgrade(self, conn: sqlite3.Connection) -> None:
        """Brings an older journal's layout up to this code's, inside the caller's write transaction."""
        found = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if found < 2:
            for statement in UPGRADE_TO_2:
                conn.execute(statement)

    def close(self) -> None:
        """Closes every connection this store opened."""
        self._closed = True
        with self._registry_lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            try:
                conn.close()
            except sqlite3.Error:
                pass
        self._local = threading.local()

    # --- writing ---------------------------------------------------------------------

    def append(
        self,
        stream: str,
        events: Sequence[Event],
        *,
        expected_version: int | None = None,
    ) -> list[StoredEvent]:
        """Appends a batch to one stream atomically; returns after the commit is durable."""
        if not events:
            validate_batch(stream, events)
            return []
        outcome = self.append_many([AppendBatch(stream, events, expected_version)])[0]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def append_many(self, batches: Sequence[AppendBatch]) -> list[list[StoredEvent] | StoreError]:
        """Appends several batches in one durable commit (group commit), each all-or-nothing.

        Every batch runs inside its own SAVEPOINT: a batch the store refuses (a stale
        expected version, a duplicate success step) is rolled back alone and reported in
        its slot; the others commit together with a single fsync.
        """
        for batch in batches:
            validate_batch(batch.stream, batch.events)
        results: list[list[StoredEvent] | StoreError] = []
        if not batches:
            return results
        conn = self._conn()
        recorded_at = utcnow()
        stamp = format_time(recorded_at)
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise translate_error(exc, self.path) from exc
        # One batch needs no savepoint: if the store refuses it, the whole transaction goes.
        savepoints = len(batches) > 1
        try:
            if not self._upgraded:
                self._upgrade(conn)
            for batch in batches:
                results.append(self._insert_batch(conn, batch, stamp, recorded_at, savepoints))
            if not savepoints and isinstance(results[0], StoreError):
                conn.execute("ROLLBACK")
                return results
            failpoint("append-before-commit")
            conn.execute("COMMIT")
            self._upgraded = True
        except sqlite3.Error as exc:
            self._rollback(conn)
            raise translate_error(exc, self.path) from exc
        except OSError as exc:
            self._rollback(conn)
            if exc.errno == errno.ENOSPC:
                raise StoreFullError(f"the disk holding {self.path} is full; this write was refused") from exc
            raise
        except BaseException:
            self._rollback(conn)
            raise
        return results

    def _insert_batch(
        self, conn: sqlite3.Connection, batch: AppendBatch, stamp: str, recorded_at: datetime, savepoint: bool
    ) -> list[StoredEvent] | StoreError:
        stream, events, expected_version = batch
        if not events:
            return []
        if savepoint:
            conn.execute("SAVEPOINT batch")
        try:
            current = conn.execute(
                "SELECT COALESCE(MAX(version), 0) FROM events WHERE stream = ?", (stream,)
            ).fetchone()[0]
            if expected_version is not None and expected_version != current:
                if savepoint:
                    conn.execute("ROLLBACK TO batch")
                return ConcurrencyError(stream, expected_version, current)
            rows = [
                event_row(event, stream, current + offset, stamp) for offset, event in enumerate(events, 1)
            ]
            if len(rows) == 1:  # the common case: one step's event, one statement
                last = int(conn.execute(INSERT, rows[0]).lastrowid or 0)
            else:
                conn.executemany(INSERT, rows)
                last = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
        except sqlite3.IntegrityError as exc:
            if savepoint:
                conn.execute("ROLLBACK TO batch")
            refused = self._integrity_error(exc, stream, events)
            refused.__cause__ = exc
            return refused
        finally:
            # SQLITE_FULL (and I/O errors) may roll the whole transaction back, savepoint
            # included: releasing it then would fail and hide the error that matters.
            if savepoint and conn.in_transaction:
                conn.execute("RELEASE batch")
        first = last - len(events) + 1
        return [
            StoredEvent(
                position=first + offset,
                stream=stream,
                version=current + 1 + offset,
                recorded_at=recorded_at,
                event=event,
            )
            for offset, event in enumerate(events)
        ]

    @staticmethod
    def _rollback(conn: sqlite3.Connection) -> None:
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass

    def _integrity_error(
        self, exc: sqlite3.IntegrityError, stream: str, events: Sequence[Event]
    ) -> StoreError:
        text = str(exc)
        if "events_success_generation" in text or "events.stream, events.step" in text:
            seen: set[tuple[str, int]] = set()
            for event in events:
                if event.type not in SUCCESS_TYPES or event.step is None:
                    continue
                generation = generation_of(event)
                existing = self.find_success(stream, event.step, generation)
                if existing is not None or (event.step, generation) in seen:
                    return DuplicateStepError(stream, event.step, existing, generation)
                seen.add((event.step, generation))
            return DuplicateStepError(stream, "?", None)
        if "events.id" in text:
            return StoreError(f"an event id in this batch is already recorded ({text}); nothing was written")
        if "events.stream, events.version" in text:  # cannot happen under BEGIN IMMEDIATE
            return ConcurrencyError(stream, -1, self.stream_version(stream))
        return StoreError(f"the journal refused the batch: {text}")

    # --- reading ---------------------------------------------------------------------

    @staticmethod
    def _decode(row: tuple[Any, ...]) -> StoredEvent:
        verify_checksum(row)
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
            _,
        ) = row
        event = decode_event(
            position=position,
            event_id=event_id,
            type_name=type_name,
            schema_version=schema_version,
            run_id=run_id,
            step=step,
            data=data,
            meta=meta,
        )
        return StoredEvent(
            position=position,
            stream=stream,
            version=version,
            recorded_at=parse_time(recorded_at),
            event=event,
        )

    def _select(self, sql: str, params: Sequence[Any] = ()) -> list[StoredEvent]:
        try:
            rows = self._conn().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise translate_error(exc, self.path) from exc
        return [self._decode(row) for row in rows]

    def read_stream(self, stream: str, *, after: int = 0) -> list[StoredEvent]:
        """Returns a stream's events after a version, in version order."""
        return self._select(
            f"SELECT {COLUMNS} FROM events WHERE stream = ? AND version > ? ORDER BY version",
            (stream, after),
        )

    def read_all(self, *, after_position: int = 0, limit: int = 1000) -> list[StoredEvent]:
        """Returns a page of events after a position, in position (= commit) order."""
        return self._select(
            f"SELECT {COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT ?",
            (after_position, limit),
        )

    def read_all_raw(self, *, after_position: int = 0, limit: int = 1000) -> list[RawEvent]:
        """Returns a page as plain data, checksums verified and old schemas upcast (fast path)."""
        return self._raw(self.read_raw(after_position=after_position, limit=limit))

    def read_streams_raw(
        self,
        *,
        start: str,
        stop: str,
        after: tuple[str, int] | None = None,
        max_position: int,
        limit: int = 5000,
    ) -> list[RawEvent]:
        """Returns a page of the streams in ``[start, stop)`` in (stream, version) order, as plain data.

        Only events at or before ``max_position`` count, so several readers partitioning
        the streams all see one consistent cut of the journal. ``after`` is the last
        (stream, version) of the previous page.
        """
        low = after if after is not None else (start, 0)
        try:
            # One row-value bound, so SQLite seeks the (stream, version) index to the
            # page's first row instead of scanning from the range start every page.
            rows = (
                self._conn()
                .execute(
                    f"SELECT {COLUMNS} FROM events WHERE (stream, version) > (?, ?) AND stream < ?"
                    " AND position <= ? ORDER BY stream, version LIMIT ?",
                    (low[0], low[1], stop, max_position, limit),
                )
                .fetchall()
            )
        except sqlite3.Error as exc:
            raise translate_error(exc, self.path) from exc
        return self._raw(rows)

    def stream_sizes(self, *, start: str, stop: str, max_position: int) -> list[tuple[str, int]]:
        """Returns (stream, events at or before ``max_position``) for the streams in ``[start, stop)``."""
        try:
            return (
                self._conn()
                .execute(
                    "SELECT stream, COUNT(*) FROM events WHERE stream >= ? AND stream < ? AND position <= ?"
                    " GROUP BY stream ORDER BY stream",
                    (start, stop, max_position),
                )
                .fetchall()
            )
        except sqlite3.Error as exc:
            raise translate_error(exc, self.path) from exc

    @staticmethod
    def _raw(rows: list[tuple[Any, ...]]) -> list[RawEvent]:
        # The hot loop of rebuild and catch-up: locals bound once, the common case
        # (current schema, checksum present) handled inline.
        out: list[RawEvent] = []
        append = out.append
        scan = SCAN_JSON  # the C scanner behind json.loads, without its per-call regex checks
        crc32 = zlib.crc32
        null = NULL
        current = CURRENT_SCHEMA
        for row in rows:
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
            if checksum is not None and checksum != crc32(
                f"{event_id}\x1f{stream}\x1f{version}\x1f{type_name}\x1f{schema_version}\x1f{recorded_at}"
                f"\x1f{null if run_id is None else run_id}\x1f{null if step is None else step}"
                f"\x1f{data}\x1f{meta}".encode()
            ):
                verify_checksum(row)
            if current.get(type_name) == schema_version:
                try:
                    payload, end = scan(data, 0)
                    meta_dict, end_meta = scan(meta, 0)
                    if end != len(data) or end_meta != len(meta):
                        raise ValueError("trailing bytes")
                except (ValueError, StopIteration):
                    payload, meta_dict = decode_raw(
                        position=position,
                        type_name=type_name,
                        schema_version=schema_version,
                        data=data,
                        meta=meta,
                    )
            else:
                payload, meta_dict = decode_raw(
                    position=position,
                    type_name=type_name,
                    schema_version=schema_version,
                    data=data,
                    meta=meta,
                )
            append(
                RawEvent(position, stream, version, type_name, recorded_at, run_id, step, payload, meta_dict)
            )
        return out

    def read_raw(self, *, after_position: int = 0, limit: int = 1000) -> list[tuple[Any, ...]]:
        """Returns undecoded rows (for verification and benchmarks)."""
        try:
            return (
                self._conn()
                .execute(
                    f"SELECT {COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT ?",
                    (after_position, limit),
                )
                .fetchall()
            )
        except sqlite3.Error as exc:
            raise translate_error(exc, self.path) from exc

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
        """Returns events matching every given filter, in position order (indexed)."""
        clauses = ["position > ?"]
        params: list[Any] = [after_position]
        if stream is not None:
            clauses.append("stream = ?")
            params.append(stream)
        if stream_prefix:
            clauses.append("stream >= ? AND stream < ?")
            params += [stream_prefix, stream_prefix + "\U0010ffff"]
        type_list = sorted(set(types)) if types is not None else None
        if type_list is not None:
            if not type_list:
                return []
            clauses.append(f"type IN ({', '.join('?' * len(type_list))})")
            params += type_list
        if run_id is not None:
            clauses.append("run_id = ?")
            params.append(run_id)
        if since is not None:
            clauses.append("recorded_at >= ?")
            params.append(format_time(since))
        if until is not None:
            clauses.append("recorded_at < ?")
            params.append(format_time(until))
        order = "DESC" if newest_first else "ASC"
        sql = f"SELECT {COLUMNS} FROM events WHERE {' AND '.join(clauses)} ORDER BY position {order}"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        found = self._select(sql, params)
        if newest_first:
            found.reverse()
        return found

    def last_position(self) -> int:
        """Returns the newest position (0 when empty)."""
        return int(self._scalar("SELECT COALESCE(MAX(position), 0) FROM events"))

    def stream_version(self, stream: str) -> int:
        """Returns a stream's newest version (0 when empty)."""
        return int(self._scalar("SELECT COALESCE(MAX(version), 0) FROM events WHERE stream = ?", (stream,)))

    def _scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        try:
            return self._conn().execute(sql, params).fetchone()[0]
        except sqlite3.Error as exc:
            raise translate_error(exc, self.path) from exc

    def recorded_steps(self, *, stream_prefix: str = "") -> set[tuple[str, str]]:
        """Returns every (stream, step) with a success event (from the partial index)."""
        try:
            rows = (
                self._conn()
                .execute(
                    "SELECT stream, step FROM events WHERE success = 1 AND stream >= ? AND stream < ?",
                    (stream_prefix, stream_prefix + "\U0010ffff"),
                )
                .fetchall()
            )
        except sqlite3.Error as exc:
            raise translate_error(exc, self.path) from exc
        return {(stream, step) for stream, step in rows}

    def find_success(self, stream: str, step: str, generation: int | None = None) -> StoredEvent | None:
        """Returns a step's success event of that generation (None: its newest), or None."""
        found = self._select(
            f"SELECT {COLUMNS} FROM events WHERE stream = ? AND step = ? AND success = 1 ORDER BY position",
            (stream, step),
        )
        if generation is None:
            return max(found, key=lambda stored: generation_of(stored.event), default=None)
        return next((stored for stored in found if generation_of(stored.event) == generation), None)

    # --- the run lease -----------------------------------------------------------------

    def acquire_lease(
        self, holder: LeaseHolder, *, name: str = "run", heartbeat_timeout_s: float = 60.0
    ) -> LeaseHolder | None:
        """Takes the lease, or raises ``LeaseHeldError`` naming a live holder."""
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                previous = self._lease_row(conn, name)
                if (
                    previous is not None
                    and previous.run_id != holder.run_id
                    and previous.is_alive(heartbeat_timeout_s=heartbeat_timeout_s)
                ):
                    raise LeaseHeldError(previous, name)
                conn.execute(
                    "INSERT OR REPLACE INTO leases (name, run_id, host, pid, since, heartbeat, proc_start)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        name,
                        holder.run_id,
                        holder.host,
                        holder.pid,
                        format_time(holder.since),
                        format_time(holder.heartbeat),
                        holder.proc_start,
                    ),
                )
                conn.execute("COMMIT")
            except BaseException:
                self._rollback(conn)
                raise
        except sqlite3.Error as exc:
            raise translate_error(exc, self.path) from exc
        if previous is not None and previous.run_id != holder.run_id:
            return previous
        return None

    def renew_lease(self, holder: LeaseHolder, *, name: str = "run") -> bool:
        """Refreshes our heartbeat; False if someone else holds the lease now."""
        try:
            cursor = self._conn().execute(
                "UPDATE leases SET heartbeat = ? WHERE name = ? AND run_id = ?",
                (format_time(utcnow()), name, holder.run_id),
            )
        except sqlite3.Error as exc:
            raise translate_error(exc, self.path) from exc
        return cursor.rowcount == 1

    def release_lease(self, holder: LeaseHolder, *, name: str = "run") -> None:
        """Gives the lease up if we still hold it."""
        try:
            self._conn().execute("DELETE FROM leases WHERE name = ? AND run_id = ?", (name, holder.run_id))
        except sqlite3.Error as exc:
            raise translate_error(exc, self.path) from exc

    def read_lease(self, *, name: str = "run") -> LeaseHolder | None:
        """Returns the lease holder, alive or not."""
        try:
            return self._lease_row(self._conn(), name)
        except sqlite3.Error as exc:
            raise translate_error(exc, self.path) from exc

    @staticmethod
    def _lease_row(conn: sqlite3.Connection, name: str) -> LeaseHolder | None:
        row = conn.execute(
            "SELECT run_id, host, pid, since, heartbeat, proc_start FROM leases WHERE name = ?",
            (name,),
        ).fetchone()
        if row is None:
            return None
        run_id, host, pid, since, heartbeat, proc_start = row
        return LeaseHolder(
            run_id=run_id,
            host=host,
            pid=pid,
            since=parse_time(since),
            heartbeat=parse_time(heartbeat),
            proc_start=proc_start,
        )

    # --- diagnostics -----------------------------------------------------------------

    def integrity_check(self) -> list[str]:
        """Runs ``PRAGMA integrity_check``; returns its findings (['ok'] when healthy)."""
        try:
            return [row[0] for row in self._conn().execute("PRAGMA integrity_check")]
        except sqlite3.Error as exc:
            raise translate_error(exc, self.path) from exc

    def position_gaps(self) -> list[int]:
        """Returns positions missing between 1 and the last position (should be none)."""
        rows = (
            self._conn()
            .execute(
                "SELECT position + 1 FROM events e WHERE position < (SELECT MAX(position) FROM events)"
                " AND NOT EXISTS (SELECT 1 FROM events f WHERE f.position = e.position + 1)"
            )
            .fetchall()
        )
        first = self._scalar("SELECT MIN(position) FROM events")
        gaps = [row[0] for row in rows]
        if first is not None and first > 1:
            gaps.insert(0, 1)
        return gaps

    def stream_versions_with_gaps(self) -> list[tuple[str, int, int]]:
        """Returns (stream, events, last version) for every stream whose versions are not 1…n."""
        try:
            return (
                self._conn()
                .execute(
                    "SELECT stream, COUNT(*), MAX(version) FROM events GROUP BY stream"
                    " HAVING COUNT(*) != MAX(version)"
                )
                .fetchall()
            )
        except sqlite3.Error as exc:
            raise translate_error(exc, self.path) from exc

    def self_check(self) -> list[StoreFinding]:
        """Checks the file (``PRAGMA integrity_check``), gap-free positions and stream versions."""
        findings = [
            StoreFinding("sqlite-integrity", "error", "PRAGMA integrity_check reports damage", line)
            for line in self.integrity_check()
            if line != "ok"
        ]
        findings += [
            StoreFinding("positions", "error", "positions are missing (rows were removed)", str(gap))
            for gap in self.position_gaps()
        ]
        findings += [
            StoreFinding(
                "stream-versions",
                "error",
                "stream versions have gaps (events were removed)",
                f"{stream}: {count} events, last version {highest}",
            )
            for stream, count, highest in self.stream_versions_with_gaps()
        ]
        return findings

    def stream_scan(self) -> SqliteEventStore:
        """Returns the store itself: it reads stream ranges through its (stream, version) index."""
        return self

    def scanner(self) -> SqliteStreamScanner:
        """Returns a handle that opens this file again in another process."""
        return SqliteStreamScanner(self.path)

    def __repr__(self) -> str:
        return f"SqliteEventStore({str(self.path)!r})"


@dataclass(frozen=True)
class SqliteStreamScanner:
    """Opens the journal file in any process; positions are commit-ordered, so a cut is consistent."""

    path: Path

    def open(self) -> SqliteEventStore:
        """Opens the journal (it must exist)."""
        return SqliteEventStore(self.path, create=False)
