"""`genjournal verify` on every backend: clean passes, damage is found, nothing is written."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from genjournal.testing import samples
from journal.blobs import BlobStore
from projector.reports import VerifyReport
from tests.journal.backends import MongoBackend, SqliteBackend
from tests.projector.audit.conftest import Audited


def _verify(audited: Audited) -> tuple[int, VerifyReport]:
    result = audited.cli("verify", "--json")
    return result.exit_code, VerifyReport.model_validate_json(result.stdout)


def _checks(report: VerifyReport) -> dict[str, str]:
    return {finding.check: finding.severity for finding in report.findings}


def _caught_up(audited: Audited) -> None:
    """Folds everything into the projection (status catches it up)."""
    assert audited.cli("status").exit_code == 0


def _blob_of(audited: Audited, slug: str) -> Path:
    event = next(e for e in audited.store.read_stream(f"style:{slug}") if e.type == "ImageGenerated")
    return BlobStore(audited.data_dir).path_for(event.data.sha256)


def _tamper_document(audited: Audited, slug: str) -> None:
    """Edits a stored style document behind the projector's back."""
    backend = audited.backend
    if isinstance(backend, SqliteBackend):
        conn = sqlite3.connect(backend.path)
        with conn:
            conn.execute(
                "UPDATE styles SET doc = json_set(doc, '$.approach', 'tampered') WHERE slug = ?",
                (slug,),
            )
        conn.close()
    else:
        assert isinstance(backend, MongoBackend)
        with backend.raw_database() as db:
            db["styles"].update_one({"_id": slug}, {"$set": {"approach": "tampered"}})


def test_a_clean_journal_verifies_with_exit_0(journal_a: Audited) -> None:
    """A journal whose blobs, rows and projection are intact exits 0 with no error finding."""
    _caught_up(journal_a)
    code, report = _verify(journal_a)
    assert code == 0
    assert report.ok
    assert report.images_checked == 3
    assert report.blobs == 3
    assert report.documents_checked == 3
    assert all(f.severity == "info" for f in report.findings)
    assert "verify: OK" in journal_a.cli("verify").stdout


def test_verify_finds_a_tampered_blob_and_a_deleted_one(journal_a: Audited) -> None:
    """A blob whose bytes changed and a blob that is gone are both errors naming the hash."""
    _caught_up(journal_a)
    blobs = sorted(BlobStore(journal_a.data_dir).iter_blobs())
    tampered, deleted = (BlobStore(journal_a.data_dir).path_for(sha) for sha in blobs[:2])
    tampered.write_bytes(tampered.read_bytes() + b"!")
    deleted.unlink()
    code, report = _verify(journal_a)
    assert code == 1
    assert not report.ok
    found = {f.check: f for f in report.findings}
    assert found["blob-mismatch"].count == 1
    assert blobs[0] in found["blob-mismatch"].examples[0]
    assert found["blob-missing"].count == 1
    assert blobs[1] in found["blob-missing"].examples[0]
    assert any("backup" in step for step in report.repair)


def test_verify_counts_orphan_blobs_and_temp_files_as_info(journal_a: Audited) -> None:
    """A file no event names and a leftover temp file are reported (info) without failing verify."""
    _caught_up(journal_a)
    orphan = BlobStore(journal_a.data_dir).put(b"an image no event names")
    (BlobStore(journal_a.data_dir).path_for(orphan.sha256).parent / ".tmp-abc-1-x").write_bytes(b"half")
    code, report = _verify(journal_a)
    assert code == 0
    assert report.ok
    found = {f.check: f for f in report.findings}
    assert found["blob-orphan"].severity == "info"
    assert found["blob-orphan"].examples == [orphan.sha256]
    assert found["blob-temp"].count == 1


def test_verify_finds_a_projection_document_that_differs_from_a_fresh_fold(
    journal_a: Audited,
) -> None:
    """A style document edited behind the projector's back is an error; the repair is rebuild."""
    _caught_up(journal_a)
    _tamper_document(journal_a, "style-1")
    code, report = _verify(journal_a)
    assert code == 1
    found = {f.check: f for f in report.findings}
    assert found["projection-document"].examples == ["style-1"]
    assert any("genjournal rebuild" in step for step in report.repair)
    assert journal_a.cli("rebuild").exit_code == 0
    assert _verify(journal_a)[0] == 0


