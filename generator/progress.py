"""Progress on stderr: a live rich display on a terminal, one line per saved step otherwise.

Stdout is never used here: it belongs to ``--json`` output. Every line a reporter prints
is about data already durable in the journal ("saved" means journaled), like the
original admin page's "Saved!" messages.
"""

from __future__ import annotations

import sys
import time
from typing import IO, Any, Protocol

import structlog

from generator.outcome import RunReport
from generator.providers.base import ProviderError
from generator.steps import Step
from journal.events import Event, PlanSpec

log = structlog.get_logger("genjournal.run")


class Reporter(Protocol):
    """Receives a run's progress."""

    def started(
        self,
        run_id: str,
        plan: PlanSpec,
        all_steps: list[Step],
        selected: list[Step],
        done: set[tuple[str, str]],
    ) -> None:
        """Reports the run's start and how much is pending."""
        ...

    def step_saved(self, step: Step, event: Event) -> None:
        """Reports a step whose result is now journaled."""
        ...

    def step_failed(self, step: Step, error: ProviderError, attempts: int) -> None:
        """Reports a step whose failure is now journaled."""
        ...

    def finished(self, report: RunReport) -> None:
        """Reports how the run ended."""
        ...


def describe_step(step: Step, plan: PlanSpec) -> str:
    """Returns a human label such as ``Room 15/24: Kitchen (Art Deco) — image 2/3``."""
    style = f"Style {step.style_number}/{len(plan.subcategories)}: {step.subcategory.name}"
    if step.kind == "content":
        return f"{style} — content"
    if step.kind == "style_image":
        return f"{style} — image {(step.index or 0) + 1}/{plan.images_per_style}"
    assert step.room_type is not None
    room = f"Room {step.room_number}/{len(plan.room_types)}: {step.room_type.name} ({step.subcategory.name})"
    if step.kind == "room":
        return room
    return f"{room} — image {(step.index or 0) + 1}/{plan.images_per_room}"


def describe_pacing(pacing: dict[str, dict[str, Any]]) -> str:
    """Returns ``text 8 in flight at 570/min (limit 570) · image 17 in flight at 114/min, 2 × 429``."""
    parts = []
    for family, pace in pacing.items():
        rate = pace.get("rate_per_min")
        limit = pace.get("limit_per_min")
        text = family
        if "in_flight" in pace:
            text += f" {pace['in_flight']} in flight"
        text += f" at {rate:g}/min" if rate is not None else " unthrottled"
        if limit is not None and limit != rate:
            text += f" (limit {limit:g})"
        if pace.get("rate_limited"):
            text += f", {pace['rate_limited']} × 429"
        parts.append(text)
    return " · ".join(parts)


def run_outcome(data: dict[str, Any]) -> str | None:
    """Returns a RunFinished's outcome and, when recorded, what its pacing learned."""
    outcome = data.get("outcome")
    pacing = data.get("pacing")
    if not isinstance(pacing, dict) or not pacing:
        return None if outcome is None else str(outcome)
    return f"{outcome} — {describe_pacing(pacing)}"


def summary(report: RunReport) -> str:
    """Returns a run's outcome line: ``completed (failed 0, …) — message``."""
    counts = ", ".join(f"{key} {value}" for key, value in sorted(report.counts.items()))
    message = f" — {report.message}" if report.message else ""
    return f"{report.outcome} ({counts}){message}"


class _Tally:
    def __init__(self) -> None:
        self.plan: PlanSpec | None = None
        self.total = 0
        self.saved = 0
        self.failed = 0
        self.tokens = 0
        self.images = 0
        self.started_at = time.monotonic()

    def saved_event(self, event: Event) -> None:
        self.saved += 1
        meta = event.meta
        self.tokens += (meta.input_tokens or 0) + (meta.output_tokens or 0)
        self.images += 1 if event.type == "ImageGenerated" else 0


