"""Curation: choose done steps to do again, and journal that they are to be done.

``genjournal regenerate`` (and the dashboard's "regenerate") never changes or deletes a
result. It appends one ``StepRegenerationRequested`` per chosen step, asking for the
step's next *generation* and naming the result it supersedes; the next ``run`` (live or
batch) finds those steps pending again, and their next success is that generation. The
store keeps at most one success per ``(stream, step, generation)``, so two processes can
never both pay for the same one.

``plan_regeneration`` turns a ``Selection`` (filters that combine with AND) into the
marks it would journal, with what follows: a room's images follow their room (they
depict its text) unless ``keep_images``; everything built on a style's content follows
it only with ``cascade``. It writes nothing, so a dry run is the same call.
``journal_regeneration`` appends the marks in one commit on SQLite (all or nothing);
on MongoDB, one commit per style, and running the same command again marks only what
is not awaiting a new generation yet.
"""

from __future__ import annotations

import fnmatch
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from generator.prompts import PromptKind, Prompts
from generator.providers.offline.provider import OFFLINE_PROMPT_VERSIONS
from generator.replay import JournalProgress, StepKey, latest_plan, replay_journal
from generator.steps import plan_steps
from journal.events import (
    REGENERATION_TYPE,
    SLUG_PATTERN,
    PlanSpec,
    StepRegenerationRequested,
    StepRegenerationRequestedData,
)
from journal.redaction import has_unprintable, redact_secrets
from journal.store import AppendBatch, EventStore, StoredEvent, format_time
from journal.streams import style_slug, style_stream
from projector.prices import PriceTable

CallKind = Literal["content", "room", "image"]
KINDS: tuple[CallKind, ...] = ("content", "room", "image")
MAX_REASON = 500


class SelectionError(ValueError):
    """A selection that is malformed or matches nothing (one line, exit 2, nothing written)."""


@dataclass(frozen=True)
class Selection:
    """Which done steps to regenerate; every filter given must hold (AND)."""

    styles: tuple[str, ...] = ()
    #: step keys or shell-style patterns (``image:room:kitchen:*``); any may match
    steps: tuple[str, ...] = ()
    kind: CallKind | None = None
    model: str | None = None
    prompt_version: str | None = None
    run_id: str | None = None
    before: datetime | None = None
    stale_prompts: bool = False
    #: a style's content brings everything built on it along
    cascade: bool = False
    #: a room's images keep their results when the room is regenerated
    keep_images: bool = False

    @property
    def narrows(self) -> bool:
        """Tells whether any filter is given (a bare selection would redo the whole catalogue)."""
        return bool(
            self.styles
            or self.steps
            or self.kind
            or self.model
            or self.prompt_version
            or self.run_id
            or self.before
            or self.stale_prompts
        )


@dataclass(frozen=True)
class Mark:
    """One step to regenerate: the generation asked for and the result it supersedes."""

    stream: str
    step: str
    generation: int
    supersedes: str
    #: the step whose regeneration brought this one along (None: chosen directly)
    cause: str | None
    model: str | None
    prompt_version: str | None
    recorded_at: str
    run_id: str | None
    #: what redoing it costs at today's prices, estimated from what the superseded call used
    estimated_usd: float | None

    @property
    def slug(self) -> str:
        """Returns the style's sub-category slug."""
        return style_slug(self.stream) or self.stream


@dataclass
class RegenerationPlan:
    """What a regeneration would journal, and what it leaves alone."""

    marks: list[Mark] = field(default_factory=list)
    #: chosen steps already awaiting a new generation (not marked twice)
    already_awaiting: list[StepKey] = field(default_factory=list)
    #: what follows and what does not, said once per chosen step that has dependants
    notes: list[str] = field(default_factory=list)

    @property
    def estimated_usd(self) -> float | None:
        """Returns the estimated cost of redoing every mark (None if any has no price)."""
        costs = [mark.estimated_usd for mark in self.marks]
        return None if any(cost is None for cost in costs) else round(sum(c for c in costs if c), 6)

    @property
    def unpriced(self) -> int:
        """Returns how many marks have no price at today's table."""
        return sum(1 for mark in self.marks if mark.estimated_usd is None)

    def to_dict(self) -> dict[str, object]:
        """Returns the plan as JSON-ready data (``regenerate --json``)."""
        return {
            "count": len(self.marks),
            "estimated_usd": self.estimated_usd,
            "unpriced": self.unpriced,
            "steps": [
                {
                    "stream": mark.stream,
                    "step": mark.step,
                    "generation": mark.generation,
                    "supersedes": mark.supersedes,
                    "cause": mark.cause,
                    "model": mark.model,
                    "prompt_version": mark.prompt_version,
                    "estimated_usd": mark.estimated_usd,
                }
                for mark in self.marks
            ],
            "already_awaiting": [{"stream": s, "step": k} for s, k in self.already_awaiting],
            "notes": self.notes,
        }


