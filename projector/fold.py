"""The pure fold: journal events in, style documents out.

``apply(document, event)`` folds one event (as plain data, ``RawEvent``) of a
``style:<slug>`` stream into that style's document, in place; ``finalize(document,
plan)`` derives what depends on the plan (``status``, ``progress``, ``inPlan``, room
order) from the plan recorded by the latest ``RunStarted``. No clock, no I/O, no
randomness: the same events and plan give the same documents, and ``dumps`` gives the
same bytes. ``apply`` only appends and replaces; every ordering (rooms by plan, images by
index) is ``finalize``'s job, so the result does not depend on how the events were
chunked. Timestamps in a document come from the events' ``recorded_at``.

Applying an event whose stream version is not newer than the document's ``version`` is
a no-op, so replaying an already-folded event can never apply it twice.

Document shape (camelCase, readable as-is by any Mongo/Prisma app)::

    slug, subcategory, inPlan, name{lang}, approach, color{name,hex}, keywords[],
    content{lang:{poetic,factual}}, model, generation, images[], failedImages[], roomProfiles[],
    failedRooms[], failure, status, progress{...}, createdAt, updatedAt, version

An image ref is ``{index, generation, sha256, path, width, height, model, createdAt}``
with ``path`` relative to the data dir. A failure entry names the error and when it
happened; it disappears when a later success fills the gap.

A regenerated step (``genjournal regenerate``) shows its newest generation: a room's and
an image's ``generation`` says which (1 = the first); earlier ones stay in the journal
and in ``history``. A success of an older generation than the one shown never replaces it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from journal.errors import CorruptEventError
from journal.events import PlanSpec, payload_generation
from journal.store import RawEvent, StoredEvent
from journal.streams import style_slug

Document = dict[str, Any]


#: every key of a document, in the order documents are written
DOCUMENT_KEYS = (
    "slug",
    "subcategory",
    "inPlan",
    "name",
    "approach",
    "color",
    "keywords",
    "content",
    "model",
    "generation",
    "images",
    "failedImages",
    "roomProfiles",
    "failedRooms",
    "failure",
    "status",
    "progress",
    "createdAt",
    "updatedAt",
    "version",
)

ROOM_KEYS = (
    "roomType",
    "generation",
    "name",
    "content",
    "keyPieces",
    "materials",
    "model",
    "images",
    "failedImages",
    "createdAt",
)

STATUSES = ("complete", "partial", "basic", "failed", "pending")


def new_document(slug: str) -> Document:
    """Returns the empty document of a style that has no events yet."""
    return {
        "slug": slug,
        "subcategory": slug,
        "inPlan": False,
        "name": {},
        "approach": None,
        "color": None,
        "keywords": [],
        "content": {},
        "model": None,
        "generation": None,
        "images": [],
        "failedImages": [],
        "roomProfiles": [],
        "failedRooms": [],
        "failure": None,
        "status": "pending",
        "progress": {},
        "createdAt": None,
        "updatedAt": None,
        "version": 0,
    }


def _error(event: RawEvent) -> dict[str, Any]:
    error = event.data["error"]
    entry: dict[str, Any] = {"kind": error["kind"], "message": error["message"]}
    if error.get("status") is not None:
        entry["status"] = error["status"]
    return {
        "error": entry,
        "attempts": event.meta.get("attempts"),
        "runId": event.run_id,
        "at": event.recorded_at,
    }


def _find(items: list[dict[str, Any]], key: str, value: Any) -> int:
    for i, item in enumerate(items):
        if item[key] == value:
            return i
    return -1


def _put(items: list[dict[str, Any]], entry: dict[str, Any], key: str) -> None:
    at = _find(items, key, entry[key])
    if at < 0:
        items.append(entry)
    else:
        items[at] = entry


def _drop(items: list[dict[str, Any]], key: str, value: Any) -> None:
    at = _find(items, key, value)
    if at >= 0:
        del items[at]


def _new_room(room_type: str) -> dict[str, Any]:
    return {
        "roomType": room_type,
        "generation": None,
        "name": {},
        "content": {},
        "keyPieces": [],
        "materials": [],
        "model": None,
        "images": [],
        "failedImages": [],
        "createdAt": None,
    }


def _room(doc: Document, room_type: str) -> dict[str, Any]:
    rooms: list[dict[str, Any]] = doc["roomProfiles"]
    at = _find(rooms, "roomType", room_type)
    if at >= 0:
        return rooms[at]
    # An image or failure of a room whose profile is not folded yet (never in a journal
    # the generator wrote, but possible in a hand-made one) gets a placeholder room.
    room = _new_room(room_type)
    rooms.append(room)
    return room


def apply(document: Document | None, event: RawEvent) -> Document:
    """Folds one style-stream event into its document, in place; returns the document.

    An event whose version is not newer than the document's is ignored, so folding an
    event twice changes nothing. A payload missing what its type promises raises
    ``CorruptEventError`` naming the position. Payload values are shared, never
    mutated: only the document's own lists and room entries are.
    """
    doc = document
    if doc is None:
        slug = style_slug(event.stream)
        if slug is None:
            raise ValueError(f"not a style stream: {event.stream!r}")
        doc = new_document(slug)
    elif event.version <= doc["version"]:
        return doc
    try:
        _APPLY[event.type](doc, event)
    except KeyError as exc:
        if event.type not in _APPLY:
            raise ValueError(f"{event.type} is not a style event") from exc
        raise _corrupt(event, exc) from exc
    except (TypeError, AttributeError) as exc:
        raise _corrupt(event, exc) from exc
    doc["updatedAt"] = event.recorded_at
    doc["version"] = event.version
    return doc


def _corrupt(event: RawEvent, exc: Exception) -> CorruptEventError:
    return CorruptEventError(
        f"event {event.type!r} at position {event.position} lacks what its type promises ({exc!r})",
        position=event.position,
    )


def _style_created(doc: Document, event: RawEvent) -> None:
    data = event.data
    generation = payload_generation(data)
    if generation < (doc.get("generation") or 0):
        return
    doc["generation"] = generation
    color = data["color"]
    doc["name"] = data["name"]
    doc["approach"] = data["approach"]
    doc["color"] = {"name": color["name"], "hex": color["hex"]}
    doc["keywords"] = data.get("keywords", [])
    doc["content"] = data["content"]
    doc["model"] = event.meta.get("model")
    doc["failure"] = None
    doc["createdAt"] = event.recorded_at


def _style_failed(doc: Document, event: RawEvent) -> None:
    if doc["createdAt"] is None:
        doc["failure"] = _error(event)


def _room_generated(doc: Document, event: RawEvent) -> None:
    data = event.data
    room = _room(doc, data["room_type"])
    generation = payload_generation(data)
    if generation < (room.get("generation") or 0):
        return
    room["generation"] = generation
    room["name"] = data["name"]
    room["content"] = data["content"]
    room["keyPieces"] = data.get("key_pieces", [])
    room["materials"] = data.get("materials", [])
    room["model"] = event.meta.get("model")
    room["createdAt"] = event.recorded_at
    _drop(doc["failedRooms"], "roomType", data["room_type"])


def _room_failed(doc: Document, event: RawEvent) -> None:
    data = event.data
    at = _find(doc["roomProfiles"], "roomType", data["room_type"])
    if at < 0 or doc["roomProfiles"][at]["createdAt"] is None:
        _put(doc["failedRooms"], {"roomType": data["room_type"], **_error(event)}, "roomType")


def _image_generated(doc: Document, event: RawEvent) -> None:
    data = event.data
    owner = _room(doc, data["room_type"]) if data["target"] == "room" else doc
    index = data["index"]
    generation = payload_generation(data)
    shown = _find(owner["images"], "index", index)
    if shown >= 0 and owner["images"][shown].get("generation", 1) > generation:
        return
    ref = {
        "index": index,
        "generation": generation,
        "sha256": data["sha256"],
        "path": data["path"],
        "width": data.get("width"),
        "height": data.get("height"),
        "model": event.meta.get("model"),
        "createdAt": event.recorded_at,
    }
    _put(owner["images"], ref, "index")
    if owner["failedImages"]:
        _drop(owner["failedImages"], "index", index)


def _image_failed(doc: Document, event: RawEvent) -> None:
    data = event.data
    owner = _room(doc, data["room_type"]) if data["target"] == "room" else doc
    if _find(owner["images"], "index", data["index"]) < 0:
        _put(owner["failedImages"], {"index": data["index"], **_error(event)}, "index")


def _regeneration_requested(doc: Document, event: RawEvent) -> None:
    # A request changes no result: the document shows the newest generation until the
    # next one lands (``status`` counts the steps awaiting theirs).
    del doc, event


_APPLY = {
    "StyleCreated": _style_created,
    "StyleFailed": _style_failed,
    "RoomGenerated": _room_generated,
    "RoomFailed": _room_failed,
    "ImageGenerated": _image_generated,
    "ImageFailed": _image_failed,
    "StepRegenerationRequested": _regeneration_requested,
}


def _by_index(item: dict[str, Any]) -> int:
    return int(item["index"])


def _with_generation(ref: dict[str, Any]) -> dict[str, Any]:
    # An image ref folded before generations existed is of the first generation.
    if "generation" in ref:
        return ref
    return {"index": ref["index"], "generation": 1, **{k: v for k, v in ref.items() if k != "index"}}


class _PlanIndex:
    """Lookups derived from a plan once, not once per document (plans can list 10,000 styles)."""

    def __init__(self, plan: PlanSpec | None) -> None:
        self.plan = plan
        self.names = {entry.slug: entry.name for entry in plan.subcategories} if plan else {}
        self.room_order = {entry.slug: i for i, entry in enumerate(plan.room_types)} if plan else {}
        self.per_style = plan.images_per_style if plan else 0
        self.per_room = plan.images_per_room if plan else 0
        self.images_planned = self.per_style + self.per_room * len(self.room_order)


_last_index = _PlanIndex(None)


def _plan_index(plan: PlanSpec | None) -> _PlanIndex:
    global _last_index
    if _last_index.plan is not plan:
        _last_index = _PlanIndex(plan)
    return _last_index


def finalize(document: Document, plan: PlanSpec | None) -> Document:
    """Derives the plan-dependent fields and returns the document in canonical key order."""
    index = _plan_index(plan)
    room_order = index.room_order
    per_style, per_room = index.per_style, index.per_room
    unplanned = len(room_order)
    rooms: list[dict[str, Any]] = []
    rooms_done = room_images = room_failed_images = 0
    for room in document["roomProfiles"]:
        # A document folded before generations existed lacks them: its results are the first.
        ordered = {key: room.get(key, 1 if room.get("createdAt") else None) for key in ROOM_KEYS}
        images = ordered["images"] = sorted(map(_with_generation, room["images"]), key=_by_index)
        failed = ordered["failedImages"] = sorted(room["failedImages"], key=_by_index)
        if room["roomType"] in room_order:
            rooms_done += room["createdAt"] is not None
            room_images += sum(1 for image in images if image["index"] < per_room)
            room_failed_images += sum(1 for image in failed if image["index"] < per_room)
        rooms.append(ordered)
    rooms.sort(key=lambda room: (room_order.get(room["roomType"], unplanned), room["roomType"]))
    images = sorted(map(_with_generation, document["images"]), key=_by_index)
    failed_images = sorted(document["failedImages"], key=_by_index)
    failed_rooms = sorted(document["failedRooms"], key=lambda item: item["roomType"])
    images_done = sum(1 for image in images if image["index"] < per_style) + room_images
    if document["createdAt"] is None:
        status = "failed" if document["failure"] is not None else "pending"
    elif plan is None:
        # No RunStarted recorded a plan: nothing can be called complete.
        status = "partial" if rooms else "basic"
    elif rooms_done == len(room_order) and images_done == index.images_planned:
        status = "complete"
    elif rooms_done == 0:
        status = "basic"
    else:
        status = "partial"
    name = index.names.get(document["slug"])
    return {
        "slug": document["slug"],
        "subcategory": name if name is not None else document["slug"],
        "inPlan": name is not None,
        "name": document["name"],
        "approach": document["approach"],
        "color": document["color"],
        "keywords": document["keywords"],
        "content": document["content"],
        "model": document["model"],
        "generation": document.get("generation", 1 if document["createdAt"] else None),
        "images": images,
        "failedImages": failed_images,
        "roomProfiles": rooms,
        "failedRooms": failed_rooms,
        "failure": document["failure"],
        "status": status,
        "progress": {
            "roomsDone": rooms_done,
            "roomsPlanned": len(room_order),
            "roomsFailed": sum(1 for room in failed_rooms if room["roomType"] in room_order),
            "imagesDone": images_done,
            "imagesPlanned": index.images_planned,
            "imagesFailed": sum(1 for image in failed_images if image["index"] < per_style)
            + room_failed_images,
        },
        "createdAt": document["createdAt"],
        "updatedAt": document["updatedAt"],
        "version": document["version"],
    }


def shown_generation(document: Document, step: str) -> int | None:
    """Returns the generation of a step's result the document shows (None: no result yet)."""
    if step == "content":
        return document.get("generation", 1) if document.get("createdAt") else None
    parts = step.split(":")
    owner: dict[str, Any] | None = document
    if parts[0] == "room" or (parts[0] == "image" and len(parts) == 4 and parts[1] == "room"):
        at = _find(document["roomProfiles"], "roomType", parts[1] if parts[0] == "room" else parts[2])
        owner = document["roomProfiles"][at] if at >= 0 else None
        if owner is not None and parts[0] == "room":
            return owner.get("generation", 1) if owner.get("createdAt") else None
    if owner is None or parts[0] != "image":
        return None
    try:
        index = int(parts[-1])
    except ValueError:
        return None
    at = _find(owner["images"], "index", index)
    return owner["images"][at].get("generation", 1) if at >= 0 else None


def fold(events: Iterable[RawEvent | StoredEvent], plan: PlanSpec | None) -> dict[str, Document]:
    """Folds a sequence of events into finalized documents keyed by slug (other streams are skipped)."""
    docs: dict[str, Document] = {}
    for event in events:
        raw = event if isinstance(event, RawEvent) else RawEvent.from_stored(event)
        slug = style_slug(raw.stream)
        if slug is not None:
            docs[slug] = apply(docs.get(slug), raw)
    return {slug: finalize(doc, plan) for slug, doc in sorted(docs.items())}


def dumps(document: Document) -> str:
    """Serialises a document to its canonical compact JSON text."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), check_circular=False)
