"""A damaged journal is refused with exit 2 and one line, never projected: truncated, altered rows.

The rows are damaged in the file's bytes, the way a bad disk or a stray editor would,
not through SQL (the append-only triggers would refuse that anyway).
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from genjournal.testing import samples
from journal.backends.sqlite import SqliteEventStore
from tests.chaos.conftest import genjournal, run_args

pytestmark = pytest.mark.slow


@pytest.fixture
def journal_dir(tmp_path: Path, plan: Path) -> Path:
    """Returns a data dir holding the tiny plan's complete journal, checkpointed into journal.db."""
    data = tmp_path / "data"
    assert genjournal(*run_args(plan, data, "--provider", "offline")).returncode == 0
    assert not (data / "journal.db-wal").exists() or (data / "journal.db-wal").stat().st_size == 0
    return data


def events_rows(data: Path) -> list[tuple[object, ...]]:
    """Returns the raw rows of the events table, decoding nothing (bytes stay bytes)."""
    conn = sqlite3.connect(data / "journal.db")
    conn.text_factory = bytes
    try:
        return conn.execute("SELECT * FROM events ORDER BY position").fetchall()
    finally:
        conn.close()


def first_position(data: Path, type_name: str) -> int:
    """Returns the position of the first event of a type."""
    conn = sqlite3.connect(data / "journal.db")
    try:
        return int(
            conn.execute("SELECT MIN(position) FROM events WHERE type = ?", (type_name,)).fetchone()[0]
        )
    finally:
        conn.close()


def damage_row(data: Path, position: int, replacement: bytes) -> int:
    """Overwrites one byte of the JSON payload of the event at ``position``; returns it."""
    conn = sqlite3.connect(data / "journal.db")
    try:
        payload = conn.execute("SELECT data FROM events WHERE position = ?", (position,)).fetchone()[0]
    finally:
        conn.close()
    path = data / "journal.db"
    raw = path.read_bytes()
    needle = payload[:48].encode()
    assert raw.count(needle) == 1, "the payload must be unique in the file"
    at = raw.index(needle) + 20
    path.write_bytes(raw[:at] + replacement + raw[at + 1 :])
    return position


def refused(result_stderr: str, code: int) -> str:
    """Checks a refusal: one error line, no traceback; returns that line."""
    assert code == 2, result_stderr
    assert "Traceback" not in result_stderr
    lines = [line for line in result_stderr.strip().splitlines() if "OPENAI_API_KEY" not in line]
    assert len(lines) == 1, result_stderr
    return lines[0]


@pytest.mark.parametrize("keep", [0.97, 0.5])
def test_truncated_journal_is_refused_by_run_export_and_verify(
    journal_dir: Path, plan: Path, keep: float
) -> None:
    """A journal file cut short is refused, exit 2, naming it damaged; nothing projected or written.

    SQLite itself refuses a file shorter than its header's page count before any row is
    read, so here the message names the file, not a position.
    """
    path = journal_dir / "journal.db"
    size = path.stat().st_size
    os.truncate(path, int(size * keep) // 4096 * 4096)
    cut = path.read_bytes()
    for args in (
        run_args(plan, journal_dir, "--provider", "offline"),
        ["export", "--data-dir", str(journal_dir)],
    ):
        result = genjournal(*args)
        line = refused(result.stderr, result.returncode)
        assert "damaged" in line
        assert str(path) in line
        assert result.stdout == ""
    assert path.read_bytes() == cut
    verify = genjournal("verify", "--data-dir", str(journal_dir))
    assert verify.returncode in (1, 2)
    assert "damaged" in verify.stdout + verify.stderr


@pytest.mark.parametrize(
    ("type_name", "byte", "why"),
    [("StyleCreated", b"X", "checksum"), ("RoomGenerated", b"\xff", "UTF-8")],
)
def test_damaged_row_makes_run_and_rebuild_refuse_naming_the_position(
    journal_dir: Path, plan: Path, type_name: str, byte: bytes, why: str
) -> None:
    """A payload byte altered (checksum) or made invalid UTF-8: run and rebuild exit 2 naming it.

    ``export`` only folds events after the projection's checkpoint, so it keeps serving the
    documents folded before the damage; anything that reads the row refuses it.
    """
    exported = genjournal("export", "--data-dir", str(journal_dir)).stdout
    position = damage_row(journal_dir, first_position(journal_dir, type_name), byte)
    before = events_rows(journal_dir)
    for args in (
        run_args(plan, journal_dir, "--provider", "offline"),
        ["rebuild", "--data-dir", str(journal_dir)],
    ):
        result = genjournal(*args)
        line = refused(result.stderr, result.returncode)
        assert f"position {position}" in line
        assert why in line
        assert "sqlite error" not in line
    assert events_rows(journal_dir) == before
    export = genjournal("export", "--data-dir", str(journal_dir))
    assert export.returncode == 0
    assert export.stdout == exported


def test_regression_invalid_utf8_in_a_row_names_its_position(journal_dir: Path) -> None:
    """A row not yet projected, damaged into invalid UTF-8, makes export refuse naming it."""
    store = SqliteEventStore(journal_dir / "journal.db", create=False)
    try:
        [stored] = store.append("style:art-deco", [samples.room_generated("pantry")])
    finally:
        store.close()
    position = damage_row(journal_dir, stored.position, b"\xff")
    result = genjournal("export", "--data-dir", str(journal_dir))
    line = refused(result.stderr, result.returncode)
    assert f"position {position}" in line
    assert "not valid UTF-8" in line
    assert "sqlite error" not in line
    assert result.stdout == ""


@pytest.mark.parametrize(("type_name", "byte"), [("StyleCreated", b"X"), ("RoomGenerated", b"\xff")])
def test_verify_lists_the_damaged_row(journal_dir: Path, type_name: str, byte: bytes) -> None:
    """``genjournal verify --json`` exits 1 with a finding that names the damaged row's position."""
    position = damage_row(journal_dir, first_position(journal_dir, type_name), byte)
    result = genjournal("verify", "--json", "--data-dir", str(journal_dir))
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is False
    named = [f for f in report["findings"] if any(f"position {position}" in ex for ex in f["examples"])]
    assert named, report["findings"]


def test_rebuild_refusing_a_damaged_journal_leaves_its_contents_as_it_found_them(
    journal_dir: Path,
) -> None:
    """`rebuild` on a row that fails its checksum exits 2 and leaves every table and row as they were.

    (The bytes of the file may differ: SQLite keeps the pages of the dropped rebuild tables
    on its free list. What the file holds is compared, table by table.)
    """
    damage_row(journal_dir, first_position(journal_dir, "StyleCreated"), b"X")
    before = table_dump(journal_dir)
    result = genjournal("rebuild", "--data-dir", str(journal_dir))
    refused(result.stderr, result.returncode)
    assert table_dump(journal_dir) == before


def table_dump(data: Path) -> dict[str, list[tuple[object, ...]]]:
    """Returns every table of the journal file with all its rows, read-only."""
    conn = sqlite3.connect(f"file:{data / 'journal.db'}?mode=ro", uri=True)
    try:
        names = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {
            name: sorted(conn.execute(f'SELECT * FROM "{name}"').fetchall(), key=repr)
            for name in sorted(names)
        }
    finally:
        conn.close()