def step_kind(step: str) -> CallKind:
    """Returns which kind of call a step key is: ``content``, ``room`` or ``image``."""
    if step == "content":
        return "content"
    return "image" if step.startswith("image:") else "room"


def prompt_kind(step: str) -> PromptKind:
    """Returns the prompt template kind a step's call is built from."""
    kind = step_kind(step)
    return "style" if kind == "content" else kind


def current_versions(prompts: Prompts) -> Callable[[str | None, str], str]:
    """Returns ``(provider, step) -> the prompt_version a call of that step would record now``."""

    def version(provider: str | None, step: str) -> str:
        kind = prompt_kind(step)
        if provider == "offline":
            return OFFLINE_PROMPT_VERSIONS[kind]
        return prompts.version(kind)

    return version


def check_reason(reason: str) -> str:
    """Returns the reason trimmed; refuses an empty, too long, unprintable or secret-bearing one."""
    text = " ".join(reason.split())
    if not text:
        raise SelectionError("--reason must say why (it is kept with every request)")
    if len(text) > MAX_REASON:
        raise SelectionError(f"--reason is {len(text)} characters; at most {MAX_REASON}")
    if has_unprintable(text):
        raise SelectionError("--reason holds control characters")
    if redact_secrets(text) != text:
        raise SelectionError(
            "--reason looks like it holds a secret (an API key or credentials); leave it out"
        )
    return text


def check_selection(selection: Selection) -> None:
    """Refuses a malformed selection before the journal is read."""
    for slug in selection.styles:
        if not re.fullmatch(SLUG_PATTERN, slug):
            raise SelectionError(f"{slug!r} is not a sub-category slug (like art-deco)")
    for pattern in selection.steps:
        if not pattern.strip() or has_unprintable(pattern):
            raise SelectionError(f"--step {pattern!r} is not a step key or pattern")
    if not selection.narrows:
        raise SelectionError(
            "say what to regenerate: a STYLE, --step, --kind, --model, --prompt-version, --run, "
            "--before or --stale-prompts (to redo everything, start a new data directory)"
        )


def plan_regeneration(
    store: EventStore,
    selection: Selection,
    *,
    plan: PlanSpec | None,
    prompts: Prompts,
    prices: PriceTable | None,
    today: str | None = None,
    progress: JournalProgress | None = None,
) -> RegenerationPlan:
    """Returns the marks a selection makes (nothing is written); raises SelectionError if it matches none."""
    check_selection(selection)
    if progress is None:
        progress = replay_journal(store, keep_events=True)
    day = today or datetime.now(UTC).strftime("%Y-%m-%d")
    planned = _planned_keys(plan)
    streams = {stream for stream, _ in progress.latest_events}
    for slug in selection.styles:
        if style_stream(slug) not in streams:
            raise SelectionError(f"style {slug!r} has no results in this journal to regenerate")
    version_now = current_versions(prompts)

    def chosen(key: StepKey, stored: StoredEvent) -> bool:
        stream, step = key
        meta = stored.event.meta
        return (
            (not selection.styles or style_slug(stream) in selection.styles)
            and (not selection.steps or any(fnmatch.fnmatchcase(step, p) for p in selection.steps))
            and (selection.kind is None or step_kind(step) == selection.kind)
            and (selection.model is None or meta.model == selection.model)
            and (selection.prompt_version is None or meta.prompt_version == selection.prompt_version)
            and (selection.run_id is None or stored.event.run_id == selection.run_id)
            and (selection.before is None or stored.recorded_at < selection.before)
            and (not selection.stale_prompts or meta.prompt_version != version_now(meta.provider, step))
        )

    result = RegenerationPlan()
    marks: dict[StepKey, Mark] = {}
    awaiting = progress.awaiting
    candidates = sorted(
        (key for key in progress.latest_events if planned is None or key in planned),
        key=lambda key: progress.latest_events[key].position,
    )
    direct = [key for key in candidates if chosen(key, progress.latest_events[key])]
    for key in direct:
        if key in awaiting:
            result.already_awaiting.append(key)
            continue
        marks[key] = _mark(progress, key, None, prices, day)
    for key in direct:
        stream, step = key
        followers = [
            other
            for other in candidates
            if other[0] == stream and other != key and _built_on(step, other[1]) and other not in awaiting
        ]
        if not followers:
            continue
        kind = step_kind(step)
        follows = (kind == "room" and not selection.keep_images) or (kind == "content" and selection.cascade)
        where = f"{style_slug(stream)} {step}"
        if follows:
            added = 0
            for other in followers:
                if other not in marks:
                    marks[other] = _mark(progress, other, step, prices, day)
                    added += 1
            if added:
                result.notes.append(f"{where}: {_describe(followers)} follow it")
        elif kind == "room":
            result.notes.append(
                f"{where}: its {_describe(followers)} keep their results (--keep-images); "
                "they depict the old text"
            )
        else:
            result.notes.append(
                f"{where}: {_describe(followers)} built on its approach and colour keep their results "
                "(add --cascade to redo them too)"
            )
    if not marks:
        if result.already_awaiting:
            raise SelectionError(
                f"every selected step ({len(result.already_awaiting)}) already awaits a new generation; "
                "run `genjournal run` to do them"
            )
        raise SelectionError("no done step matches this selection; nothing to regenerate")
    result.marks = sorted(marks.values(), key=lambda m: progress.latest_events[(m.stream, m.step)].position)
    return result


