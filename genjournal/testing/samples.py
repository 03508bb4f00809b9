"""Sample events of every type, built the way the generator builds them."""

from __future__ import annotations

import hashlib

from journal.events import (
    CatalogEntry,
    Color,
    Event,
    ImageFailed,
    ImageFailedData,
    ImageGenerated,
    ImageGeneratedData,
    Meta,
    PlanSpec,
    Prose,
    RoomFailed,
    RoomFailedData,
    RoomGenerated,
    RoomGeneratedData,
    RunFinished,
    RunFinishedData,
    RunOutcome,
    RunStarted,
    RunStartedData,
    StepError,
    StepStarted,
    StepStartedData,
    StyleCreated,
    StyleCreatedData,
    StyleFailed,
    StyleFailedData,
    blob_relpath,
)
from journal.streams import run_stream

RUN = "run-test-1"

#: a small plan file: 3 styles × 2 rooms, one image each (18 steps)
PLAN_TOML = """
languages = ["en"]
images_per_style = 1
images_per_room = 1

[[subcategories]]
slug = "art-deco"
name = "Art Deco"

[[subcategories]]
slug = "japandi"
name = "Japandi"

[[subcategories]]
slug = "wabi-sabi"
name = "Wabi-Sabi"

[[room_types]]
slug = "kitchen"
name = "Kitchen"

[[room_types]]
slug = "bedroom"
name = "Bedroom"
"""


def small_plan(
    styles: int = 2, rooms: int = 2, images_per_style: int = 1, images_per_room: int = 1
) -> PlanSpec:
    """Returns a small plan with numbered styles and rooms."""
    return PlanSpec(
        languages=("en",),
        images_per_style=images_per_style,
        images_per_room=images_per_room,
        subcategories=tuple(CatalogEntry(slug=f"style-{i}", name=f"Style {i}") for i in range(styles)),
        room_types=tuple(CatalogEntry(slug=f"room-{i}", name=f"Room {i}") for i in range(rooms)),
    )


def run_started(plan: PlanSpec | None = None, run_id: str = RUN) -> RunStarted:
    """Returns a RunStarted event for a plan."""
    plan = plan or small_plan()
    return RunStarted(
        run_id=run_id,
        data=RunStartedData(
            plan=plan,
            plan_hash=plan.plan_hash(),
            plan_source="test",
            provider="offline",
            text_model="offline-text",
            image_model="offline-image",
            settings={"concurrency": 4},
            code_version="0.1.0",
            host="testhost",
            pid=1234,
            steps_planned=10,
            steps_pending=10,
        ),
    )


def run_finished(outcome: RunOutcome = "completed", run_id: str = RUN) -> RunFinished:
    """Returns a RunFinished event."""
    return RunFinished(
        run_id=run_id,
        data=RunFinishedData(outcome=outcome, counts={"succeeded": 3, "failed": 0}, duration_ms=1200),
    )


def step_started(stream: str = "style:style-0", step: str = "content", run_id: str = RUN) -> StepStarted:
    """Returns a StepStarted event."""
    return StepStarted(run_id=run_id, data=StepStartedData(stream=stream, step=step, kind="text"))


def style_created(slug: str = "style-0", run_id: str = RUN, color: str = "#aa8844") -> StyleCreated:
    """Returns a StyleCreated event for a sub-category."""
    return StyleCreated(
        run_id=run_id,
        step="content",
        data=StyleCreatedData(
            subcategory=slug,
            name={"en": slug.replace("-", " ").title()},
            approach="Warm minimalism with brass accents",
            color=Color(name="Burnished brass", hex=color),
            content={"en": Prose(poetic="Light pools on lacquer.", factual="Born in the 1920s.")},
            keywords=("brass", "lacquer"),
        ),
        meta=Meta(
            provider="offline",
            model="offline-text",
            prompt_version="p1",
            input_tokens=120,
            output_tokens=340,
            latency_ms=5,
            attempts=1,
            request_id="req-1",
        ),
    )


def style_failed(slug: str = "style-0", run_id: str = RUN) -> StyleFailed:
    """Returns a StyleFailed event."""
    return StyleFailed(
        run_id=run_id,
        step="content",
        data=StyleFailedData(
            subcategory=slug, error=StepError(kind="server_error", message="HTTP 500", status=500)
        ),
        meta=Meta(model="offline-text", attempts=3),
    )


def room_generated(room: str = "room-0", run_id: str = RUN) -> RoomGenerated:
    """Returns a RoomGenerated event."""
    return RoomGenerated(
        run_id=run_id,
        step=f"room:{room}",
        data=RoomGeneratedData(
            room_type=room,
            name={"en": room.title()},
            content={"en": Prose(poetic="A quiet room.", factual="Oak floors, linen.")},
            key_pieces=("sofa",),
            materials=("oak",),
        ),
        meta=Meta(model="offline-text", input_tokens=50, output_tokens=200, attempts=1),
    )


def room_failed(room: str = "room-0", run_id: str = RUN) -> RoomFailed:
    """Returns a RoomFailed event."""
    return RoomFailed(
        run_id=run_id,
        step=f"room:{room}",
        data=RoomFailedData(room_type=room, error=StepError(kind="rate_limited", message="429", status=429)),
        meta=Meta(model="offline-text", attempts=4),
    )


def image_generated(
    index: int = 0, room: str | None = None, run_id: str = RUN, payload: bytes | None = None
) -> ImageGenerated:
    """Returns an ImageGenerated event for a style image or a room image."""
    sha = hashlib.sha256(payload or f"{room}:{index}:{run_id}".encode()).hexdigest()
    step = f"image:room:{room}:{index}" if room else f"image:style:{index}"
    return ImageGenerated(
        run_id=run_id,
        step=step,
        data=ImageGeneratedData(
            target="room" if room else "style",
            room_type=room,
            index=index,
            sha256=sha,
            path=blob_relpath(sha),
            bytes=len(payload or b"x"),
            width=64,
            height=64,
            prompt="A swatch",
        ),
        meta=Meta(model="offline-image", images=1, image_size="1024x1024", latency_ms=3, attempts=1),
    )


def image_failed(index: int = 0, room: str | None = None, run_id: str = RUN) -> ImageFailed:
    """Returns an ImageFailed event."""
    step = f"image:room:{room}:{index}" if room else f"image:style:{index}"
    return ImageFailed(
        run_id=run_id,
        step=step,
        data=ImageFailedData(
            target="room" if room else "style",
            room_type=room,
            index=index,
            error=StepError(kind="connection", message="connection reset"),
        ),
        meta=Meta(model="offline-image", attempts=2),
    )


def one_of_each() -> list[tuple[str, Event]]:
    """Returns (stream, event) pairs covering every event type."""
    return [
        (run_stream(RUN), run_started()),
        (run_stream(RUN), step_started()),
        ("style:style-0", style_failed()),
        ("style:style-0", style_created()),
        ("style:style-0", room_failed()),
        ("style:style-0", room_generated()),
        ("style:style-0", image_failed()),
        ("style:style-0", image_generated()),
        ("style:style-0", image_generated(index=0, room="room-0")),
        (run_stream(RUN), run_finished()),
    ]
