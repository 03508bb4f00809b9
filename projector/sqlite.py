"""SqliteViewStore: the projection in the journal's own SQLite file.

Tables ``styles`` (one JSON document per slug, with its stream version and status) and
``projection`` (the checkpoint and the plan, as key/value rows). A catch-up writes its
documents and the checkpoint in one transaction, conditional on the checkpoint it
started from. Rebuild fills ``styles_rebuild_<token>``/``projection_rebuild_<token>`` and swaps them
in with ``DROP``+``ALTER TABLE … RENAME`` inside one transaction: readers see the old
projection or the new one, never a mix; a killed rebuild leaves only its
``*_rebuild_<token>`` tables, which the next rebuild drops first.

Projection connections run with ``synchronous=NORMAL``: the projection is derived data,
a power cut can at most roll back its last commits (never tear them, WAL keeps them
atomic), and the next catch-up redoes them from the durable journal.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from journal.errors import StoreError
from journal.events import PlanSpec
from journal.failpoints import failpoint
from journal.sqlite import translate_error
from projector.fold import Document, dumps
from projector.store import RebuildTarget, ViewState, ViewStore


def _schema(suffix: str) -> list[str]:
    return [
        f"CREATE TABLE IF NOT EXISTS styles{suffix} ("
        " slug TEXT PRIMARY KEY, version INTEGER NOT NULL, status TEXT NOT NULL, doc TEXT NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS projection{suffix} (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ]


def _state_rows(state: ViewState) -> list[tuple[str, str]]:
    rows = [("checkpoint", str(state.checkpoint))]
    if state.plan is not None:
        rows.append(("plan", state.plan.model_dump_json()))
    rows += [(f"extra:{key}", json.dumps(value, sort_keys=True)) for key, value in state.extras.items()]
    return rows


def _read_state(conn: sqlite3.Connection, table: str) -> ViewState:
    rows = dict(conn.execute(f"SELECT key, value FROM {table}").fetchall())
    plan = PlanSpec.model_validate_json(rows["plan"]) if "plan" in rows else None
    extras = {key[6:]: json.loads(value) for key, value in rows.items() if key.startswith("extra:")}
    return ViewState(checkpoint=int(rows.get("checkpoint", 0)), plan=plan, extras=extras)


def _upsert(conn: sqlite3.Connection, table: str, documents: Mapping[str, Document]) -> None:
    conn.executemany(
        f"INSERT INTO {table} (slug, version, status, doc) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (slug) DO UPDATE SET version = excluded.version,"
        " status = excluded.status, doc = excluded.doc",
        [(slug, doc["version"], doc["status"], dumps(doc)) for slug, doc in documents.items()],
    )


def _select_docs(conn: sqlite3.Connection, table: str, slugs: list[str]) -> dict[str, Document]:
    found: dict[str, Document] = {}
    for start in range(0, len(slugs), 500):
        chunk = slugs[start : start + 500]
        rows = conn.execute(
            f"SELECT slug, doc FROM {table} WHERE slug IN ({', '.join('?' * len(chunk))})", chunk
        ).fetchall()
        found.update((slug, json.loads(doc)) for slug, doc in rows)
    return found


def _iter_docs(conn: sqlite3.Connection, table: str, page_size: int) -> Iterator[Document]:
    last = ""
    while True:
        rows = conn.execute(
            f"SELECT slug, doc FROM {table} WHERE slug > ? ORDER BY slug LIMIT ?", (last, page_size)
        ).fetchall()
        if not rows:
            return
        for _, doc in rows:
            yield json.loads(doc)
        last = rows[-1][0]


class SqliteViewStore(ViewStore):
    """Keeps style documents and the projection state in the journal's SQLite file."""

    def __init__(self, path: str | Path, *, busy_timeout_s: float = 60.0) -> None:
        self.path = Path(path)
        self._timeout = busy_timeout_s
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        conn = self._conn()
        try:
            for statement in _schema(""):
                conn.execute(statement)
        except sqlite3.Error as exc:
            raise translate_error(exc, self.path) from exc

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(
                    self.path, isolation_level=None, check_same_thread=False, timeout=self._timeout
                )
                conn.execute(f"PRAGMA busy_timeout = {int(self._timeout * 1000)}")
                conn.execute("PRAGMA synchronous = NORMAL")
            except sqlite3.Error as exc:
                raise translate_error(exc, self.path) from exc
            with self._lock:
                self._all.append(conn)
            self._local.conn = conn
        return conn

    def load_state(self) -> ViewState:
        """Returns the checkpoint and plan as last committed."""
        try:
            return _read_state(self._conn(), "projection")
        except sqlite3.Error as exc:
            raise translate_error(exc, self.path) from exc

    def get(self, slugs: Iterable[str]) -> dict[str, Document]:
        """Returns the stored documents for these slugs."""
        try:
            return _select_docs(self._conn(), "styles", sorted(set(slugs)))
        except sqlite3.Error as exc:
            raise translate_error(exc, self.path) from exc

    def iter_documents(self, page_size: int = 500) -> Iterator[Document]:
        """Yields every document sorted by slug, from one consistent snapshot."""
        conn = self._conn()
        try:
            conn.execute("BEGIN")
            try:
                yield from _iter_docs(conn, "styles", page_size)
            finally:
                if conn.in_transaction:
                    conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise translate_error(exc, self.path) from exc

    def status_counts(self) -> dict[str, int]:
        """Returns how many documents have each status (indexed by the status column)."""
        rows = self._conn().execute("SELECT status, COUNT(*) FROM styles GROUP BY status").fetchall()
        return {status: count for status, count in rows}

    def commit(self, documents: Mapping[str, Document], *, expected: int, state: ViewState) -> bool:
        """Writes documents and state atomically if the checkpoint is still ``expected``."""
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                current = conn.execute(
                    "SELECT value FROM projection WHERE key = 'checkpoint'"
                ).fetchone()
                if int(current[0] if current else 0) != expected:
                    conn.execute("ROLLBACK")
                    return False
                _upsert(conn, "styles", documents)
                failpoint("projection-before-checkpoint")
                conn.executemany(
                    "INSERT OR REPLACE INTO projection (key, value) VALUES (?, ?)", _state_rows(state)
                )
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise translate_error(exc, self.path) from exc
        return True

    def begin_rebuild(self) -> RebuildTarget:
        """Drops leftovers of interrupted rebuilds and creates fresh, uniquely named tables."""
        suffix = f"_rebuild_{os.urandom(4).hex()}"
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
            for table in self._debris(conn):
                conn.execute(f'DROP TABLE IF EXISTS "{table}"')
            for statement in _schema(suffix):
                conn.execute(statement)
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise translate_error(exc, self.path) from exc
        return SqliteRebuildTarget(self, suffix)

    @staticmethod
    def _debris(conn: sqlite3.Connection) -> list[str]:
        rows = conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND"
            " (name LIKE 'styles\\_rebuild\\_%' ESCAPE '\\' OR name LIKE 'projection\\_rebuild\\_%' ESCAPE '\\')"
        ).fetchall()
        return sorted(row[0] for row in rows)

    def debris(self) -> list[str]:
        """Lists tables interrupted rebuilds left behind (harmless; the next rebuild drops them)."""
        return self._debris(self._conn())

    def close(self) -> None:
        """Closes every connection."""
        with self._lock:
            connections, self._all = self._all, []
        for conn in connections:
            try:
                conn.close()
            except sqlite3.Error:
                pass
        self._local = threading.local()


