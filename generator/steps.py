"""Work steps: what a plan asks for, and what the journal says is still pending.

Every step has an idempotency key within its style stream: ``content``,
``image:style:<i>``, ``room:<room-slug>``, ``image:room:<room-slug>:<i>``. A step is
*done* when its success event is in the journal; ``pending = plan − done``. Resume is
not a mode: every run computes this from the journal before it calls anything.

Steps sort by priority: the style's place in the plan first, so a run finishes the
styles it started before opening new ones; within a style, content, then its images,
then each room followed at once by that room's images.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from journal.events import CatalogEntry, PlanSpec
from journal.streams import style_stream

StepKind = Literal["content", "style_image", "room", "room_image"]


@dataclass(frozen=True, order=True)
class Step:
    """One paid unit of work and the key the journal records it under."""

    priority: tuple[int, int] = field(compare=True)
    stream: str = field(compare=False)
    key: str = field(compare=False)
    kind: StepKind = field(compare=False)
    subcategory: CatalogEntry = field(compare=False)
    style_number: int = field(compare=False)
    room_type: CatalogEntry | None = field(default=None, compare=False)
    room_number: int | None = field(default=None, compare=False)
    index: int | None = field(default=None, compare=False)
    #: the generation this step's next success will be (1 until a regeneration is requested)
    generation: int = field(default=1, compare=False)

    @property
    def needs(self) -> tuple[str, ...]:
        """Returns the keys of every step whose result this one's request is built from.

        A room image is built from its room *and* its style's content (the approach and
        colour): when a regeneration makes the content pending again, the image waits for
        the new content too, not only for its room.
        """
        if self.kind in ("room", "style_image"):
            return ("content",)
        if self.kind == "room_image":
            assert self.room_type is not None
            return ("content", f"room:{self.room_type.slug}")
        return ()

    @property
    def depends_on(self) -> str | None:
        """Returns the key of the step whose result this one is built on directly, if any."""
        return self.needs[-1] if self.needs else None

    @property
    def call_kind(self) -> Literal["text", "image"]:
        """Returns which rate-limited family the step's call belongs to."""
        return "image" if self.kind in ("style_image", "room_image") else "text"


def plan_steps(plan: PlanSpec, subcategories: Iterable[str] | None = None) -> list[Step]:
    """Lists every step the plan asks for (optionally only some sub-categories), in priority order."""
    wanted = set(subcategories) if subcategories is not None else None
    steps: list[Step] = []
    for s_index, sub in enumerate(plan.subcategories):
        if wanted is not None and sub.slug not in wanted:
            continue
        stream = style_stream(sub.slug)
        number = s_index + 1
        steps.append(Step((s_index, 0), stream, "content", "content", sub, number))
        for i in range(plan.images_per_style):
            steps.append(
                Step((s_index, 1 + i), stream, f"image:style:{i}", "style_image", sub, number, index=i)
            )
        base = 1 + plan.images_per_style
        for r_index, room in enumerate(plan.room_types):
            order = base + r_index * (1 + plan.images_per_room)
            steps.append(
                Step((s_index, order), stream, f"room:{room.slug}", "room", sub, number, room, r_index + 1)
            )
            for i in range(plan.images_per_room):
                steps.append(
                    Step(
                        (s_index, order + 1 + i),
                        stream,
                        f"image:room:{room.slug}:{i}",
                        "room_image",
                        sub,
                        number,
                        room,
                        r_index + 1,
                        i,
                    )
                )
    return steps


def pending_steps(steps: Iterable[Step], done: set[tuple[str, str]]) -> list[Step]:
    """Returns the steps without a success event, keeping their order."""
    return [step for step in steps if (step.stream, step.key) not in done]


def limit_styles(steps: list[Step], limit: int) -> list[Step]:
    """Keeps the pending steps of the first ``limit`` styles that have any, in plan order."""
    chosen: list[str] = []
    for step in steps:
        if step.stream not in chosen:
            if len(chosen) == limit:
                continue
            chosen.append(step.stream)
    keep = set(chosen)
    return [step for step in steps if step.stream in keep]
