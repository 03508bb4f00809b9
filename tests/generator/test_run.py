"""`genjournal run` end to end on the offline provider: validation, resume, selection, lease."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from genjournal.cli import cli
from genjournal.testing import samples
from journal.backends.sqlite import SqliteEventStore
from journal.events import CURRENT_SCHEMA
from journal.store import LeaseHolder
from projector.backends.sqlite import SqliteViewStore
from projector.projector import Projector

PLAN = samples.PLAN_TOML

STEPS_PER_STYLE = 1 + 1 + 2 * (1 + 1)  # content, style image, 2 rooms with one image each


def write_plan(tmp_path: Path, text: str = PLAN, name: str = "plan.toml") -> Path:
    """Writes a plan file and returns its path."""
    path = tmp_path / name
    path.write_text(text)
    return path


def invoke(*args: str) -> Result:
    """Runs the CLI in-process and returns the result (stderr kept apart)."""
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def journal_events(data_dir: Path) -> list[dict[str, object]]:
    """Returns every envelope of the journal in a data dir."""
    store = SqliteEventStore(data_dir / "journal.db", create=False)
    try:
        return [e.to_envelope() for e in store.iter_all()]
    finally:
        store.close()


def documents(data_dir: Path) -> dict[str, dict[str, object]]:
    """Returns the projected style documents by slug (catching the projection up first)."""
    store = SqliteEventStore(data_dir / "journal.db", create=False)
    views = SqliteViewStore(store.path)
    try:
        projector = Projector(store, views)
        projector.catch_up()
        return {doc["slug"]: doc for doc in projector.documents()}
    finally:
        views.close()
        store.close()


def successes(events: list[dict[str, object]]) -> list[tuple[object, object]]:
    """Returns the (stream, step) of every success event, in journal order."""
    return [
        (e["stream"], e["step"])
        for e in events
        if e["type"] in ("StyleCreated", "RoomGenerated", "ImageGenerated")
    ]


def test_offline_run_completes_a_small_plan_and_records_the_run(tmp_path: Path) -> None:
    """A run on a fresh data dir journals every planned step, brackets them with run events and exits 0."""
    data = tmp_path / "data"
    result = invoke("run", "--plan", str(write_plan(tmp_path)), "--data-dir", str(data))
    assert result.exit_code == 0, result.stderr
    events = journal_events(data)
    assert events[0]["type"] == "RunStarted"
    assert events[-1]["type"] == "RunFinished"
    assert events[-1]["data"]["outcome"] == "completed"  # type: ignore[index]
    assert len(successes(events)) == 3 * STEPS_PER_STYLE
    assert len(set(successes(events))) == 3 * STEPS_PER_STYLE
    docs = documents(data)
    assert {slug: doc["status"] for slug, doc in docs.items()} == dict.fromkeys(
        ("art-deco", "japandi", "wabi-sabi"), "complete"
    )
    for event in events:
        if event["type"] == "ImageGenerated":
            blob = data / event["data"]["path"]  # type: ignore[index]
            assert blob.read_bytes().startswith(b"\x89PNG")
    assert "using the offline provider" in result.stderr


def test_second_run_on_a_complete_journal_runs_no_step(tmp_path: Path) -> None:
    """Re-running a completed plan appends no success event and exits 0."""
    data = tmp_path / "data"
    plan = str(write_plan(tmp_path))
    assert invoke("run", "--plan", plan, "--data-dir", str(data)).exit_code == 0
    before = successes(journal_events(data))
    again = invoke("run", "--plan", plan, "--data-dir", str(data))
    assert again.exit_code == 0
    assert successes(journal_events(data)) == before
    assert "0 steps to run" in again.stderr


def test_limit_takes_the_first_styles_with_pending_work(tmp_path: Path) -> None:
    """--limit N runs the first N styles that still have work, in plan order."""
    data = tmp_path / "data"
    plan = str(write_plan(tmp_path))
    assert invoke("run", "--plan", plan, "--data-dir", str(data), "--limit", "1").exit_code == 0
    assert {s for s, _ in successes(journal_events(data))} == {"style:art-deco"}
    assert invoke("run", "--plan", plan, "--data-dir", str(data), "--limit", "1").exit_code == 0
    assert {s for s, _ in successes(journal_events(data))} == {"style:art-deco", "style:japandi"}


def test_subcategory_selects_only_those_styles(tmp_path: Path) -> None:
    """--subcategory (repeatable) restricts the run to the named styles."""
    data = tmp_path / "data"
    result = invoke(
        "run",
        "--plan",
        str(write_plan(tmp_path)),
        "--data-dir",
        str(data),
        "--subcategory",
        "wabi-sabi",
        "--subcategory",
        "japandi",
    )
    assert result.exit_code == 0
    assert {s for s, _ in successes(journal_events(data))} == {"style:wabi-sabi", "style:japandi"}


def test_plan_that_gained_a_room_runs_only_the_new_steps(tmp_path: Path) -> None:
    """Adding a room type to the plan runs just that room and its images for every style."""
    data = tmp_path / "data"
    assert invoke("run", "--plan", str(write_plan(tmp_path)), "--data-dir", str(data)).exit_code == 0
    before = successes(journal_events(data))
    bigger = PLAN + '\n[[room_types]]\nslug = "sunroom"\nname = "Sunroom"\n'
    result = invoke(
        "run", "--plan", str(write_plan(tmp_path, bigger, "bigger.toml")), "--data-dir", str(data)
    )
    assert result.exit_code == 0
    new = successes(journal_events(data))[len(before) :]
    assert sorted(step for _, step in new) == sorted(["room:sunroom", "image:room:sunroom:0"] * 3)
    assert all(doc["status"] == "complete" for doc in documents(data).values())


def test_plan_that_lost_a_room_keeps_its_history_and_runs_nothing(tmp_path: Path) -> None:
    """Removing a room type runs nothing new; its events stay and completeness follows the new plan."""
    data = tmp_path / "data"
    assert invoke("run", "--plan", str(write_plan(tmp_path)), "--data-dir", str(data)).exit_code == 0
    before = journal_events(data)
    smaller = PLAN.replace('[[room_types]]\nslug = "bedroom"\nname = "Bedroom"\n', "")
    assert (
        invoke(
            "run", "--plan", str(write_plan(tmp_path, smaller, "smaller.toml")), "--data-dir", str(data)
        ).exit_code
        == 0
    )
    after = journal_events(data)
    assert after[: len(before)] == before
    assert successes(after) == successes(before)
    doc = documents(data)["art-deco"]
    assert doc["progress"]["roomsPlanned"] == 1  # type: ignore[index]
    assert [room["roomType"] for room in doc["roomProfiles"]] == ["kitchen", "bedroom"]  # type: ignore[union-attr]
    assert doc["status"] == "complete"


@pytest.mark.parametrize(
    ("plan_text", "expected"),
    [
        ("languages = [\n", "plan"),
        (PLAN.replace('slug = "japandi"', 'slug = "../../etc"'), "slug"),
        (PLAN.replace('slug = "japandi"', 'slug = "art-deco"'), "duplicate"),
        (PLAN.replace("images_per_room = 1", "images_per_room = -1"), "images_per_room"),
    ],
)
def test_bad_plan_is_one_line_exit_2_and_creates_nothing(
    tmp_path: Path, plan_text: str, expected: str
) -> None:
    """A malformed plan fails with one line naming the problem, exit 2, and the data dir is not created."""
    data = tmp_path / "data"
    result = invoke("run", "--plan", str(write_plan(tmp_path, plan_text)), "--data-dir", str(data))
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]
    assert "Traceback" not in result.stderr
    assert not data.exists()


def test_unknown_subcategory_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    """--subcategory naming a slug the plan lacks exits 2 without creating the data dir."""
    data = tmp_path / "data"
    result = invoke(
        "run", "--plan", str(write_plan(tmp_path)), "--data-dir", str(data), "--subcategory", "baroque"
    )
    assert result.exit_code == 2
    assert "baroque" in result.stderr
    assert not data.exists()


def test_unknown_db_scheme_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    """An unknown --db scheme exits 2 with one line and writes nothing."""
    data = tmp_path / "data"
    result = invoke(
        "run", "--plan", str(write_plan(tmp_path)), "--data-dir", str(data), "--db", "postgres://u:pw@h/db"
    )
    assert result.exit_code == 2
    assert "scheme" in result.stderr
    assert "pw" not in result.stderr
    assert not data.exists()


def test_openai_provider_without_a_key_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--provider openai without OPENAI_API_KEY exits 2 before touching the data dir."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    data = tmp_path / "data"
    result = invoke(
        "run", "--plan", str(write_plan(tmp_path)), "--data-dir", str(data), "--provider", "openai"
    )
    assert result.exit_code == 2
    assert "OPENAI_API_KEY" in result.stderr
    assert not data.exists()


def test_a_live_lease_holder_makes_a_second_run_exit_2_naming_it(tmp_path: Path) -> None:
    """While another live run holds the journal, a second run exits 2 naming the holder and writes nothing."""
    data = tmp_path / "data"
    plan = str(write_plan(tmp_path))
    assert invoke("run", "--plan", plan, "--data-dir", str(data), "--limit", "1").exit_code == 0
    store = SqliteEventStore(data / "journal.db")
    holder = LeaseHolder.for_this_process("run-other")
    store.acquire_lease(holder)
    try:
        before = journal_events(data)
        result = invoke("run", "--plan", plan, "--data-dir", str(data))
        assert result.exit_code == 2
        assert "run-other" in result.stderr
        assert journal_events(data) == before
    finally:
        store.release_lease(holder)
        store.close()


def test_future_schema_event_makes_run_refuse_with_exit_2(tmp_path: Path) -> None:
    """A journal holding an event from a newer genjournal is refused by run, naming the position."""
    data = tmp_path / "data"
    plan = str(write_plan(tmp_path))
    assert invoke("run", "--plan", plan, "--data-dir", str(data), "--limit", "1").exit_code == 0
    import sqlite3

    conn = sqlite3.connect(data / "journal.db", isolation_level=None)
    position = conn.execute(
        "INSERT INTO events (id, stream, version, type, schema_version, recorded_at, run_id, step, success, data, meta)"
        " VALUES ('x1', 'style:zz', 1, 'StyleCreated', ?, '2026-01-01T00:00:00.000000Z', 'r', 'content', 0, '{}', '{}')",
        (CURRENT_SCHEMA["StyleCreated"] + 1,),
    ).lastrowid
    conn.close()
    before = journal_events_raw(data)
    result = invoke("run", "--plan", plan, "--data-dir", str(data))
    assert result.exit_code == 2
    assert f"position {position}" in result.stderr
    assert journal_events_raw(data) == before


def test_tampered_row_makes_run_refuse_with_exit_2_naming_the_position(tmp_path: Path) -> None:
    """A journal row altered behind genjournal's back fails its checksum: run exits 2 naming it."""
    data = tmp_path / "data"
    plan = str(write_plan(tmp_path))
    assert invoke("run", "--plan", plan, "--data-dir", str(data), "--limit", "1").exit_code == 0
    import sqlite3

    conn = sqlite3.connect(data / "journal.db", isolation_level=None)
    conn.execute("DROP TRIGGER events_no_update")  # what a hand edit would have to do first
    conn.execute("UPDATE events SET data = replace(data, 'Art Deco', 'Art Nouveau') WHERE position = 2")
    conn.close()
    result = invoke("run", "--plan", plan, "--data-dir", str(data))
    assert result.exit_code == 2
    assert "position 2" in result.stderr
    assert "checksum" in result.stderr


