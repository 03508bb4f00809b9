"""`genjournal verify` on generations: a later generation nobody asked for, or one that skips, is an error."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from genjournal.cli import cli
from genjournal.testing import samples
from journal.backends.sqlite import SqliteEventStore
from journal.events import StepRegenerationRequested, StepRegenerationRequestedData
from tests.journal.test_generations import of_generation

STREAM = "style:art-deco"


def invoke(*args: str) -> Result:
    """Runs the CLI in-process (offline)."""
    return CliRunner().invoke(cli, list(args), env={"OPENAI_API_KEY": None, "OPENAI_BASE_URL": None})


def completed(tmp_path: Path) -> Path:
    """Returns a data dir holding a finished offline run of the small plan."""
    plan = tmp_path / "plan.toml"
    plan.write_text(samples.PLAN_TOML, encoding="utf-8")
    data = tmp_path / "data"
    result = invoke("run", "--provider", "offline", "--plan", str(plan), "--data-dir", str(data))
    assert result.exit_code == 0, result.stderr
    return data


def request(generation: int, supersedes: str) -> StepRegenerationRequested:
    """Returns a request for a generation of art-deco's room:kitchen."""
    return StepRegenerationRequested(
        step="room:kitchen",
        data=StepRegenerationRequestedData(
            generation=generation, supersedes=supersedes, reason="test", request="regen-test"
        ),
    )


def append(data: Path, *events: object) -> None:
    """Appends events (one commit each) to art-deco's stream, as a buggy writer would."""
    store = SqliteEventStore(data / "journal.db", create=False)
    try:
        for event in events:
            store.append(STREAM, [event])  # type: ignore[list-item]
    finally:
        store.close()


def verify(data: Path) -> Result:
    """Rebuilds the projection (so only the journal is judged) and verifies."""
    assert invoke("rebuild", "--data-dir", str(data)).exit_code == 0
    return invoke("verify", "--data-dir", str(data))


def first_id(data: Path) -> str:
    """Returns the id of art-deco room:kitchen's generation-1 success."""
    store = SqliteEventStore(data / "journal.db", create=False)
    try:
        found = store.find_success(STREAM, "room:kitchen", 1)
        assert found is not None
        return found.id
    finally:
        store.close()


def test_a_requested_generation_2_verifies_clean(tmp_path: Path) -> None:
    """Generation 2 with its request is a healthy journal: verify exits 0."""
    data = completed(tmp_path)
    append(data, request(2, first_id(data)), of_generation(samples.room_generated("kitchen"), 2))
    result = verify(data)
    assert result.exit_code == 0, result.output


def test_a_generation_nobody_asked_for_is_reported(tmp_path: Path) -> None:
    """A generation-2 success without a request fails verify with generations-unrequested."""
    data = completed(tmp_path)
    append(data, of_generation(samples.room_generated("kitchen"), 2))
    result = verify(data)
    assert result.exit_code != 0
    assert "generations-unrequested" in result.output
    assert "room:kitchen: generation 2" in result.output


def test_a_skipped_generation_is_reported(tmp_path: Path) -> None:
    """Generations 1 then 3 (2 never recorded), even with 3 requested, fail verify: they are not 1, 2, 3…"""
    data = completed(tmp_path)
    append(data, request(3, first_id(data)), of_generation(samples.room_generated("kitchen"), 3))
    result = verify(data)
    assert result.exit_code != 0, result.output
    assert "generations-order" in result.output
