"""The pure fold: journal events in, style documents out.

``apply(document, event)`` folds one event of a ``style:<slug>`` stream into that
style's document; ``finalize(document, plan)`` derives what depends on the plan
(``status``, ``progress``, ``inPlan``, room order) from the plan recorded by the latest
``RunStarted``. No clock, no I/O, no randomness: the same events and plan give the same
documents, and ``dumps`` gives the same bytes. Timestamps in a document come from the
events' ``recorded_at``.

Applying an event whose stream version is not newer than the document's ``version`` is
a no-op, so replaying an already-folded event can never apply it twice.

Document shape (camelCase, readable as-is by any Mongo/Prisma app)::

    slug, subcategory, inPlan, name{lang}, approach, color{name,hex}, keywords[],
    content{lang:{poetic,factual}}, model, images[], failedImages[], roomProfiles[],
    failedRooms[], failure, status, progress{...}, createdAt, updatedAt, version

An image ref is ``{index, sha256, path, width, height, model, createdAt}`` with ``path``
relative to the data dir. A failure entry names the error and when it happened; it
disappears when a later success fills the gap.
"""

from __future__ import annotations

import json
from typing import Any

from journal.events import (
    Event,
    ImageFailed,
    ImageGenerated,
    PlanSpec,
    RoomFailed,
    RoomGenerated,
    StyleCreated,
    StyleFailed,
)
from journal.store import StoredEvent, format_time

Document = dict[str, Any]

STYLE_PREFIX = "style:"

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

STATUSES = ("complete", "partial", "basic", "failed", "pending")


def slug_of(stream: str) -> str | None:
    """Returns the style slug of a ``style:<slug>`` stream, or None for other streams."""
    return stream[len(STYLE_PREFIX) :] if stream.startswith(STYLE_PREFIX) else None


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


def _error(event: Event, at: str) -> dict[str, Any]:
    error = event.data.error
    entry: dict[str, Any] = {"kind": error.kind, "message": error.message}
    if error.status is not None:
        entry["status"] = error.status
    return {"error": entry, "attempts": event.meta.attempts, "runId": event.run_id, "at": at}


def _image_ref(event: ImageGenerated, at: str) -> dict[str, Any]:
    data = event.data
    return {
        "index": data.index,
        "sha256": data.sha256,
        "path": data.path,
        "width": data.width,
        "height": data.height,
        "model": event.meta.model,
        "createdAt": at,
    }


def _put_sorted(items: list[dict[str, Any]], entry: dict[str, Any], key: str) -> list[dict[str, Any]]:
    kept = [item for item in items if item[key] != entry[key]]
    kept.append(entry)
    kept.sort(key=lambda item: item[key])
    return kept


def _without(items: list[dict[str, Any]], key: str, value: Any) -> list[dict[str, Any]]:
    return [item for item in items if item[key] != value]


def _room(doc: Document, room_type: str) -> dict[str, Any] | None:
    for room in doc["roomProfiles"]:
        if room["roomType"] == room_type:
            return room  # type: ignore[no-any-return]
    return None


def _new_room(room_type: str) -> dict[str, Any]:
    return {
        "roomType": room_type,
        "name": {},
        "content": {},
        "keyPieces": [],
        "materials": [],
        "model": None,
        "images": [],
        "failedImages": [],
        "createdAt": None,
    }


def apply(document: Document | None, stored: StoredEvent) -> Document:
    """Folds one style-stream event into its document (a no-op for an old version)."""
    slug = slug_of(stored.stream)
    if slug is None:
        raise ValueError(f"not a style stream: {stored.stream!r}")
    doc = document if document is not None else new_document(slug)
    if stored.version <= doc["version"]:
        return doc
    doc = dict(doc)
    at = format_time(stored.recorded_at)
    event = stored.event
    if isinstance(event, StyleCreated):
        data = event.data
        doc["name"] = dict(data.name)
        doc["approach"] = data.approach
        doc["color"] = {"name": data.color.name, "hex": data.color.hex}
        doc["keywords"] = list(data.keywords)
        doc["content"] = {
            lang: {"poetic": prose.poetic, "factual": prose.factual}
            for lang, prose in data.content.items()
        }
        doc["model"] = event.meta.model
        doc["failure"] = None
        doc["createdAt"] = at
    elif isinstance(event, StyleFailed):
        if doc["createdAt"] is None:
            doc["failure"] = _error(event, at)
    elif isinstance(event, RoomGenerated):
        data = event.data
        room = dict(_room(doc, data.room_type) or _new_room(data.room_type))
        room["name"] = dict(data.name)
        room["content"] = {
            lang: {"poetic": prose.poetic, "factual": prose.factual}
            for lang, prose in data.content.items()
        }
        room["keyPieces"] = list(data.key_pieces)
        room["materials"] = list(data.materials)
        room["model"] = event.meta.model
        room["createdAt"] = at
        doc["roomProfiles"] = _put_sorted(doc["roomProfiles"], room, "roomType")
        doc["failedRooms"] = _without(doc["failedRooms"], "roomType", data.room_type)
    elif isinstance(event, RoomFailed):
        existing = _room(doc, event.data.room_type)
        if existing is None or existing["createdAt"] is None:
            entry = {"roomType": event.data.room_type, **_error(event, at)}
            doc["failedRooms"] = _put_sorted(doc["failedRooms"], entry, "roomType")
    elif isinstance(event, ImageGenerated):
        doc = _apply_image(doc, event, at)
    elif isinstance(event, ImageFailed):
        doc = _apply_image_failure(doc, event, at)
    doc["updatedAt"] = at
    doc["version"] = stored.version
    return doc


