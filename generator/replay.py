"""Replay: what the journal says is done, and the work still pending.

Resume is not a mode: every run (live or otherwise) starts here. ``replay_journal``
decodes every event — so a corrupt or future-version event stops the run before any
call — and collects the ``(stream, step)`` pairs that have a success event and those
that only failed; ``select_steps`` turns a plan and that progress into the steps a run
will attempt, ``pending = plan − done``, in priority order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from generator.steps import Step, limit_styles, pending_steps, plan_steps
from journal.events import FAILURE_TYPES, PlanSpec
from journal.store import EventStore

StepKey = tuple[str, str]


@dataclass
class JournalProgress:
    """The steps with a success event, and those whose every attempt so far failed."""

    done: set[StepKey] = field(default_factory=set)
    failed: set[StepKey] = field(default_factory=set)


def replay_journal(store: EventStore, *, page_size: int = 5000) -> JournalProgress:
    """Decodes the whole journal; returns which (stream, step) pairs are done and which only failed."""
    progress = JournalProgress()
    for stored in store.iter_all(page_size=page_size):
        step = stored.step
        if step is None:
            continue
        if stored.event.is_success:
            progress.done.add((stored.stream, step))
        elif stored.type in FAILURE_TYPES:
            progress.failed.add((stored.stream, step))
    progress.failed -= progress.done
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
    return steps
