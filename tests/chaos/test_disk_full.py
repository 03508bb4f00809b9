"""A full disk stops a run with one clear line and corrupts nothing; the next run then completes.

Three ways in: a *real* small filesystem (a 2 MiB tmpfs, where the machine lets us mount
one: root on Linux), the ``enospc`` failpoints (the very ``OSError(ENOSPC)`` a full disk
gives ``write(2)``, at exact points), and a *real* ``SQLITE_FULL`` from SQLite itself, by
capping the database with ``PRAGMA max_page_count``.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from genjournal.cli import cli
from genjournal.testing import samples
from genjournal.testing.fake_openai import FakeOpenAI
from journal.backends.sqlite import SqliteEventStore
from journal.errors import StoreFullError
from journal.store import AppendBatch
from tests.chaos import checks
from tests.chaos.conftest import genjournal, run_args
from tests.chaos.snapshot import sqlite_snapshot

pytestmark = pytest.mark.slow


def assert_intact_and_completable(data: Path, plan: Path, fake: FakeOpenAI, tmp_path: Path) -> None:
    """Checks the journal is sound after the stop, then that a second run completes the plan."""
    before = sqlite_snapshot(data, tmp_path / "snap-before")
    assert before.errors == []
    assert before.integrity == ["ok"]
    assert checks.check_journal(before.events, gap_free_positions=True) == []
    assert checks.check_blobs(before.events, data) == []
    done = genjournal(*run_args(plan, data, "--provider", "openai"), server=fake)
    assert done.returncode == 0, done.stderr
    after = sqlite_snapshot(data, tmp_path / "snap-after")
    assert checks.check_prefix(before.rows, after.rows) == []
    assert checks.check_journal(after.events, gap_free_positions=True) == []
    assert checks.check_blobs(after.events, data) == []
    assert checks.check_no_temp_files(data) == []
    assert len(checks.successes(after.events)) == 4  # the tiny plan's four steps, once each
    assert after.live_export == after.rebuilt_export


def last_line(stderr: str) -> str:
    """Returns the last non-empty line of a process's stderr."""
    return stderr.strip().splitlines()[-1]


@pytest.mark.parametrize("spec", ["blob-write=enospc@1", "blob-write=enospc"])
def test_disk_full_on_a_blob_write_stops_with_one_line_and_the_next_run_completes(
    tmp_path: Path, plan: Path, fake: FakeOpenAI, spec: str
) -> None:
    """ENOSPC writing an image (once, or every time): exit 1, RunFinished(aborted) says why."""
    data = tmp_path / "data"
    result = genjournal(*run_args(plan, data, "--provider", "openai"), server=fake, failpoint_spec=spec)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "aborted" in last_line(result.stderr)
    assert "is full" in last_line(result.stderr)
    events = sqlite_snapshot(data, tmp_path / "snap").events
    finished = [e for e in events if e["type"] == "RunFinished"]
    assert finished[-1]["data"]["outcome"] == "aborted"
    assert "full" in finished[-1]["data"]["message"]
    assert not [e for e in events if e["type"] == "ImageGenerated"]
    assert checks.check_no_temp_files(data) == []
    assert_intact_and_completable(data, plan, fake, tmp_path)


@pytest.mark.parametrize(("nth", "code"), [(1, 2), (3, 1)])
def test_disk_full_on_a_journal_append_stops_with_one_line_and_the_next_run_completes(
    tmp_path: Path, plan: Path, fake: FakeOpenAI, nth: int, code: int
) -> None:
    """ENOSPC in the append transaction: at RunStarted one error line, exit 2; mid-run, exit 1."""
    data = tmp_path / "data"
    result = genjournal(
        *run_args(plan, data, "--provider", "openai"),
        server=fake,
        failpoint_spec=f"append-before-commit=enospc@{nth}",
    )
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    assert "is full; this write was refused" in last_line(result.stderr)
    if nth == 1:
        assert last_line(result.stderr).startswith("genjournal: error:")
        assert sqlite_snapshot(data, tmp_path / "snap").events == []
    assert_intact_and_completable(data, plan, fake, tmp_path)


def fill(store: SqliteEventStore) -> None:
    """Group-commits pairs of styles (one savepoint each) until the store refuses a group."""
    for i in range(0, 1000, 2):
        store.append_many([AppendBatch(f"style:s{j}", [samples.style_created(f"s{j}")]) for j in (i, i + 1)])


def test_regression_sqlite_full_in_a_group_commit_reports_disk_full(tmp_path: Path) -> None:
    """A real SQLITE_FULL in append_many is a StoreFullError (not a lost savepoint)."""
    store = SqliteEventStore(tmp_path / "journal.db")
    try:
        store.append("run:r", [samples.run_started(samples.small_plan())])
        conn = store.connection()
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")
        with pytest.raises(StoreFullError, match="is full; this write was refused"):
            fill(store)
        written = store.last_position()
        assert store.integrity_check() == ["ok"]
        assert store.position_gaps() == []
        conn.execute("PRAGMA max_page_count = 1000000")
        store.append("style:later", [samples.style_created("later")])
        assert store.last_position() == written + 1
    finally:
        store.close()


