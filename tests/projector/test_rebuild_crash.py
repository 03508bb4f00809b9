"""A rebuild killed at any moment leaves the old projection serving and no debris that matters."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from genjournal.testing import samples
from journal.backends.sqlite import SqliteEventStore
from journal.failpoints import FAILPOINT_EXIT_CODE
from projector.backends.sqlite import SqliteViewStore
from projector.export import export_bytes
from projector.projector import Projector

pytestmark = pytest.mark.slow


def _journal(data_dir: Path, styles: int) -> bytes:
    """Writes a journal of ``styles`` styles, catches the projection up, returns its export."""
    store = SqliteEventStore(data_dir / "journal.db")
    views = SqliteViewStore(store.path)
    try:
        store.append("run:r", [samples.run_started(samples.small_plan(styles=styles, rooms=3))])
        for i in range(styles):
            stream = f"style:style-{i}"
            store.append(stream, [samples.style_created(f"style-{i}")])
            for room in ("room-0", "room-1"):
                store.append(stream, [samples.room_generated(room)])
                store.append(stream, [samples.image_generated(0, room=room, payload=f"{i}{room}".encode())])
            store.append(stream, [samples.image_failed(1)])
        projector = Projector(store, views)
        projector.catch_up()
        return export_bytes(projector.documents())
    finally:
        views.close()
        store.close()


def _export(data_dir: Path) -> bytes:
    result = subprocess.run(
        [sys.executable, "-m", "genjournal", "export", "--data-dir", str(data_dir)],
        capture_output=True,
        check=True,
        timeout=60,
    )
    return result.stdout


def _rebuild(data_dir: Path, env: dict[str, str] | None = None, workers: int = 1) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "genjournal",
            "rebuild",
            "--data-dir",
            str(data_dir),
            "--workers",
            str(workers),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )


def _tables(data_dir: Path) -> set[str]:
    conn = sqlite3.connect(data_dir / "journal.db")
    try:
        return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        conn.close()


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("point", ["rebuild-before-swap", "rebuild-after-swap"])
def test_rebuild_dying_at_a_failpoint_keeps_a_consistent_projection(
    tmp_path: Path, point: str, workers: int
) -> None:
    """A rebuild process dying at a failpoint leaves export unchanged and the next rebuild clean."""
    before = _journal(tmp_path, styles=5)
    proc = _rebuild(tmp_path, {"GENJOURNAL_FAILPOINTS": f"{point}=exit"}, workers=workers)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == FAILPOINT_EXIT_CODE, err.decode()
    assert _export(tmp_path) == before
    done = _rebuild(tmp_path)
    _, err = done.communicate(timeout=60)
    assert done.returncode == 0, err.decode()
    assert not [t for t in _tables(tmp_path) if "_rebuild_" in t]
    assert _export(tmp_path) == before


@pytest.mark.parametrize("workers", [1, 2])
def test_rebuild_sigkilled_mid_fold_leaves_old_projection_serving(tmp_path: Path, workers: int) -> None:
    """SIGKILL in the middle of a rebuild (one process or with workers): old documents still serve."""
    before = _journal(tmp_path, styles=400)
    proc = _rebuild(tmp_path, workers=workers)
    # Let it get into the fold (its *_rebuild_<token> tables exist) before killing it.
    deadline = time.monotonic() + 30
    while (
        not [t for t in _tables(tmp_path) if "_rebuild_" in t]
        and time.monotonic() < deadline
        and proc.poll() is None
    ):
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    conn = sqlite3.connect(tmp_path / "journal.db")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
    assert _export(tmp_path) == before
    done = _rebuild(tmp_path)
    _, err = done.communicate(timeout=120)
    assert done.returncode == 0, err.decode()
    assert _export(tmp_path) == before


def test_catch_up_dying_before_its_checkpoint_is_redone_exactly_once(tmp_path: Path) -> None:
    """A catch-up killed between documents and checkpoint commits neither; the next one folds it once."""
    _journal(tmp_path, styles=3)
    store = SqliteEventStore(tmp_path / "journal.db")
    try:
        store.append("style:style-0", [samples.room_generated("room-2")])
    finally:
        store.close()
    died = subprocess.run(
        [sys.executable, "-m", "genjournal", "export", "--data-dir", str(tmp_path)],
        capture_output=True,
        timeout=60,
        env={**os.environ, "GENJOURNAL_FAILPOINTS": "projection-before-checkpoint=exit"},
    )
    assert died.returncode == FAILPOINT_EXIT_CODE
    after = _export(tmp_path)
    done = _rebuild(tmp_path)
    done.communicate(timeout=60)
    assert _export(tmp_path) == after
    assert b'"roomType": "room-2"' in after


def test_a_second_rebuild_while_one_runs_is_refused_naming_it(tmp_path: Path) -> None:
    """Only one rebuild at a time: another live rebuild's lease makes the CLI exit 2 naming it."""
    from journal.store import LeaseHolder

    before = _journal(tmp_path, styles=3)
    store = SqliteEventStore(tmp_path / "journal.db")
    holder = LeaseHolder.for_this_process("rebuild-other")
    store.acquire_lease(holder, name="rebuild")
    try:
        proc = _rebuild(tmp_path)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 2
        assert "rebuild-other" in err.decode()
    finally:
        store.release_lease(holder, name="rebuild")
        store.close()
    assert _export(tmp_path) == before
    done = _rebuild(tmp_path)
    done.communicate(timeout=60)
    assert done.returncode == 0