def journal_events_raw(data_dir: Path) -> list[tuple[object, ...]]:
    """Returns the raw rows of the journal (readable even when events are not decodable)."""
    import sqlite3

    conn = sqlite3.connect(data_dir / "journal.db")
    try:
        return conn.execute("SELECT * FROM events ORDER BY position").fetchall()
    finally:
        conn.close()


def test_export_prints_the_documents_as_one_sorted_json_array(tmp_path: Path) -> None:
    """export prints exactly one JSON array of the style documents sorted by slug."""
    data = tmp_path / "data"
    assert invoke("run", "--plan", str(write_plan(tmp_path)), "--data-dir", str(data)).exit_code == 0
    result = invoke("export", "--data-dir", str(data))
    assert result.exit_code == 0
    docs = json.loads(result.stdout)
    assert [doc["slug"] for doc in docs] == ["art-deco", "japandi", "wabi-sabi"]
    out = tmp_path / "out.json"
    assert invoke("export", "--data-dir", str(data), "--out", str(out)).exit_code == 0
    assert out.read_text() == result.stdout


def test_global_options_are_accepted_before_the_subcommand(tmp_path: Path) -> None:
    """--data-dir placed before the subcommand works like after it."""
    data = tmp_path / "data"
    assert (
        invoke("--data-dir", str(data), "run", "--plan", str(write_plan(tmp_path)), "--limit", "1").exit_code
        == 0
    )
    assert (data / "journal.db").exists()


