"""SqliteViewStore: the projection in the journal's own SQLite file.

Tables ``styles`` (one JSON document per slug, with its stream version, status and its
progress counters as columns, so status totals are SQL sums), ``projection`` (the
checkpoint and the plan, as key/value rows), and the audit facts of
``projector.facts``: ``cost_facts`` (one row of usage sums per style and
``(run, day, kind, model, image size, image quality)``) and ``runs`` (one row per run).
A style's facts always have its document's version: both are written by the same
transaction. A catch-up writes its documents, facts and the checkpoint in one
transaction, conditional on the checkpoint it started from. Rebuild fills
``<table>_rebuild_<token>`` copies of all four tables and swaps them in with
``DROP``+``ALTER TABLE … RENAME`` inside one transaction: readers see the old
projection or the new one, never a mix; a killed rebuild leaves only its
``*_rebuild_<token>`` tables, which the next rebuild drops first.

A projection written by an older genjournal (a ``styles`` table without the progress
columns) is dropped when the store opens for writing, and the next catch-up refolds it
from the journal: the projection is derived data.

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
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from journal.backends.sqlite import connect, on_read_only_media, translate_error
from journal.errors import StoreError
from journal.events import PlanSpec
from journal.failpoints import failpoint
from projector.facts import (
    COST_FIELDS,
    COST_KEY_FIELDS,
    RUN_FIELDS,
    RunFacts,
    StyleFacts,
    cost_rows,
    style_facts_from_rows,
)
from projector.fold import Document, dumps
from projector.store import (
    GROUPS,
    CostSum,
    FactsUpdate,
    ProgressTotal,
    ProjectionDamagedError,
    RebuildTarget,
    StyleProgress,
    ViewState,
    ViewStore,
)

#: the projection's tables; a rebuild fills ``<name>_rebuild_<token>`` copies of each
TABLES = ("styles", "projection", "cost_facts", "runs")
#: the progress columns of ``styles``, from the document's ``progress``
PROGRESS_COLUMNS = (
    "rooms_done",
    "rooms_failed",
    "rooms_planned",
    "images_done",
    "images_failed",
    "images_planned",
)
_PROGRESS_KEYS = ("roomsDone", "roomsFailed", "roomsPlanned", "imagesDone", "imagesFailed", "imagesPlanned")
_COST_COLUMNS = ("slug", *COST_KEY_FIELDS, *COST_FIELDS)
#: ``{table}`` is filled in per target (live or rebuild tables)
_INSERT_COSTS = (
    f"INSERT INTO {{table}} ({', '.join(_COST_COLUMNS)}) VALUES ({', '.join('?' * len(_COST_COLUMNS))})"
)
_INSERT_RUN = (
    f"INSERT OR REPLACE INTO {{table}} ({', '.join(RUN_FIELDS)}) VALUES ({', '.join('?' * len(RUN_FIELDS))})"
)


def _schema(suffix: str) -> list[str]:
    progress = ", ".join(f"{column} INTEGER NOT NULL DEFAULT 0" for column in PROGRESS_COLUMNS)
    keys = ", ".join(f"{column} TEXT NOT NULL" for column in COST_KEY_FIELDS)
    sums = ", ".join(f"{column} INTEGER NOT NULL" for column in COST_FIELDS)
    # The small columns come before ``doc``: a row's columns are stored in order, and a
    # large document spills to overflow pages that a read of later columns would walk.
    return [
        f"CREATE TABLE IF NOT EXISTS styles{suffix} ("
        " slug TEXT PRIMARY KEY, version INTEGER NOT NULL, status TEXT NOT NULL,"
        f" in_plan INTEGER NOT NULL DEFAULT 0, {progress}, doc TEXT NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS projection{suffix} (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        # WITHOUT ROWID: the rows are read and replaced by slug, and grouped by model/run/day.
        f"CREATE TABLE IF NOT EXISTS cost_facts{suffix} (slug TEXT NOT NULL, {keys}, {sums},"
        f" PRIMARY KEY (slug, {', '.join(COST_KEY_FIELDS)})) WITHOUT ROWID",
        f"CREATE TABLE IF NOT EXISTS runs{suffix} ("
        " run_id TEXT PRIMARY KEY, version INTEGER NOT NULL, started_position INTEGER,"
        " started_at TEXT, finished_at TEXT, outcome TEXT, provider TEXT,"
        " text_model TEXT, image_model TEXT, image_size TEXT, image_quality TEXT, plan_hash TEXT,"
        " host TEXT, pid INTEGER, started_text INTEGER NOT NULL, started_image INTEGER NOT NULL)",
    ]


def _indexes() -> list[str]:
    """Returns the live tables' secondary indexes (a rebuild builds them once, at the swap)."""
    sums = ", ".join(COST_FIELDS)
    return [
        # Covers every status query: totals and lists never touch a document.
        "CREATE INDEX IF NOT EXISTS styles_progress ON styles"
        f" (in_plan, status, slug, {', '.join(PROGRESS_COLUMNS)})",
        # Covers the usage sums by run (and so by model, day and in total) in index order.
        f"CREATE INDEX IF NOT EXISTS cost_facts_run ON cost_facts ({', '.join(COST_KEY_FIELDS)}, {sums})",
    ]


