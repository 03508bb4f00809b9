"""`genjournal regenerate` end to end on the offline provider: one round of curation, dry run, bad input."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from genjournal.cli import cli
from genjournal.testing import samples
from journal.backends.sqlite import SqliteEventStore
from tests.journal.test_generations import of_generation

ENV = {"OPENAI_API_KEY": None, "OPENAI_BASE_URL": None}


def invoke(*args: str) -> Result:
    """Runs the CLI in-process (stderr kept apart)."""
    return CliRunner().invoke(cli, list(args), env=ENV)


def ok(*args: str) -> str:
    """Runs the CLI, asserts exit 0 and returns stdout."""
    result = invoke(*args)
    assert result.exit_code == 0, result.output + result.stderr
    return result.stdout


@pytest.fixture
def journal(tmp_path: Path) -> tuple[str, str]:
    """A data dir holding a completed offline run of the small plan; returns (plan, data dir)."""
    plan = tmp_path / "plan.toml"
    plan.write_text(samples.PLAN_TOML, encoding="utf-8")
    data = str(tmp_path / "data")
    ok("run", "--provider", "offline", "--plan", str(plan), "--data-dir", data)
    return str(plan), data


def envelopes(data: str) -> list[dict[str, object]]:
    """Returns every event envelope of the data dir's journal."""
    store = SqliteEventStore(Path(data) / "journal.db", create=False)
    try:
        return [e.to_envelope() for e in store.iter_all()]
    finally:
        store.close()


def journal_digest(data: str) -> tuple[str, int]:
    """Returns (digest of the journal file and WAL, last position)."""
    db = Path(data) / "journal.db"
    sha = hashlib.sha256()
    for part in (db, db.with_name("journal.db-wal")):
        if part.exists():
            sha.update(part.read_bytes())
    store = SqliteEventStore(db, create=False)
    try:
        return sha.hexdigest(), store.last_position()
    finally:
        store.close()


def started_steps(events: list[dict[str, object]], run_id: str) -> list[tuple[object, object]]:
    """Returns the (stream, step) of every success event a run wrote."""
    return [
        (e["stream"], e["step"])
        for e in events
        if e["run_id"] == run_id and e["type"] in ("StyleCreated", "RoomGenerated", "ImageGenerated")
    ]


def last_run_id(events: list[dict[str, object]]) -> str:
    """Returns the id of the newest RunStarted."""
    return str(next(e for e in reversed(events) if e["type"] == "RunStarted")["run_id"])


def awaiting(data: str) -> int:
    """Returns `status --json`'s regeneration.awaiting."""
    return int(json.loads(ok("status", "--json", "--data-dir", data))["regeneration"]["awaiting"])


def test_a_regenerated_image_is_the_one_step_of_the_next_run_and_shows_as_generation_2(
    journal: tuple[str, str],
) -> None:
    """Regenerate one image: the next run does exactly it, export shows its new sha256 as generation 2."""
    plan, data = journal
    before = json.loads(ok("export", "--data-dir", data))
    old_image = next(d for d in before if d["slug"] == "art-deco")["images"][0]
    assert old_image["generation"] == 1
    assert awaiting(data) == 0
    ok("regenerate", "art-deco", "--step", "image:style:0", "--reason", "too dark", "--data-dir", data)
    assert awaiting(data) == 1
    ok("run", "--provider", "offline", "--plan", plan, "--data-dir", data)
    events = envelopes(data)
    assert started_steps(events, last_run_id(events)) == [("style:art-deco", "image:style:0")]
    assert awaiting(data) == 0
    after = json.loads(ok("export", "--data-dir", data))
    new_image = next(d for d in after if d["slug"] == "art-deco")["images"][0]
    assert new_image["generation"] == 2
    assert new_image["sha256"] != old_image["sha256"]
    untouched = [d for d in after if d["slug"] != "art-deco"]
    assert untouched == [d for d in before if d["slug"] != "art-deco"]


def test_history_of_a_regenerated_step_shows_both_generations_and_the_reason(
    journal: tuple[str, str],
) -> None:
    """history --step lists generation 1, the request with its reason, then generation 2, in order."""
    plan, data = journal
    ok("regenerate", "art-deco", "--step", "image:style:0", "--reason", "too dark", "--data-dir", data)
    ok("run", "--provider", "offline", "--plan", plan, "--data-dir", data)
    history = json.loads(ok("history", "art-deco", "--step", "image:style:0", "--json", "--data-dir", data))
    kinds = [(e["type"], e["data"].get("generation", 1)) for e in history if e["type"] != "StepStarted"]
    assert kinds == [("ImageGenerated", 1), ("StepRegenerationRequested", 2), ("ImageGenerated", 2)]
    request = next(e for e in history if e["type"] == "StepRegenerationRequested")
    first = next(e for e in history if e["type"] == "ImageGenerated")
    assert request["data"]["reason"] == "too dark"
    assert request["data"]["supersedes"] == first["id"]
    assert {e["step"] for e in history} == {"image:style:0"}