class PlainReporter:
    """Prints one line per journaled step, for logs and pipes."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tally = _Tally()

    def _print(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def started(
        self,
        run_id: str,
        plan: PlanSpec,
        all_steps: list[Step],
        selected: list[Step],
        done: set[tuple[str, str]],
    ) -> None:
        """Prints what the run will do."""
        self.tally.plan = plan
        self.tally.total = len(selected)
        planned_done = sum(1 for s in all_steps if (s.stream, s.key) in done)
        self._print(
            f"{run_id}: {len(selected)} steps to run "
            f"({planned_done}/{len(all_steps)} of the plan already journaled)"
        )

    def step_saved(self, step: Step, event: Event) -> None:
        """Prints ``… — saved``."""
        self.tally.saved_event(event)
        assert self.tally.plan is not None
        self._print(f"{describe_step(step, self.tally.plan)} — saved")

    def step_failed(self, step: Step, error: ProviderError, attempts: int) -> None:
        """Prints ``… — FAILED after N attempts: kind (HTTP s)``."""
        self.tally.failed += 1
        assert self.tally.plan is not None
        self._print(f"{describe_step(step, self.tally.plan)} — FAILED after {attempts} attempts: {error}")

    def pacing(self, pacing: dict[str, dict[str, Any]]) -> None:
        """Prints the calls in flight and the rate per family (every few seconds)."""
        self._print(f"pacing: {describe_pacing(pacing)}")

    def finished(self, report: RunReport) -> None:
        """Prints the outcome and counts."""
        self._print(f"{report.run_id}: {summary(report)}")


class JsonLogReporter(PlainReporter):
    """Logs one structured event per journaled step (``--log-json``)."""

    def _print(self, text: str) -> None:
        log.info(text)

    def step_saved(self, step: Step, event: Event) -> None:
        """Logs ``step.saved`` with the step, model and usage."""
        self.tally.saved_event(event)
        meta = event.meta.model_dump(exclude_none=True)
        log.info("step.saved", stream=step.stream, step=step.key, type=event.type, **meta)

    def pacing(self, pacing: dict[str, dict[str, Any]]) -> None:
        """Logs ``pacing`` with every family's figures."""
        log.info(
            "pacing",
            **{f"{family}_{key}": value for family, pace in pacing.items() for key, value in pace.items()},
        )

    def step_failed(self, step: Step, error: ProviderError, attempts: int) -> None:
        """Logs ``step.failed`` with the error kind and status."""
        self.tally.failed += 1
        log.warning(
            "step.failed",
            stream=step.stream,
            step=step.key,
            kind=error.kind,
            status=error.status,
            attempts=attempts,
            message=error.message,
        )


class RichReporter:
    """Shows a live progress bar with counts, spend and ETA on a terminal."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.console = Console(stderr=True)
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[info]}"),
            console=self.console,
            transient=False,
        )
        self.tally = _Tally()
        self.task: Any = None
        self._pacing = ""

    def _info(self, current: str = "") -> str:
        t = self.tally
        pacing = f"  [{self._pacing}]" if self._pacing else ""
        return f"failed {t.failed} · tokens {t.tokens:,} · images {t.images}{pacing}  {current}"

    def pacing(self, pacing: dict[str, dict[str, Any]]) -> None:
        """Shows the calls in flight and the rate per family beside the bar."""
        self._pacing = describe_pacing(pacing)
        if self.task is not None:
            self.progress.update(self.task, info=self._info())

    def started(
        self,
        run_id: str,
        plan: PlanSpec,
        all_steps: list[Step],
        selected: list[Step],
        done: set[tuple[str, str]],
    ) -> None:
        """Starts the live display."""
        self.tally.plan = plan
        self.tally.total = len(selected)
        self.console.print(f"[bold]{run_id}[/]: {len(selected)} steps to run")
        self.progress.start()
        self.task = self.progress.add_task("steps", total=len(selected), info=self._info())

    def step_saved(self, step: Step, event: Event) -> None:
        """Advances the bar."""
        self.tally.saved_event(event)
        assert self.tally.plan is not None
        self.progress.update(self.task, advance=1, info=self._info(describe_step(step, self.tally.plan)))

    def step_failed(self, step: Step, error: ProviderError, attempts: int) -> None:
        """Advances the bar and prints the failure above it."""
        self.tally.failed += 1
        assert self.tally.plan is not None
        self.progress.console.print(
            f"[red]{describe_step(step, self.tally.plan)} — FAILED after {attempts} attempts: {error}"
        )
        self.progress.update(self.task, advance=1, info=self._info())

    def finished(self, report: RunReport) -> None:
        """Stops the display and prints the outcome."""
        self.progress.stop()
        self.console.print(f"[bold]{report.run_id}[/]: {summary(report)}")


def make_reporter(*, log_json: bool, stream: IO[str] | None = None) -> Reporter:
    """Picks the reporter: JSON logs, a live display on a terminal, or plain lines."""
    if log_json:
        return JsonLogReporter(stream)
    target = stream or sys.stderr
    if stream is None and target.isatty():
        return RichReporter()
    return PlainReporter(target)