def _image_owner(doc: Document, room_type: str | None) -> tuple[dict[str, Any], bool]:
    if room_type is None:
        return doc, False
    room = _room(doc, room_type)
    # An image of a room whose profile is not folded yet (never in a journal the
    # generator wrote, but possible in a hand-made one) gets a placeholder room.
    return dict(room if room is not None else _new_room(room_type)), True


def _apply_image(doc: Document, event: ImageGenerated, at: str) -> Document:
    data = event.data
    owner, is_room = _image_owner(doc, data.room_type if data.target == "room" else None)
    owner["images"] = _put_sorted(owner["images"], _image_ref(event, at), "index")
    owner["failedImages"] = _without(owner["failedImages"], "index", data.index)
    if is_room:
        doc["roomProfiles"] = _put_sorted(doc["roomProfiles"], owner, "roomType")
    return doc


def _apply_image_failure(doc: Document, event: ImageFailed, at: str) -> Document:
    data = event.data
    owner, is_room = _image_owner(doc, data.room_type if data.target == "room" else None)
    if any(image["index"] == data.index for image in owner["images"]):
        return doc
    entry = {"index": data.index, **_error(event, at)}
    owner["failedImages"] = _put_sorted(owner["failedImages"], entry, "index")
    if is_room:
        doc["roomProfiles"] = _put_sorted(doc["roomProfiles"], owner, "roomType")
    return doc


def finalize(document: Document, plan: PlanSpec | None) -> Document:
    """Derives the plan-dependent fields and returns the document in canonical key order."""
    doc = dict(document)
    entries = {entry.slug: entry for entry in plan.subcategories} if plan else {}
    room_order = {entry.slug: i for i, entry in enumerate(plan.room_types)} if plan else {}
    planned_rooms = list(room_order)
    per_style = plan.images_per_style if plan else 0
    per_room = plan.images_per_room if plan else 0
    entry = entries.get(doc["slug"])
    doc["inPlan"] = entry is not None
    doc["subcategory"] = entry.name if entry is not None else doc["subcategory"]
    rooms = sorted(
        doc["roomProfiles"],
        key=lambda room: (room_order.get(room["roomType"], len(room_order)), room["roomType"]),
    )
    doc["roomProfiles"] = rooms
    done_rooms = {room["roomType"] for room in rooms if room["createdAt"] is not None}
    by_type = {room["roomType"]: room for room in rooms}
    style_images = sum(1 for image in doc["images"] if image["index"] < per_style)
    room_images = sum(
        sum(1 for image in by_type[slug]["images"] if image["index"] < per_room)
        for slug in planned_rooms
        if slug in by_type
    )
    rooms_done = sum(1 for slug in planned_rooms if slug in done_rooms)
    images_planned = per_style + per_room * len(planned_rooms)
    images_done = style_images + room_images
    has_content = doc["createdAt"] is not None
    if not has_content:
        status = "failed" if doc["failure"] is not None else "pending"
    elif plan is None:
        # No RunStarted recorded a plan: nothing can be called complete.
        status = "partial" if rooms else "basic"
    elif rooms_done == len(planned_rooms) and images_done == images_planned:
        status = "complete"
    elif rooms_done == 0:
        status = "basic"
    else:
        status = "partial"
    doc["status"] = status
    doc["progress"] = {
        "roomsDone": rooms_done,
        "roomsPlanned": len(planned_rooms),
        "roomsFailed": sum(1 for room in doc["failedRooms"] if room["roomType"] in room_order),
        "imagesDone": images_done,
        "imagesPlanned": images_planned,
        "imagesFailed": sum(1 for image in doc["failedImages"] if image["index"] < per_style)
        + sum(
            sum(1 for image in by_type[slug]["failedImages"] if image["index"] < per_room)
            for slug in planned_rooms
            if slug in by_type
        ),
    }
    return {key: doc[key] for key in DOCUMENT_KEYS}


def fold(events: list[StoredEvent], plan: PlanSpec | None) -> dict[str, Document]:
    """Folds a sequence of style-stream events into finalized documents keyed by slug."""
    docs: dict[str, Document] = {}
    for stored in events:
        slug = slug_of(stored.stream)
        if slug is not None:
            docs[slug] = apply(docs.get(slug), stored)
    return {slug: finalize(doc, plan) for slug, doc in sorted(docs.items())}


def dumps(document: Document) -> str:
    """Serialises a document to its canonical compact JSON text."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))
