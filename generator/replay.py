"""Replay: what the journal says is done, and the work still pending.

Resume is not a mode: every run (live or otherwise) starts here. ``replay_journal``
decodes every event — so a corrupt or future-version event stops the run before any
call — and collects, per ``(stream, step)``, the newest generation with a success
event, the newest generation a regeneration request asked for, and the steps whose
wanted generation has so far only failed; ``select_steps`` turns a plan and that
progress into the steps a run will attempt, ``pending = plan − done``, in priority
order, each carrying the generation its success will be.

A step is *done* when its newest requested generation (1 if none was requested) has a
success event. ``genjournal regenerate`` journals ``StepRegenerationRequested`` for the
next generation, which makes the step pending again; nothing is ever overwritten.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from generator.steps import Step, limit_styles, pending_steps, plan_steps
from journal.events import FAILURE_TYPES, REGENERATION_TYPE, PlanSpec, generation_of
from journal.store import EventStore, StoredEvent

StepKey = tuple[str, str]


@dataclass
class JournalProgress:
    """Per step: the newest generation done, the newest asked for, and what only failed."""

    #: steps whose wanted generation has a success event (nothing left to do)
    done: set[StepKey] = field(default_factory=set)
    #: steps whose wanted generation has failure events and no success yet
    failed: set[StepKey] = field(default_factory=set)
    #: the newest generation with a success event, per step
    generations: dict[StepKey, int] = field(default_factory=dict)
    #: the id of that newest success event, per step (what a regeneration supersedes)
    latest: dict[StepKey, str] = field(default_factory=dict)
    #: the newest generation a regeneration request asked for, per step
    requested: dict[StepKey, int] = field(default_factory=dict)
    #: the newest success event itself, per step (kept only when asked: curation filters on it)
    latest_events: dict[StepKey, StoredEvent] = field(default_factory=dict)

    def wanted(self, key: StepKey) -> int:
        """Returns the generation a step's next success must be (or its newest, when done)."""
        return max(self.requested.get(key, 1), self.generations.get(key, 0) + (key not in self.done))

    @property
    def awaiting(self) -> dict[StepKey, int]:
        """Returns the steps a regeneration request made pending again, with the generation asked."""
        return {key: gen for key, gen in self.requested.items() if gen > self.generations.get(key, 0)}


def replay_journal(store: EventStore, *, page_size: int = 5000, keep_events: bool = False) -> JournalProgress:
    """Decodes the whole journal; returns each step's generations done and asked for."""
    progress = JournalProgress()
    failed_generation: dict[StepKey, int] = {}
    for stored in store.iter_all(page_size=page_size):
        step = stored.step
        if step is None:
            continue
        key = (stored.stream, step)
        event = stored.event
        if event.is_success:
            generation = generation_of(event)
            if generation >= progress.generations.get(key, 0):
                progress.generations[key] = generation
                progress.latest[key] = event.id
                if keep_events:
                    progress.latest_events[key] = stored
        elif stored.type == REGENERATION_TYPE:
            progress.requested[key] = max(progress.requested.get(key, 1), generation_of(event))
        elif stored.type in FAILURE_TYPES:
            failed_generation[key] = max(failed_generation.get(key, 0), generation_of(event))
    for key, generation in progress.generations.items():
        if generation >= progress.requested.get(key, 1):
            progress.done.add(key)
    progress.failed = {
        key
        for key, generation in failed_generation.items()
        if key not in progress.done and generation >= progress.requested.get(key, 1)
    }
    return progress


def select_steps(
    plan: PlanSpec,
    progress: JournalProgress,
    *,
    subcategories: Iterable[str] | None = None,
    only_failed: bool = False,
    limit: int | None = None,
) -> list[Step]:
    """Returns the pending steps a run attempts (``--subcategory``, ``--only-failed``, ``--limit``)."""
    steps = pending_steps(plan_steps(plan, subcategories), progress.done)
    if only_failed:
        steps = [step for step in steps if (step.stream, step.key) in progress.failed]
    if limit is not None:
        steps = limit_styles(steps, limit)
    return [
        replace(step, generation=wanted)
        if (wanted := progress.wanted((step.stream, step.key))) != 1
        else step
        for step in steps
    ]


def recorded_plans(store: EventStore, *, limit: int | None = None) -> list[PlanSpec]:
    """Returns the distinct plans recorded by ``RunStarted`` events, newest first."""
    plans: list[PlanSpec] = []
    for stored in store.query(types=["RunStarted"], newest_first=True, limit=limit):
        plan = getattr(stored.event.data, "plan", None)
        if isinstance(plan, PlanSpec) and plan not in plans:
            plans.append(plan)
    return plans


def latest_plan(store: EventStore) -> PlanSpec | None:
    """Returns the plan recorded by the newest ``RunStarted`` (what the next run measures against)."""
    newest = recorded_plans(store, limit=1)
    return newest[0] if newest else None