def test_after_a_regeneration_round_verify_passes_rebuild_matches_and_a_third_run_does_nothing(
    journal: tuple[str, str],
) -> None:
    """verify exits 0, rebuild + export equals the live export byte for byte, and another run writes no success."""
    plan, data = journal
    ok("regenerate", "japandi", "--step", "room:*", "--reason", "bland", "--data-dir", data)
    ok("run", "--provider", "offline", "--plan", plan, "--data-dir", data)
    live = ok("export", "--data-dir", data)
    assert invoke("verify", "--data-dir", data).exit_code == 0
    ok("rebuild", "--data-dir", data)
    assert ok("export", "--data-dir", data) == live
    ok("run", "--provider", "offline", "--plan", plan, "--data-dir", data)
    events = envelopes(data)
    assert started_steps(events, last_run_id(events)) == []
    assert ok("export", "--data-dir", data) == live


def test_a_room_brings_its_images_along_and_each_gets_exactly_one_generation_2(
    journal: tuple[str, str],
) -> None:
    """Regenerating a room marks its images too; after the run each has one generation-2 success."""
    plan, data = journal
    marked = json.loads(
        ok("regenerate", "art-deco", "--step", "room:kitchen", "--reason", "x", "--json", "--data-dir", data)
    )
    steps = {s["step"] for s in marked["steps"]}
    followers = {s["step"] for s in marked["steps"] if s["cause"] == "room:kitchen"}
    assert "room:kitchen" in steps and followers and steps == {"room:kitchen", *followers}
    assert all(step.startswith("image:room:kitchen:") for step in followers)
    assert awaiting(data) == len(steps)
    ok("run", "--provider", "offline", "--plan", plan, "--data-dir", data)
    seconds = [
        e["step"]
        for e in envelopes(data)
        if e["type"] in ("RoomGenerated", "ImageGenerated") and e["data"].get("generation") == 2
    ]
    assert sorted(seconds) == sorted(steps)


def test_dry_run_writes_nothing_and_json_prints_one_document(journal: tuple[str, str]) -> None:
    """--dry-run --json prints count, steps and estimated_usd and leaves the journal byte for byte as it was."""
    _, data = journal
    before = journal_digest(data)
    result = invoke("regenerate", "art-deco", "--kind", "image", "--dry-run", "--json", "--data-dir", data)
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["dry_run"] is True
    assert document["count"] == len(document["steps"]) > 0
    assert {s["step"].split(":")[0] for s in document["steps"]} == {"image"}
    assert "estimated_usd" in document
    assert journal_digest(data) == before
    assert awaiting(data) == 0


def test_marking_the_same_steps_twice_is_refused_the_second_time(journal: tuple[str, str]) -> None:
    """A second regenerate of steps already awaiting exits 2 and marks nothing twice."""
    _, data = journal
    ok("regenerate", "art-deco", "--step", "image:style:0", "--reason", "r", "--data-dir", data)
    before = journal_digest(data)
    result = invoke("regenerate", "art-deco", "--step", "image:style:0", "--reason", "r", "--data-dir", data)
    assert result.exit_code == 2
    assert "already await" in result.stderr
    assert journal_digest(data) == before


BAD = {
    "no filter": ["--reason", "why"],
    "unknown style": ["no-such-style", "--reason", "why"],
    "bad slug": ["Not A Slug", "--reason", "why"],
    "pattern matching nothing": ["--step", "image:room:attic:*", "--reason", "why"],
    "missing reason": ["art-deco"],
    "empty reason": ["art-deco", "--reason", "   "],
    "reason holding a key": ["art-deco", "--reason", "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD"],
    "bad before": ["art-deco", "--before", "yesterday-ish", "--reason", "why"],
    "bad kind": ["art-deco", "--kind", "video", "--reason", "why"],
}


@pytest.mark.parametrize("args", BAD.values(), ids=BAD.keys())
def test_bad_input_exits_2_with_one_line_and_writes_nothing(
    journal: tuple[str, str], args: list[str]
) -> None:
    """Each malformed or empty selection exits 2 with one line on stderr and leaves the journal unchanged."""
    _, data = journal
    before = journal_digest(data)
    result = invoke("regenerate", *args, "--data-dir", data)
    assert result.exit_code == 2, result.output
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "sk-proj" not in result.stderr
    assert journal_digest(data) == before


def test_a_failed_new_generation_keeps_the_old_result_shown_and_the_step_awaiting(
    journal: tuple[str, str],
) -> None:
    """A generation-2 failure leaves the export on generation 1 (no failed image), the step awaiting, costs counting it."""
    _, data = journal
    before = json.loads(ok("export", "--data-dir", data))
    ok("regenerate", "art-deco", "--step", "image:style:0", "--reason", "too dark", "--data-dir", data)
    store = SqliteEventStore(Path(data) / "journal.db", create=False)
    try:
        store.append("style:art-deco", [of_generation(samples.image_failed(0), 2)])
    finally:
        store.close()
    after = json.loads(ok("export", "--data-dir", data))
    moving = ("updatedAt", "version")  # the stream grew by two events
    assert [{k: v for k, v in d.items() if k not in moving} for d in after] == [
        {k: v for k, v in d.items() if k not in moving} for d in before
    ]
    assert awaiting(data) == 1
    spend = json.loads(ok("costs", "--json", "--data-dir", data))["regeneration"]
    assert (spend["requested"], spend["failures"]) == (1, 1)
    assert invoke("verify", "--data-dir", data).exit_code == 0