def _has_current_layout(conn: sqlite3.Connection) -> bool | None:
    """Tells whether ``styles`` has today's columns (None: there is no projection yet)."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(styles)")}
    if not columns:
        return None
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not (set(PROGRESS_COLUMNS) <= columns and {"cost_facts", "runs"} <= tables):
        return False
    cost_columns = {row[1] for row in conn.execute("PRAGMA table_info(cost_facts)")}
    return set(COST_FIELDS) <= cost_columns


def _state_rows(state: ViewState) -> list[tuple[str, str]]:
    rows = [("checkpoint", str(state.checkpoint))]
    if state.plan is not None:
        rows.append(("plan", state.plan.model_dump_json()))
    rows += [(f"extra:{key}", json.dumps(value, sort_keys=True)) for key, value in state.extras.items()]
    return rows


def _read_state(conn: sqlite3.Connection, table: str) -> ViewState:
    rows = dict(conn.execute(f"SELECT key, value FROM {table}").fetchall())
    try:
        plan = PlanSpec.model_validate_json(rows["plan"]) if "plan" in rows else None
        extras = {key[6:]: json.loads(value) for key, value in rows.items() if key.startswith("extra:")}
        return ViewState(checkpoint=int(rows.get("checkpoint", 0)), plan=plan, extras=extras)
    except (ValueError, TypeError) as exc:
        raise ProjectionDamagedError(f"its state does not decode: {type(exc).__name__}") from exc


def _decode_doc(slug: str, doc: Any) -> Document:
    """Reads one stored document back; a damaged one is named, not a traceback."""
    try:
        found = json.loads(doc)
    except (ValueError, TypeError) as exc:
        raise ProjectionDamagedError(f"the document of style {slug!r} does not decode") from exc
    if not isinstance(found, dict):
        raise ProjectionDamagedError(f"the document of style {slug!r} is not an object")
    return found


def _style_row(slug: str, doc: Document) -> tuple[Any, ...]:
    progress = doc["progress"]
    return (
        slug,
        doc["version"],
        doc["status"],
        1 if doc["inPlan"] else 0,
        *(progress.get(key, 0) for key in _PROGRESS_KEYS),
        dumps(doc),
    )


_UPSERT_COLUMNS = ("slug", "version", "status", "in_plan", *PROGRESS_COLUMNS, "doc")


def _upsert(conn: sqlite3.Connection, table: str, documents: Mapping[str, Document]) -> None:
    updates = ", ".join(f"{column} = excluded.{column}" for column in _UPSERT_COLUMNS[1:])
    conn.executemany(
        f"INSERT INTO {table} ({', '.join(_UPSERT_COLUMNS)})"
        f" VALUES ({', '.join('?' * len(_UPSERT_COLUMNS))})"
        f" ON CONFLICT (slug) DO UPDATE SET {updates}",
        [_style_row(slug, doc) for slug, doc in documents.items()],
    )


def _write_facts(
    conn: sqlite3.Connection, suffix: str, facts: FactsUpdate | None, *, replace: bool = True
) -> None:
    """Replaces the facts of the styles and runs in ``facts`` (inside the caller's transaction)."""
    if not facts:
        return
    table = f"cost_facts{suffix}"
    if facts.styles:
        if replace:
            conn.executemany(f"DELETE FROM {table} WHERE slug = ?", [(slug,) for slug in facts.styles])
        rows = [row for style in facts.styles.values() for row in cost_rows(style)]
        if rows:
            conn.executemany(_INSERT_COSTS.replace("{table}", table), rows)
    if facts.runs:
        conn.executemany(
            _INSERT_RUN.replace("{table}", f"runs{suffix}"),
            [tuple(run[field] for field in RUN_FIELDS) for run in facts.runs.values()],
        )


def _select_facts(conn: sqlite3.Connection, suffix: str, slugs: list[str]) -> dict[str, StyleFacts]:
    found: dict[str, StyleFacts] = {}
    width = 1 + len(COST_KEY_FIELDS) + len(COST_FIELDS)
    for start in range(0, len(slugs), 500):
        chunk = slugs[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        versions = dict(
            conn.execute(
                f"SELECT slug, version FROM styles{suffix} WHERE slug IN ({marks})", chunk
            ).fetchall()
        )
        rows: dict[str, list[tuple[Any, ...]]] = {slug: [] for slug in versions}
        for row in conn.execute(
            f"SELECT {', '.join(_COST_COLUMNS)} FROM cost_facts{suffix} WHERE slug IN ({marks})",
            chunk,
        ):
            rows.setdefault(row[0], []).append(row[1:width])
        for slug, version in versions.items():
            found[slug] = style_facts_from_rows(slug, version, rows.get(slug, []))
    return found


def _run_facts(row: tuple[Any, ...]) -> RunFacts:
    return dict(zip(RUN_FIELDS, row, strict=True))


def _select_docs(conn: sqlite3.Connection, table: str, slugs: list[str]) -> dict[str, Document]:
    found: dict[str, Document] = {}
    for start in range(0, len(slugs), 500):
        chunk = slugs[start : start + 500]
        rows = conn.execute(
            f"SELECT slug, doc FROM {table} WHERE slug IN ({', '.join('?' * len(chunk))})", chunk
        ).fetchall()
        found.update((slug, _decode_doc(slug, doc)) for slug, doc in rows)
    return found


def _iter_docs(conn: sqlite3.Connection, table: str, page_size: int) -> Iterator[Document]:
    last = ""
    while True:
        rows = conn.execute(
            f"SELECT slug, doc FROM {table} WHERE slug > ? ORDER BY slug LIMIT ?", (last, page_size)
        ).fetchall()
        if not rows:
            return
        for slug, doc in rows:
            yield _decode_doc(slug, doc)
        last = rows[-1][0]


class SqliteViewStore(ViewStore):
    """Keeps style documents and the projection state in the journal's SQLite file."""

    def __init__(self, path: str | Path, *, busy_timeout_s: float = 60.0, create: bool = True) -> None:
        self.path = Path(path)
        self._timeout = busy_timeout_s
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        #: False when opened without ``create`` on a missing or outdated projection
        self.usable = True
        conn = self._conn()
        try:
            current = _has_current_layout(conn)
            if not create or on_read_only_media(self.path):
                # Read-only use (verify, or a journal on read-only media): report what is
                # there, write nothing.
                self.usable = current is True
                return
            if current is False:
                self._reset(conn)
            for statement in (*_schema(""), *_indexes()):
                conn.execute(statement)
        except sqlite3.Error as exc:
            raise translate_error(exc, self.path) from exc

    @staticmethod
    def _reset(conn: sqlite3.Connection) -> None:
        """Drops a projection of an older layout; the next catch-up refolds it from the journal."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            if _has_current_layout(conn) is False:
                for table in TABLES:
                    conn.execute(f"DROP TABLE IF EXISTS {table}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = connect(self.path, timeout=self._timeout)
                conn.execute(f"PRAGMA busy_timeout = {int(self._timeout * 1000)}")
                conn.execute("PRAGMA synchronous = NORMAL")
            except sqlite3.Error as exc:
                raise translate_error(exc, self.path) from exc
            with self._lock:
                self._all.append(conn)
            self._local.conn = conn
        return conn

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Holds one read transaction on this thread's connection: every read sees one state."""
        conn = self._conn()
        if conn.in_transaction:
            yield
            return
        try:
            conn.execute("BEGIN")
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # the snapshot starts here
        except sqlite3.Error as exc:
            raise translate_error(exc, self.path) from exc
        try:
            yield
        finally:
            with suppress(sqlite3.Error):  # only reads happened: nothing to keep
                conn.execute("ROLLBACK")

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
            # Inside a caller's read transaction (``snapshot``), read in it rather than nest one.
            owned = not conn.in_transaction
            if owned:
                conn.execute("BEGIN")
            try:
                yield from _iter_docs(conn, "styles", page_size)
            finally:
                if owned and conn.in_transaction:
                    conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise translate_error(exc, self.path) from exc

    def status_counts(self) -> dict[str, int]:
        """Returns how many documents have each status (indexed by the status column)."""
        rows = self._query("SELECT status, COUNT(*) FROM styles GROUP BY status")
        return {status: count for status, count in rows}

    def _query(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._conn().execute(sql, tuple(params)).fetchall()
        except sqlite3.Error as exc:
            raise translate_error(exc, self.path) from exc

    # --- audit facts and queries ---------------------------------------------------------

    def get_style_facts(self, slugs: Iterable[str]) -> dict[str, StyleFacts]:
        """Returns the stored facts of these styles (with their documents' version)."""
        try:
            return _select_facts(self._conn(), "", sorted(set(slugs)))
        except sqlite3.Error as exc:
            raise translate_error(exc, self.path) from exc

    def get_runs(self, run_ids: Iterable[str]) -> dict[str, RunFacts]:
        """Returns the stored facts of these runs."""
        wanted = sorted(set(run_ids))
        found: dict[str, RunFacts] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            for row in self._query(
                f"SELECT {', '.join(RUN_FIELDS)} FROM runs WHERE run_id IN ({marks})", chunk
            ):
                found[row[0]] = _run_facts(row)
        return found

    def iter_style_facts(self) -> Iterator[StyleFacts]:
        """Yields every style's facts sorted by slug, from one consistent snapshot."""
        conn = self._conn()
        width = 1 + len(COST_KEY_FIELDS) + len(COST_FIELDS)
        try:
            # Inside a caller's read transaction, read in it rather than nest one.
            owned = not conn.in_transaction
            if owned:
                conn.execute("BEGIN")
            try:
                last = ""
                while True:
                    versions = conn.execute(
                        "SELECT slug, version FROM styles WHERE slug > ? ORDER BY slug LIMIT 500",
                        (last,),
                    ).fetchall()
                    if not versions:
                        return
                    rows: dict[str, list[tuple[Any, ...]]] = {}
                    for row in conn.execute(
                        f"SELECT {', '.join(_COST_COLUMNS)} FROM cost_facts WHERE slug > ? AND slug <= ?",
                        (last, versions[-1][0]),
                    ):
                        rows.setdefault(row[0], []).append(row[1:width])
                    for slug, version in versions:
                        yield style_facts_from_rows(slug, version, rows.get(slug, []))
                    last = versions[-1][0]
            finally:
                if owned and conn.in_transaction:
                    conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise translate_error(exc, self.path) from exc

    def runs(self) -> list[RunFacts]:
        """Returns every run's facts, oldest start first (runs without a start last)."""
        rows = self._query(
            f"SELECT {', '.join(RUN_FIELDS)} FROM runs"
            " ORDER BY started_position IS NULL, started_position, run_id"
        )
        return [_run_facts(row) for row in rows]

    def progress_totals(self) -> list[ProgressTotal]:
        """Returns per-status sums of the planned styles' progress (one SQL aggregate)."""
        return self._query(
            "SELECT status, COUNT(*), SUM(rooms_done), SUM(rooms_failed), SUM(images_done),"
            " SUM(images_failed) FROM styles WHERE in_plan = 1 GROUP BY status ORDER BY status"
        )

    def incomplete_styles(self) -> list[StyleProgress]:
        """Returns the progress of the planned styles whose document is not complete."""
        return self._query(
            "SELECT slug, status, rooms_done, rooms_failed, rooms_planned, images_done,"
            " images_failed, images_planned FROM styles"
            " WHERE in_plan = 1 AND status != 'complete' ORDER BY slug"
        )

    def planned_slugs(self) -> list[str]:
        """Returns the slugs of the planned styles that have a document."""
        rows = self._query("SELECT slug FROM styles WHERE in_plan = 1 ORDER BY slug")
        return [row[0] for row in rows]

    def cost_sums(self, by: str | None = None, *, run_ids: Iterable[str] | None = None) -> list[CostSum]:
        """Returns usage sums grouped by ``by`` and the price dimensions (one SQL aggregate)."""
        if by is not None and by not in GROUPS:
            raise ValueError(f"cannot group costs by {by!r}; use one of {', '.join(GROUPS)}")
        group = {None: "''", "style": "slug", "run": "run_id", "model": "model", "day": "day"}[by]
        dims = "day, kind, model, image_size, image_quality"
        sums = ", ".join(f"SUM({column})" for column in COST_FIELDS)
        where, params = "", []
        if run_ids is not None:
            chosen = sorted(set(run_ids))
            if not chosen:
                return []
            where = f" WHERE run_id IN ({', '.join('?' * len(chosen))})"
            params = chosen
        return self._query(
            f"SELECT {group}, {dims}, {sums} FROM cost_facts{where}"
            f" GROUP BY {group}, {dims} ORDER BY {group}, {dims}",
            params,
        )

    def commit(
        self,
        documents: Mapping[str, Document],
        *,
        expected: int,
        state: ViewState,
        facts: FactsUpdate | None = None,
    ) -> bool:
        """Writes documents, facts and state atomically if the checkpoint is still ``expected``."""
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                current = conn.execute("SELECT value FROM projection WHERE key = 'checkpoint'").fetchone()
                if int(current[0] if current else 0) != expected:
                    conn.execute("ROLLBACK")
                    return False
                _upsert(conn, "styles", documents)
                _write_facts(conn, "", facts)
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
            "SELECT name FROM sqlite_master WHERE type = 'table' AND ("
            + " OR ".join(f"name LIKE '{table}\\_rebuild\\_%' ESCAPE '\\'" for table in TABLES)
            + ")"
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
        self.costs_table = f"cost_facts{suffix}"
        self.runs_table = f"runs{suffix}"

    @property
    def path(self) -> Path:
        """Returns the database file the target lives in."""
        return self._views.path

    def partition_sink(self) -> SqlitePartitionSink:
        """Returns a handle that writes into these tables from another process."""
        return SqlitePartitionSink(self._views.path, self.suffix)

    def _conn(self) -> sqlite3.Connection:
        return self._views._conn()

    def load(self, slugs: Iterable[str]) -> dict[str, Document]:
        """Returns documents already written to the target."""
        return _select_docs(self._conn(), self.styles_table, sorted(set(slugs)))

    def write(self, documents: Mapping[str, Document], facts: FactsUpdate | None = None) -> None:
        """Writes documents and facts into the target in one transaction."""
        write_documents(self._conn(), self.suffix, documents, self._views.path, facts)

    def load_facts(self, slugs: Iterable[str]) -> dict[str, StyleFacts]:
        """Returns style facts already written to the target."""
        return _select_facts(self._conn(), self.suffix, sorted(set(slugs)))

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
                for table in TABLES:
                    conn.execute(f"DROP TABLE IF EXISTS {table}")
                    conn.execute(f"ALTER TABLE {table}{self.suffix} RENAME TO {table}")
                for statement in _indexes():
                    conn.execute(statement)
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
            for table in TABLES:
                conn.execute(f"DROP TABLE IF EXISTS {table}{self.suffix}")
        except sqlite3.Error as exc:
            raise StoreError(f"could not drop the rebuild tables: {exc}") from exc


def write_documents(
    conn: sqlite3.Connection,
    suffix: str,
    documents: Mapping[str, Document],
    path: Path,
    facts: FactsUpdate | None = None,
    *,
    replace_facts: bool = True,
) -> None:
    """Upserts documents into ``styles<suffix>`` and replaces facts, in one transaction.

    ``replace_facts=False`` skips deleting the styles' old fact rows: for a writer that
    writes each style exactly once into fresh tables (a parallel rebuild worker).
    """
    if not documents and not facts:
        return
    try:
        conn.execute("BEGIN IMMEDIATE")
        _upsert(conn, f"styles{suffix}", documents)
        _write_facts(conn, suffix, facts, replace=replace_facts)
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise translate_error(exc, path) from exc


@dataclass(frozen=True)
class SqlitePartitionSink:
    """Opens a writer on a rebuild's tables in any process (WAL lets the workers write in turn)."""

    path: Path
    suffix: str

    def open(self) -> SqlitePartitionWriter:
        """Opens a connection for one worker."""
        return SqlitePartitionWriter(self.path, self.suffix)


class SqlitePartitionWriter:
    """One worker's connection: its documents and facts go into the rebuild's own tables."""

    def __init__(self, path: Path, suffix: str) -> None:
        self.path = path
        self.suffix = suffix
        self._conn = sqlite3.connect(str(path), isolation_level=None, timeout=60)
        self._conn.execute("PRAGMA busy_timeout = 60000")
        # The rebuild's tables are invisible until swapped in, and a crash before the swap
        # abandons them: their writes need no fsync of their own.
        self._conn.execute("PRAGMA synchronous = NORMAL")

    def write(self, documents: Mapping[str, Document], facts: FactsUpdate) -> None:
        """Inserts documents and facts in one transaction (fresh tables: no old facts to replace)."""
        write_documents(self._conn, self.suffix, documents, self.path, facts, replace_facts=False)

    def close(self) -> None:
        """Closes the connection."""
        self._conn.close()