def test_read_commands_refuse_a_missing_journal_without_creating_it(tmp_path: Path) -> None:
    """export on a data dir with no journal exits 2 and creates nothing."""
    data = tmp_path / "nothing-here"
    result = invoke("export", "--data-dir", str(data))
    assert result.exit_code == 2
    assert "no journal" in result.stderr
    assert not data.exists()


def test_regression_altered_step_column_is_caught_by_the_checksum(tmp_path: Path) -> None:
    """Changing a row's step (what replay counts as done) fails its checksum: run exits 2 naming it."""
    data = tmp_path / "data"
    plan = str(write_plan(tmp_path))
    assert invoke("run", "--plan", plan, "--data-dir", str(data), "--limit", "1").exit_code == 0
    import sqlite3

    conn = sqlite3.connect(data / "journal.db", isolation_level=None)
    conn.execute("DROP TRIGGER events_no_update")
    position = conn.execute("SELECT position FROM events WHERE step = 'room:kitchen'").fetchone()[0]
    conn.execute("UPDATE events SET step = 'room:attic' WHERE position = ?", (position,))
    conn.close()
    result = invoke("run", "--plan", plan, "--data-dir", str(data))
    assert result.exit_code == 2
    assert f"position {position}" in result.stderr


def test_empty_journal_beside_existing_images_is_refused(tmp_path: Path) -> None:
    """A data dir whose images outlived its journal (wiped, truncated) is not silently paid for again."""
    data = tmp_path / "data"
    plan = str(write_plan(tmp_path))
    assert invoke("run", "--plan", plan, "--data-dir", str(data), "--limit", "1").exit_code == 0
    (data / "journal.db").write_bytes(b"")
    for extra in ("journal.db-wal", "journal.db-shm"):
        (data / extra).unlink(missing_ok=True)
    result = invoke("run", "--plan", plan, "--data-dir", str(data))
    assert result.exit_code == 2
    assert "images" in result.stderr
    assert (data / "journal.db").read_bytes() == b""