def _planned_keys(plan: PlanSpec | None) -> set[StepKey] | None:
    if plan is None:
        return None
    return {(step.stream, step.key) for step in plan_steps(plan)}


def _built_on(step: str, other: str) -> bool:
    """Tells whether ``other`` was built from ``step``'s result (same style)."""
    if step == "content":
        return other != "content"
    if step.startswith("room:"):
        return other.startswith(f"image:room:{step.removeprefix('room:')}:")
    return False


def _describe(keys: list[StepKey]) -> str:
    rooms = sum(1 for _, step in keys if step.startswith("room:"))
    images = sum(1 for _, step in keys if step.startswith("image:"))
    parts = []
    if rooms:
        parts.append(f"{rooms} room{'s' if rooms != 1 else ''}")
    if images:
        parts.append(f"{images} image{'s' if images != 1 else ''}")
    return " and ".join(parts)


def _mark(
    progress: JournalProgress, key: StepKey, cause: str | None, prices: PriceTable | None, day: str
) -> Mark:
    stored = progress.latest_events[key]
    meta = stored.event.meta
    cost = prices.meta_cost(meta.model_dump(exclude_none=True), day) if prices is not None else None
    return Mark(
        stream=key[0],
        step=key[1],
        generation=progress.generations[key] + 1,
        supersedes=stored.event.id,
        cause=cause,
        model=meta.model,
        prompt_version=meta.prompt_version,
        recorded_at=format_time(stored.recorded_at),
        run_id=stored.event.run_id,
        estimated_usd=cost,
    )


def new_request_id() -> str:
    """Returns the id grouping the requests of one regeneration call."""
    return f"regen-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"


def journal_regeneration(
    store: EventStore,
    plan: RegenerationPlan,
    *,
    reason: str,
    source: Literal["cli", "dashboard"] = "cli",
    request_id: str | None = None,
) -> str:
    """Appends one request per mark (one commit on SQLite); returns the request id."""
    text = check_reason(reason)
    request = request_id or new_request_id()
    by_stream: dict[str, list[StepRegenerationRequested]] = {}
    for mark in plan.marks:
        by_stream.setdefault(mark.stream, []).append(
            StepRegenerationRequested(
                step=mark.step,
                data=StepRegenerationRequestedData(
                    generation=mark.generation,
                    supersedes=mark.supersedes,
                    reason=text,
                    cause=mark.cause,
                    request=request,
                    source=source,
                ),
            )
        )
    outcomes = store.append_many([AppendBatch(stream, events, None) for stream, events in by_stream.items()])
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    return request


__all__ = [
    "KINDS",
    "REGENERATION_TYPE",
    "Mark",
    "RegenerationPlan",
    "Selection",
    "SelectionError",
    "check_reason",
    "check_selection",
    "current_versions",
    "journal_regeneration",
    "latest_plan",
    "plan_regeneration",
    "step_kind",
]