def test_a_real_sqlite_full_journal_stops_the_run_cleanly_and_the_next_run_completes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A journal capped by max_page_count stops a run on SQLITE_FULL; uncapped, it completes."""
    data = tmp_path / "data"
    connect = SqliteEventStore._connect

    def capped(self: SqliteEventStore) -> sqlite3.Connection:
        conn = connect(self)
        conn.execute("PRAGMA max_page_count = 40")
        return conn

    monkeypatch.setattr(SqliteEventStore, "_connect", capped)
    args = ["run", "--data-dir", str(data), "--limit", "2", "--provider", "offline"]
    full = CliRunner().invoke(cli, args, env={"GENJOURNAL_FAILPOINTS": None})
    assert full.exit_code in (1, 2), full.stderr
    assert full.exception is None or isinstance(full.exception, SystemExit)
    assert "Traceback" not in full.stderr
    assert "is full" in last_line(full.stderr)
    monkeypatch.setattr(SqliteEventStore, "_connect", connect)
    snap = sqlite_snapshot(data, tmp_path / "snap")
    assert snap.errors == []
    assert snap.integrity == ["ok"]
    assert checks.check_journal(snap.events, gap_free_positions=True) == []
    done = CliRunner().invoke(cli, args, env={"GENJOURNAL_FAILPOINTS": None})
    assert done.exit_code == 0, done.stderr
    after = sqlite_snapshot(data, tmp_path / "snap-after")
    assert checks.check_prefix(snap.rows, after.rows) == []
    assert len(checks.successes(after.events)) == 2 * (1 + 3 + 24 * 4)  # two styles of the default catalogue


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """Mounts a real 2 MiB tmpfs and yields it; skips, saying why, where mounting is refused."""
    mount_point = tmp_path / "small-fs"
    mount_point.mkdir()
    if sys.platform != "linux" or os.geteuid() != 0:
        pytest.skip("a real small filesystem needs `mount -t tmpfs`, which needs root on Linux")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2M", "tmpfs", str(mount_point)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"mounting a 2 MiB tmpfs was refused: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_a_really_full_filesystem_stops_the_run_with_exit_1_keeps_the_steps_and_resumes(
    small_fs: Path,
) -> None:
    """On a full 2 MiB tmpfs: exit 1, one line saying the journaled steps are kept; with room, it completes."""
    data = small_fs / "data"
    two = ["--subcategory", "art-deco", "--subcategory", "japandi"]
    args = ["run", "--data-dir", str(data), *two, "--provider", "offline"]
    full = genjournal(*args)
    assert full.returncode == 1, full.stderr
    assert "Traceback" not in full.stderr
    line = last_line(full.stderr)
    assert "is full" in line
    assert "nothing was written" not in line
    assert "kept" in line
    # More room, as a user who frees space would have: the same data dir resumes in place.
    subprocess.run(["mount", "-o", "remount,size=64M", str(small_fs)], check=True)
    status = genjournal("status", "--data-dir", str(data))
    assert status.returncode == 0, status.stderr
    kept = sqlite_snapshot(data, small_fs / "snap-before")
    assert kept.integrity == ["ok"]
    assert checks.check_journal(kept.events, gap_free_positions=True) == []
    assert checks.check_blobs(kept.events, data) == []
    assert len(checks.successes(kept.events)) > 0
    done = genjournal(*args)
    assert done.returncode == 0, done.stderr
    after = sqlite_snapshot(data, small_fs / "snap-after")
    assert checks.check_prefix(kept.rows, after.rows) == []
    assert len(checks.successes(after.events)) == 2 * (1 + 3 + 24 * 4)


def test_a_full_disk_while_catching_up_the_projection_still_records_run_finished(
    tmp_path: Path, plan: Path
) -> None:
    """ENOSPC in the final projection catch-up: the run's RunFinished is journaled and said to be."""
    data = tmp_path / "data"
    done = genjournal(
        *run_args(plan, data, "--provider", "offline"), failpoint_spec="projection-before-checkpoint=enospc"
    )
    assert "Traceback" not in done.stderr
    assert "RunFinished not recorded" not in done.stderr
    assert done.returncode == 0, done.stderr
    assert "genjournal rebuild" in done.stderr
    events = sqlite_snapshot(data, tmp_path / "snap").events
    finished = [e for e in events if e["type"] == "RunFinished"]
    assert [e["data"]["outcome"] for e in finished] == ["completed"]
    assert len(checks.successes(events)) == 4
