"""SQLite-only promises: several processes, SIGKILL mid-append, foreign files untouched, error mapping."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from journal.backends.sqlite import SCHEMA_VERSION, SqliteEventStore, translate_error
from journal.errors import (
    ConfigError,
    IncompatibleStoreError,
    StoreError,
    StoreFullError,
    StoreUnavailableError,
)

CHILD = """
import sys
from journal.backends.sqlite import SqliteEventStore
from genjournal.testing import samples
store = SqliteEventStore(sys.argv[1])
tag, count = sys.argv[2], int(sys.argv[3])
for i in range(count):
    stored = store.append(f"style:{tag}", [samples.image_failed(i)])
    print(stored[0].id, flush=True)
"""


def _child(path: Path, tag: str, count: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), tag, str(count)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_several_processes_appending_get_unique_gap_free_positions(tmp_path: Path) -> None:
    """Four processes appending at once: every append lands, positions are 1..N with no gap or repeat."""
    path = tmp_path / "journal.db"
    SqliteEventStore(path).close()
    children = [_child(path, f"p{i}", 60) for i in range(4)]
    reported = []
    for child in children:
        out, _ = child.communicate(timeout=120)
        assert child.returncode == 0
        reported += out.split()
    store = SqliteEventStore(path, create=False)
    try:
        events = list(store.iter_all())
        assert [e.position for e in events] == list(range(1, 241))
        assert sorted(e.id for e in events) == sorted(reported)
        for i in range(4):
            assert [e.version for e in store.read_stream(f"style:p{i}")] == list(range(1, 61))
        assert store.position_gaps() == []
    finally:
        store.close()


@pytest.mark.slow
def test_sigkill_while_appending_keeps_every_returned_append(tmp_path: Path) -> None:
    """A child SIGKILLed mid-loop: the file opens, integrity_check is ok, every append it reported is there."""
    path = tmp_path / "journal.db"
    SqliteEventStore(path).close()
    child = _child(path, "victim", 100_000)
    assert child.stdout is not None
    reported = []
    deadline = time.monotonic() + 30
    while len(reported) < 300 and time.monotonic() < deadline:
        reported.append(child.stdout.readline().strip())
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
    store = SqliteEventStore(path, create=False)
    try:
        ids = {e.id for e in store.iter_all()}
        assert set(reported) <= ids
        assert store.position_gaps() == []
        # The journal stays writable after the crash.
        from genjournal.testing import samples

        store.append("style:victim", [samples.room_failed()])
    finally:
        store.close()


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda p: p.write_text("hello, I am a text file\n"), id="text-file"),
        pytest.param(lambda p: p.write_bytes(os.urandom(4096)), id="random-bytes"),
        pytest.param(lambda p: _other_app_db(p), id="other-apps-sqlite"),
        pytest.param(lambda p: _future_journal(p), id="newer-genjournal"),
    ],
)
def test_refused_files_are_left_byte_identical(tmp_path: Path, make: object) -> None:
    """A file that is not (or not yet) ours is refused with a clear error and not modified at all."""
    path = tmp_path / "journal.db"
    make(path)  # type: ignore[operator]
    before = _digest(path)
    siblings = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(IncompatibleStoreError) as caught:
        SqliteEventStore(path)
    assert "untouched" in str(caught.value) or "not a" in str(caught.value)
    assert _digest(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == siblings


def _other_app_db(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    conn.execute("INSERT INTO invoices (total) VALUES (9.5)")
    conn.commit()
    conn.close()


def _future_journal(path: Path) -> None:
    SqliteEventStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def test_missing_journal_is_refused_without_creating_anything(tmp_path: Path) -> None:
    """Opening a journal that does not exist with create=False raises and creates no file or folder."""
    target = tmp_path / "nowhere" / "journal.db"
    with pytest.raises(ConfigError, match="no journal"):
        SqliteEventStore(target, create=False)
    assert not target.parent.exists()


def test_events_cannot_be_updated_or_deleted_even_with_sql(tmp_path: Path) -> None:
    """Triggers refuse UPDATE and DELETE on the events table, whoever issues them."""
    from genjournal.testing import samples

    path = tmp_path / "journal.db"
    store = SqliteEventStore(path)
    store.append("style:a", [samples.style_created("a")])
    store.close()
    conn = sqlite3.connect(path)
    try:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("UPDATE events SET data = '{}'")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("DELETE FROM events")
    finally:
        conn.close()


def _sqlite_error(cls: type[sqlite3.Error], message: str, code: int) -> sqlite3.Error:
    exc = cls(message)
    exc.sqlite_errorcode = code  # type: ignore[attr-defined]
    return exc


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (_sqlite_error(sqlite3.OperationalError, "database or disk is full", 13), StoreFullError),
        (_sqlite_error(sqlite3.OperationalError, "database is locked", 5), StoreUnavailableError),
        (_sqlite_error(sqlite3.OperationalError, "database table is locked", 6), StoreUnavailableError),
        (_sqlite_error(sqlite3.DatabaseError, "file is not a database", 26), IncompatibleStoreError),
        (
            _sqlite_error(sqlite3.DatabaseError, "database disk image is malformed", 11),
            IncompatibleStoreError,
        ),
        (_sqlite_error(sqlite3.OperationalError, "unable to open database file", 14), StoreUnavailableError),
        (
            _sqlite_error(sqlite3.OperationalError, "attempt to write a readonly database", 8),
            StoreUnavailableError,
        ),
        (_sqlite_error(sqlite3.OperationalError, "disk I/O error", 10 | (1 << 8)), StoreUnavailableError),
        (_sqlite_error(sqlite3.OperationalError, "something new", 1), StoreError),
    ],
)
def test_sqlite_errors_map_to_the_journal_error_tree(exc: sqlite3.Error, expected: type[StoreError]) -> None:
    """Each sqlite3 failure becomes the journal error a caller can act on, naming the file."""
    translated = translate_error(exc, "/data/journal.db")
    assert type(translated) is expected
    assert "/data/journal.db" in str(translated)


def test_store_unavailable_is_also_a_connection_error() -> None:
    """StoreUnavailableError can be caught as the builtin ConnectionError too."""
    assert issubclass(StoreUnavailableError, ConnectionError)


def test_envelope_json_of_a_stored_event_is_what_history_prints(tmp_path: Path) -> None:
    """The envelope of an appended event is JSON with exactly the fields docs/design.md lists."""
    from genjournal.testing import samples

    store = SqliteEventStore(tmp_path / "journal.db")
    try:
        stored = store.append("style:a", [samples.style_created("a")])[0]
        envelope = json.loads(json.dumps(stored.to_envelope()))
        assert set(envelope) == {
            "id",
            "stream",
            "version",
            "position",
            "type",
            "schema_version",
            "recorded_at",
            "run_id",
            "step",
            "data",
            "meta",
        }
    finally:
        store.close()
