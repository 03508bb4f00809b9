"""The overview grid and the style page, as plain data derived from the plan and the documents.

A grid row is one style of the plan; its cells are the style's own ``content``, its
``images`` and one cell per room type. A cell needs a fixed set of *parts* (``content``;
image indexes ``0``…; ``room`` plus the room's image indexes) and knows which of them are
done, failed (a failure event and no success since) or running (a paid call started by
the live run and not answered yet). Its state is ``done`` when every part is done, else
``running``, ``failed`` or ``pending``, in that order. The page's script applies journal
events to the same sets with the same rule (``static/dashboard.js``), so a cell never
depends on whether its state came from the server or from the live feed.

``RunningSteps`` follows ``StepStarted`` and the outcome events of the live run; only
paid providers journal ``StepStarted``, so an offline run never shows running cells.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from journal.events import FAILURE_TYPES, SUCCESS_TYPES, PlanSpec
from journal.store import EventStore
from journal.streams import STYLE_PREFIX
from projector.fold import Document

STATES = ("done", "running", "failed", "pending")


def cell_of(step: str) -> tuple[str, str] | None:
    """Maps a step key to (cell key, part): ``image:room:kitchen:2`` → (``room:kitchen``, ``2``)."""
    if step == "content":
        return "content", "content"
    if step.startswith("image:style:"):
        return "images", step.rsplit(":", 1)[1]
    if step.startswith("room:"):
        return step, "room"
    if step.startswith("image:room:"):
        room, _, index = step[len("image:room:") :].rpartition(":")
        return f"room:{room}", index
    return None


@dataclass
class Cell:
    """One square of the grid: which parts it needs and which are done, failed, running."""

    key: str
    label: str
    need: tuple[str, ...]
    done: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)
    running: set[str] = field(default_factory=set)

    @property
    def state(self) -> str:
        """Returns done, running, failed or pending (the rule the page's script also uses)."""
        if all(part in self.done for part in self.need):
            return "done"
        if self.running:
            return "running"
        if self.failed:
            return "failed"
        return "pending"

    @property
    def started(self) -> bool:
        """Tells whether some but not all parts are done (drawn as a half-filled cell)."""
        return bool(self.done) and self.state != "done"

    def parts(self, which: set[str]) -> str:
        """Returns a set of parts as the space-separated text the page's script reads."""
        return " ".join(sorted(which))


@dataclass
class Row:
    """One style of the plan with its cells."""

    number: int
    slug: str
    name: str
    status: str
    color: dict[str, str] | None
    cells: list[Cell]


@dataclass
class Grid:
    """The whole plan as rows of cells, plus what the page's script needs to describe steps."""

    plan: PlanSpec | None
    rows: list[Row]
    position: int

    def script_data(self) -> dict[str, Any]:
        """Returns the plan summary the page's script uses to label live events."""
        plan = self.plan
        return {
            "position": self.position,
            "styles": [[entry.slug, entry.name] for entry in plan.subcategories] if plan else [],
            "rooms": [[entry.slug, entry.name] for entry in plan.room_types] if plan else [],
            "imagesPerStyle": plan.images_per_style if plan else 0,
            "imagesPerRoom": plan.images_per_room if plan else 0,
        }


def _indexes(count: int) -> tuple[str, ...]:
    return tuple(str(i) for i in range(count))


def build_row(
    number: int,
    slug: str,
    name: str,
    plan: PlanSpec,
    doc: Document | None,
    running: set[tuple[str, str]],
) -> Row:
    """Builds one row of the grid from a style's document (None: nothing journaled yet)."""
    cells = [Cell("content", "Content", ("content",))]
    if plan.images_per_style:
        cells.append(Cell("images", "Images", _indexes(plan.images_per_style)))
    room_need = ("room", *_indexes(plan.images_per_room))
    cells.extend(Cell(f"room:{room.slug}", room.name, room_need) for room in plan.room_types)
    by_key = {cell.key: cell for cell in cells}
    if doc is not None:
        content, images = by_key["content"], by_key.get("images")
        if doc["createdAt"] is not None:
            content.done.add("content")
        elif doc["failure"] is not None:
            content.failed.add("content")
        if images is not None:
            images.done.update(str(image["index"]) for image in doc["images"])
            images.failed.update(str(image["index"]) for image in doc["failedImages"])
        for room in doc["roomProfiles"]:
            cell = by_key.get(f"room:{room['roomType']}")
            if cell is None:
                continue
            if room["createdAt"] is not None:
                cell.done.add("room")
            cell.done.update(str(image["index"]) for image in room["images"])
            cell.failed.update(str(image["index"]) for image in room["failedImages"])
        for failed in doc["failedRooms"]:
            cell = by_key.get(f"room:{failed['roomType']}")
            if cell is not None:
                cell.failed.add("room")
    stream = STYLE_PREFIX + slug
    for run_stream, step in running:
        located = cell_of(step) if run_stream == stream else None
        if located is not None and located[0] in by_key:
            by_key[located[0]].running.add(located[1])
    return Row(
        number=number,
        slug=slug,
        name=name,
        status=doc["status"] if doc is not None else "missing",
        color=doc["color"] if doc is not None else None,
        cells=cells,
    )


def build_grid(
    plan: PlanSpec | None,
    documents: Iterable[Document],
    running: set[tuple[str, str]],
    position: int,
) -> Grid:
    """Builds the overview grid: one row per style of the plan, in plan order."""
    if plan is None:
        return Grid(plan=None, rows=[], position=position)
    docs = {doc["slug"]: doc for doc in documents}
    rows = [
        build_row(number, entry.slug, entry.name, plan, docs.get(entry.slug), running)
        for number, entry in enumerate(plan.subcategories, start=1)
    ]
    return Grid(plan=plan, rows=rows, position=position)


def style_rooms(plan: PlanSpec | None, doc: Document) -> list[dict[str, Any]]:
    """Lists a style's rooms for its page: every planned room (generated or not), then extras."""
    profiles = {room["roomType"]: room for room in doc["roomProfiles"]}
    failures = {item["roomType"]: item for item in doc["failedRooms"]}
    listed: list[dict[str, Any]] = []
    planned = [(entry.slug, entry.name) for entry in plan.room_types] if plan else []
    seen = set()
    for number, (slug, name) in enumerate(planned, start=1):
        seen.add(slug)
        listed.append(
            {
                "slug": slug,
                "label": name,
                "number": number,
                "profile": profiles.get(slug),
                "failure": failures.get(slug),
            }
        )
    for slug, profile in profiles.items():
        if slug not in seen:
            listed.append(
                {
                    "slug": slug,
                    "label": slug,
                    "number": None,
                    "profile": profile,
                    "failure": failures.get(slug),
                }
            )
    return listed


class RunningSteps:
    """Tracks the steps whose paid call the live run started and has not answered yet."""

    def __init__(self) -> None:
        self.steps: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    def apply(self, envelopes: Iterable[dict[str, Any]]) -> None:
        """Folds journal envelopes (in position order) into the running set."""
        with self._lock:
            self._apply(envelopes)

    def _apply(self, envelopes: Iterable[dict[str, Any]]) -> None:
        for env in envelopes:
            kind, run_id = env["type"], env["run_id"]
            if kind == "StepStarted":
                self.steps[(env["data"]["stream"], env["data"]["step"])] = run_id
            elif kind in SUCCESS_TYPES or kind in FAILURE_TYPES:
                if env["step"] is not None:
                    self.steps.pop((env["stream"], env["step"]), None)
            elif kind == "RunStarted":
                # One run holds the lease at a time: whatever an earlier run left is dead.
                self.steps = {key: run for key, run in self.steps.items() if run == run_id}
            elif kind == "RunFinished":
                self.steps = {key: run for key, run in self.steps.items() if run != run_id}

    def seed(self, store: EventStore, *, upto: int) -> None:
        """Loads the running set of the live run (the lease holder, if alive) up to a position."""
        holder = store.read_lease()
        if holder is None or not holder.is_alive(heartbeat_timeout_s=60.0):
            return
        events = store.query(run_id=holder.run_id)
        self.apply(e.to_envelope() for e in events if e.position <= upto)

    def clear_if_idle(self, store: EventStore) -> None:
        """Forgets every running step when no live run holds the lease (it crashed)."""
        if not self.steps:
            return
        holder = store.read_lease()
        if holder is None or not holder.is_alive(heartbeat_timeout_s=60.0):
            with self._lock:
                self.steps.clear()

    def snapshot(self) -> set[tuple[str, str]]:
        """Returns the running (stream, step) pairs."""
        with self._lock:
            return set(self.steps)