class SqliteRebuildTarget(RebuildTarget):
    """The ``styles_rebuild_<token>`` tables a rebuild fills before swapping them in.

    The random token means a worker of a killed rebuild that is still finishing can only
    ever write into its own abandoned tables, never into the next rebuild's.
    """

    def __init__(self, views: SqliteViewStore, suffix: str) -> None:
        self._views = views
        self.suffix = suffix
        self.styles_table = f"styles{suffix}"
        self.state_table = f"projection{suffix}"

    @property
    def path(self) -> Path:
        """Returns the database file the target lives in."""
        return self._views.path

    def _conn(self) -> sqlite3.Connection:
        return self._views._conn()

    def load(self, slugs: Iterable[str]) -> dict[str, Document]:
        """Returns documents already written to the target."""
        return _select_docs(self._conn(), self.styles_table, sorted(set(slugs)))

    def write(self, documents: Mapping[str, Document]) -> None:
        """Writes documents into the target in one transaction."""
        write_documents(self._conn(), self.styles_table, documents, self._views.path)

    def iter_documents(self, page_size: int = 500) -> Iterator[Document]:
        """Yields the target's documents by slug."""
        return _iter_docs(self._conn(), self.styles_table, page_size)

    def swap_in(self, state: ViewState) -> None:
        """Replaces the live tables with the target's in one transaction."""
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(
                    f"INSERT OR REPLACE INTO {self.state_table} (key, value) VALUES (?, ?)",
                    _state_rows(state),
                )
                failpoint("rebuild-before-swap")
                conn.execute("DROP TABLE styles")
                conn.execute("DROP TABLE projection")
                conn.execute(f"ALTER TABLE {self.styles_table} RENAME TO styles")
                conn.execute(f"ALTER TABLE {self.state_table} RENAME TO projection")
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise translate_error(exc, self._views.path) from exc

    def abandon(self) -> None:
        """Drops the target's tables."""
        conn = self._conn()
        try:
            conn.execute(f"DROP TABLE IF EXISTS {self.styles_table}")
            conn.execute(f"DROP TABLE IF EXISTS {self.state_table}")
        except sqlite3.Error as exc:
            raise StoreError(f"could not drop the rebuild tables: {exc}") from exc


def write_documents(
    conn: sqlite3.Connection, table: str, documents: Mapping[str, Document], path: Path
) -> None:
    """Upserts documents into a styles table in one transaction."""
    if not documents:
        return
    try:
        conn.execute("BEGIN IMMEDIATE")
        _upsert(conn, table, documents)
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise translate_error(exc, path) from exc