def test_verify_finds_a_stale_projection_and_does_not_catch_it_up(journal_a: Audited) -> None:
    """Events the projection has not folded are a finding; verify leaves the checkpoint alone."""
    _caught_up(journal_a)
    from projector.views import open_views

    views = open_views(journal_a.store)
    before = views.load_state().checkpoint
    journal_a.store.append("style:style-2", [samples.room_generated("room-1", run_id="run-b")])
    code, report = _verify(journal_a)
    assert code == 1
    assert "projection-behind" in _checks(report)
    assert views.load_state().checkpoint == before
    views.close()


def test_verify_names_a_corrupt_row_and_reads_on_past_it(journal_a: Audited) -> None:
    """An event that does not decode is named by position; the events after it are still read."""
    _caught_up(journal_a)
    version = journal_a.store.stream_version("style:style-1") + 1
    journal_a.backend.inject_raw(
        journal_a.store,
        {
            "stream": "style:style-1",
            "version": version,
            "type": "RoomGenerated",
            "schema_version": 1,
            "run_id": "run-a",
            "step": "room:room-1",
            "data": {"room_type": "room-1"},
        },
    )
    bad = journal_a.store.last_position()
    journal_a.store.append("style:style-2", [samples.room_generated("room-1", run_id="run-b")])
    total = journal_a.store.last_position()
    code, report = _verify(journal_a)
    assert code == 1
    found = {f.check: f for f in report.findings}
    assert found["events-decode"].count == 1
    assert f"position {bad}" in found["events-decode"].examples[0]
    assert report.events == total - 1
    assert any("backup" in step for step in report.repair)


def test_verify_reports_a_damaged_sqlite_row_by_its_checksum(tmp_path: Path) -> None:
    """A SQLite row altered on disk fails its checksum: verify names the position and exits 1."""
    from click.testing import CliRunner

    from genjournal.cli import cli
    from journal.backends.sqlite import SqliteEventStore

    store = SqliteEventStore(tmp_path / "journal.db")
    store.append("run:r", [samples.run_started()])
    store.append("style:style-0", [samples.style_created("style-0")])
    store.append("style:style-0", [samples.room_generated("room-0")])
    store.close()
    conn = sqlite3.connect(tmp_path / "journal.db")
    with conn:
        conn.execute("DROP TRIGGER events_no_update")
        conn.execute("UPDATE events SET data = replace(data, 'quiet', 'QUIET') WHERE position = 3")
    conn.close()
    result = CliRunner().invoke(cli, ["verify", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "position 3" in result.stdout
    assert "checksum" in result.stdout


def test_verify_finds_a_removed_sqlite_row_as_position_and_version_gaps(tmp_path: Path) -> None:
    """A row deleted behind the triggers leaves position and stream-version gaps: both errors."""
    from click.testing import CliRunner

    from genjournal.cli import cli
    from journal.backends.sqlite import SqliteEventStore

    store = SqliteEventStore(tmp_path / "journal.db")
    store.append("run:r", [samples.run_started()])
    for room in ("room-0", "room-1"):
        store.append("style:style-0", [samples.room_generated(room)])
    store.append("style:style-0", [samples.image_failed(0)])
    store.close()
    conn = sqlite3.connect(tmp_path / "journal.db")
    with conn:
        conn.execute("DROP TRIGGER events_no_delete")
        conn.execute("DELETE FROM events WHERE position = 3")
    conn.close()
    result = CliRunner().invoke(cli, ["verify", "--json", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    report = VerifyReport.model_validate_json(result.stdout)
    found = {f.check: f for f in report.findings}
    assert found["positions"].severity == "error"
    assert found["positions"].examples == ["3"]
    assert "style:style-0" in found["stream-versions"].examples[0]


def test_mongodb_tombstones_are_reported_as_info(tmp_path: Path) -> None:
    """A refused append's tombstoned positions are explained gaps in MongoDB: info, not an error."""
    import pytest

    from journal import failpoints
    from journal.failpoints import FailpointError
    from tests.journal.backends import make_backend

    backend = make_backend("mongomock", tmp_path)
    store = backend.open()
    try:
        data_dir = tmp_path / "data"
        data_dir.mkdir()
        audited = Audited(backend, store, data_dir)
        store.append("run:r", [samples.run_started()])
        failpoints.configure("append-before-commit=raise")
        try:
            with pytest.raises(FailpointError):
                store.append("run:r", [samples.run_finished()])  # its block is tombstoned
        finally:
            failpoints.configure(None)
        store.append("run:r", [samples.run_finished()])
        _caught_up(audited)
        code, report = _verify(audited)
        assert code == 0
        assert _checks(report)["positions"] == "info"
    finally:
        store.close()
        backend.cleanup()
