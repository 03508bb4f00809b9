"""The overview grid's cells, the running-steps tracker and the plan handed to dashboard runs."""

from __future__ import annotations

from typing import Any

import pytest

from generator.plan import load_plan, parse_plan
from generator.steps import plan_steps
from genjournal.web.board import Cell, RunningSteps, build_grid, cell_of
from genjournal.web.runs import RunRequest, plan_toml
from journal.events import CatalogEntry, PlanSpec

PLAN = PlanSpec(
    images_per_style=2,
    images_per_room=1,
    subcategories=(
        CatalogEntry(slug="art-deco", name="Art Deco"),
        CatalogEntry(slug="japandi", name="Japandi"),
    ),
    room_types=(
        CatalogEntry(slug="kitchen", name="Kitchen"),
        CatalogEntry(slug="walk-in-closet", name="Closet"),
    ),
)


@pytest.mark.parametrize(
    ("step", "cell"),
    [
        ("content", ("content", "content")),
        ("image:style:2", ("images", "2")),
        ("room:walk-in-closet", ("room:walk-in-closet", "room")),
        ("image:room:walk-in-closet:0", ("room:walk-in-closet", "0")),
        ("something-else", None),
    ],
)
def test_every_step_key_maps_to_its_cell_and_part(step: str, cell: tuple[str, str] | None) -> None:
    """A step key names the grid cell it belongs to and which part of it."""
    assert cell_of(step) == cell


def test_every_planned_step_lands_in_exactly_one_cell_part() -> None:
    """The grid covers the plan: each step of plan_steps is one (cell, part), none shared."""
    grid = build_grid(PLAN, [], set(), 0)
    parts = {(row.slug, cell.key, part) for row in grid.rows for cell in row.cells for part in cell.need}
    located = set()
    for step in plan_steps(PLAN):
        where = cell_of(step.key)
        assert where is not None
        located.add((step.stream.split(":", 1)[1], *where))
    assert located == parts
    assert len(parts) == len(plan_steps(PLAN))


@pytest.mark.parametrize(
    ("done", "failed", "running", "state"),
    [
        ({"room", "0"}, set(), set(), "done"),
        ({"room", "0"}, {"0"}, {"0"}, "done"),
        ({"room"}, {"0"}, {"0"}, "running"),
        ({"room"}, {"0"}, set(), "failed"),
        (set(), set(), set(), "pending"),
    ],
)
def test_cell_state_order_is_done_running_failed_pending(
    done: set[str], failed: set[str], running: set[str], state: str
) -> None:
    """A cell is done when every part is; otherwise running beats failed beats pending."""
    cell = Cell("room:kitchen", "Kitchen", ("room", "0"), set(done), set(failed), set(running))
    assert cell.state == state
    assert cell.started == (bool(done) and state != "done")


def _document(slug: str, **fields: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "slug": slug,
        "status": "partial",
        "color": {"name": "Gold", "hex": "#aa8800"},
        "createdAt": "t",
        "failure": None,
        "images": [],
        "failedImages": [],
        "roomProfiles": [],
        "failedRooms": [],
    }
    doc.update(fields)
    return doc


def test_grid_reads_done_failed_and_running_parts_from_documents() -> None:
    """Documents fill the cells: results done, failures failed, live steps running."""
    doc = _document(
        "art-deco",
        images=[{"index": 0}],
        failedImages=[{"index": 1}],
        roomProfiles=[
            {"roomType": "kitchen", "createdAt": "t", "images": [], "failedImages": [{"index": 0}]}
        ],
        failedRooms=[{"roomType": "walk-in-closet"}],
    )
    running = {("style:art-deco", "image:room:kitchen:0"), ("style:japandi", "content")}
    grid = build_grid(PLAN, [doc], running, 42)
    art, japandi = grid.rows
    cells = {cell.key: cell for cell in art.cells}
    assert cells["content"].state == "done"
    assert (cells["images"].done, cells["images"].failed, cells["images"].state) == (
        {"0"},
        {"1"},
        "failed",
    )
    assert (cells["room:kitchen"].state, cells["room:kitchen"].started) == ("running", True)
    assert cells["room:walk-in-closet"].state == "failed"
    assert japandi.status == "missing"
    assert japandi.cells[0].state == "running"
    assert grid.script_data()["position"] == 42
    assert grid.script_data()["rooms"] == [["kitchen", "Kitchen"], ["walk-in-closet", "Closet"]]


def test_grid_without_a_plan_is_empty() -> None:
    """Before any run recorded a plan, the grid has no rows."""
    assert build_grid(None, [_document("art-deco")], set(), 0).rows == []


def _started(run: str, stream: str, step: str) -> dict[str, Any]:
    return {
        "type": "StepStarted",
        "run_id": run,
        "stream": f"run:{run}",
        "step": None,
        "data": {"stream": stream, "step": step, "kind": "text"},
    }


def _event(kind: str, run: str, stream: str | None = None, step: str | None = None) -> dict[str, Any]:
    return {"type": kind, "run_id": run, "stream": stream or f"run:{run}", "step": step, "data": {}}


def test_running_steps_follow_started_calls_until_their_outcome() -> None:
    """A StepStarted is running until its success or failure, or until its run finishes."""
    running = RunningSteps()
    running.apply([_started("r1", "style:a", "content"), _started("r1", "style:a", "room:kitchen")])
    assert running.snapshot() == {("style:a", "room:kitchen"), ("style:a", "content")}
    running.apply([_event("RoomGenerated", "r1", "style:a", "room:kitchen")])
    running.apply([_event("StyleFailed", "r1", "style:a", "content")])
    assert running.snapshot() == set()
    running.apply([_started("r1", "style:b", "content")])
    assert running.snapshot() == {("style:b", "content")}
    running.apply([_event("RunFinished", "r1")])
    assert running.snapshot() == set()


def test_a_new_run_clears_what_a_crashed_run_left_running() -> None:
    """Steps a crashed run left started are not running any more once another run starts."""
    running = RunningSteps()
    running.apply([_started("dead", "style:a", "content")])
    running.apply([_event("RunStarted", "next")])
    assert running.snapshot() == set()


@pytest.mark.parametrize(
    "name",
    [
        'Art "Deco"',
        "Back\\slash",
        "Ünïcödé — 日本",
        "single 'quotes' = [brackets] # hash",
        "emoji 🪴",
        "<b>markup</b>",
    ],
)
def test_the_plan_a_dashboard_run_gets_is_the_journal_plan(name: str) -> None:
    """The TOML written for a run started from the page loads back as exactly the recorded plan."""
    plan = PlanSpec(
        languages=("en", "pt-BR"),
        images_per_style=0,
        images_per_room=4,
        subcategories=(CatalogEntry(slug="x", name=name),),
        room_types=(CatalogEntry(slug="kitchen", name=name),),
    )
    assert parse_plan(plan_toml(plan), source="test").spec == plan


def test_the_shipped_catalogue_round_trips_too() -> None:
    """The 60 x 24 catalogue written as TOML loads back unchanged."""
    spec = load_plan(None).spec
    assert parse_plan(plan_toml(spec), source="test").spec == spec


def test_run_request_becomes_the_run_command_options() -> None:
    """A start request is the CLI's --limit and --subcategory options, in order."""
    request = RunRequest(limit=3, subcategories=("art-deco", "japandi"))
    assert request.arguments() == [
        "--limit",
        "3",
        "--subcategory",
        "art-deco",
        "--subcategory",
        "japandi",
    ]
    assert RunRequest().arguments() == []
