"""Golden journal: a committed JSONL journal (old-schema events and failures included) must
replay to its committed export, byte for byte, on every backend — and a run of its plan must
call the provider zero times.

If a change to the projection is intended, regenerate the expected file in the same commit:
``GENJOURNAL_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/projector/test_golden.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from click.testing import CliRunner

from genjournal.cli import cli
from genjournal.testing.fake_openai import FakeOpenAI
from journal.store import EventStore
from projector.export import export_bytes
from projector.projector import Projector
from projector.views import open_views
from tests.journal.backends import Backend, SqliteBackend

GOLDEN = Path(__file__).resolve().parent.parent / "fixtures" / "golden"


def load_golden(backend: Backend, store: EventStore) -> list[dict[str, object]]:
    """Writes the golden journal's envelopes into a store exactly as they are (ids, times, schemas)."""
    envelopes = [json.loads(line) for line in (GOLDEN / "journal.jsonl").read_text().splitlines() if line]
    for envelope in envelopes:
        backend.inject_raw(store, envelope)
    return envelopes


def test_golden_journal_holds_old_schema_events_and_failures() -> None:
    """The fixture really exercises upcasting and failure folding (guards against a trimmed fixture)."""
    envelopes = [json.loads(line) for line in (GOLDEN / "journal.jsonl").read_text().splitlines() if line]
    kinds = {(e["type"], e["schema_version"]) for e in envelopes}
    assert ("StyleCreated", 1) in kinds
    assert ("ImageGenerated", 1) in kinds
    assert {"StyleFailed", "RoomFailed", "ImageFailed"} <= {e["type"] for e in envelopes}


def test_golden_journal_replays_to_the_committed_export(backend: Backend, store: EventStore) -> None:
    """Folding the golden journal gives exactly the committed export bytes (old events upcast)."""
    load_golden(backend, store)
    views = open_views(store)
    try:
        projector = Projector(store, views)
        projector.catch_up()
        produced = export_bytes(projector.documents())
        expected_path = GOLDEN / "export.json"
        if os.environ.get("GENJOURNAL_UPDATE_GOLDEN") == "1":
            expected_path.write_bytes(produced)
        assert produced == expected_path.read_bytes()
        projector.rebuild()
        assert export_bytes(projector.documents()) == produced
    finally:
        views.close()


def test_run_on_the_golden_journal_calls_the_provider_zero_times(tmp_path: Path, monkeypatch: object) -> None:
    """Every planned step of the golden journal is done, so a run sends zero API requests and exits 0."""
    data = tmp_path / "data"
    backend = SqliteBackend(data)
    data.mkdir()
    store = backend.open()
    try:
        load_golden(backend, store)
    finally:
        store.close()
    with FakeOpenAI(seed=1) as server:
        env = {"OPENAI_API_KEY": "sk-test-golden-000000000000", "OPENAI_BASE_URL": server.base_url}
        result = CliRunner(env=env).invoke(
            cli,
            ["run", "--provider", "openai", "--plan", str(GOLDEN / "plan.toml"), "--data-dir", str(data)],
            catch_exceptions=False,
        )
        assert result.exit_code == 0, result.stderr
        assert server.ledger() == []
    assert "0 steps to run" in result.stderr
