"""Batches inside runs: ``run --batch`` (waves through the Batch API) and a live run's reconciliation.

``BatchRunner`` is a ``Runner`` whose scheduling submits waves instead of calling the
provider: every wave starts by syncing with the account (adopt, collect), then submits
the pending steps whose dependencies are journaled and that are in no open batch, then
polls until its batches are through (or returns at once with ``--detach``). A stop
(SIGINT/SIGTERM) leaves the submitted batches running and journaled.

A live run with the OpenAI provider first does the same sync (``reconcile_live``):
finished batches are collected, and the steps in open batches are left to them.

The account is listed for unknown batches only when the journal has run in batch mode
before (a ``RunStarted`` whose settings say ``batch``; it is journaled before any
upload), so a journal that never used batches sends no extra request.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import TYPE_CHECKING, Any

import structlog

from generator.batch import BatchDesk, BatchTally, say_on_stderr
from generator.outcome import EXIT_OK, RunReport
from generator.providers.base import ProviderError
from generator.runner import Runner
from generator.steps import Step
from journal.events import Event
from journal.store import EventStore
from journal.streams import BATCH_PREFIX

if TYPE_CHECKING:
    from generator.providers.openai.provider import OpenAIProvider

log = structlog.get_logger("genjournal.batch")


def used_batches(store: EventStore) -> bool:
    """Tells whether the journal ever ran in batch mode or recorded a batch."""
    if store.query(stream_prefix=BATCH_PREFIX, limit=1):
        return True
    return any(bool(e.data.settings.get("batch")) for e in store.query(types=["RunStarted"]))


def desk_for(runner: Runner) -> BatchDesk | None:
    """Returns the batch desk of a run whose provider can use the Batch API (None otherwise)."""
    from generator.providers.openai.provider import OpenAIProvider

    provider = runner.provider
    if not isinstance(provider, OpenAIProvider):
        return None
    desk = BatchDesk(
        provider=provider,
        store=runner.store,
        blobs=runner.blobs,
        plan=runner.plan.spec,
        run_id=runner.run_id,
        call=runner._in_writer,
        append=runner._append,
        say=say_on_stderr,
    )

    def counted(step: Step, event: Event, ok: bool) -> None:
        runner._counts["succeeded" if ok else "failed"] += 1
        if ok:
            runner.reporter.step_saved(step, event)
        if runner.budget is not None:
            runner.budget.settle(step, event.meta)

    desk.on_result = counted
    return desk


async def reconcile_live(
    runner: Runner, selected: list[Step], done: set[tuple[str, str]]
) -> tuple[list[Step], set[tuple[str, str]]]:
    """Collects this journal's finished batches and leaves the steps in open ones out of a live run."""
    desk = desk_for(runner)
    if desk is None:
        return selected, done
    try:
        await desk.sync(adopt=await runner._in_writer(used_batches, runner.store))
    except ProviderError as exc:
        log.warning("could not check this journal's batches", error=str(exc))
    if not desk.records:
        return selected, done
    progress = await runner._in_writer(runner.replay)
    open_keys = desk.open_keys()
    fresh = runner.select(progress)
    kept = [step for step in fresh if (step.stream, step.key) not in open_keys]
    left = len(fresh) - len(kept)
    if left:
        ids = ", ".join(record.batch_id for record in desk.open_records())
        say_on_stderr(
            f"{left} steps are in open batches ({ids}); this run leaves them to those batches "
            "(`genjournal batches` collects them when they finish)"
        )
        runner._counts["in_batches"] = left
    return kept, progress.done


class LiveRunner(Runner):
    """A live run of the OpenAI provider: it collects finished batches first and leaves open ones' steps."""

    async def _reconcile(
        self, selected: list[Step], done: set[tuple[str, str]]
    ) -> tuple[list[Step], set[tuple[str, str]]]:
        return await reconcile_live(self, selected, done)


class BatchRunner(Runner):
    """A run whose steps go through the Batch API, wave by wave."""

    def __init__(self, *args: Any, detach: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.detach = detach
        self.desk: BatchDesk | None = None
        self._detached_open = 0

    async def _reconcile(
        self, selected: list[Step], done: set[tuple[str, str]]
    ) -> tuple[list[Step], set[tuple[str, str]]]:
        return selected, done  # the wave loop syncs before every wave

    async def _schedule(self, selected: list[Step], done: set[tuple[str, str]]) -> None:
        desk = desk_for(self)
        assert desk is not None, "run --batch needs the OpenAI provider"
        self.desk = desk
        submitted: Counter[tuple[str, str]] = Counter()
        tally = BatchTally()
        try:
            while not self.stop.is_set():
                synced = await desk.sync(adopt=True)
                tally.adopted += synced.adopted
                if self.stop.is_set():
                    break
                progress = await self._in_writer(self.replay)
                open_keys = desk.open_keys()
                ready = [
                    step
                    for step in self.select(progress)
                    if (step.stream, step.key) not in open_keys
                    and submitted[(step.stream, step.key)] < self.options.max_attempts
                    and all((step.stream, need) in progress.done for need in step.needs)
                ]
                ready = self._admitted(ready)
                if ready:
                    await desk.submit(ready, estimate=self._estimate)
                    submitted.update((step.stream, step.key) for step in ready)
                elif not desk.open_records():
                    break
                if self.detach:
                    break
                await desk.wait(self.stop, tally)
        except ProviderError as exc:
            if exc.fatal:
                self.request_stop("aborted", f"the Batch API refused: {exc}", exit_code=2)
            else:
                self.request_stop("aborted", f"the Batch API failed: {exc}; run again to resume")
        open_records = desk.open_records()
        if open_records:
            steps = sum(len(record.submitted.steps) for record in open_records)
            note = (
                f"{len(open_records)} batches ({steps} steps) left running and journaled; "
                "`genjournal run --batch` or `genjournal batches` collects them"
            )
            self._detached_open = len(open_records)
            if self.stop.is_set() and self.stop_reason is not None:
                self.stop_message = f"{self.stop_message}; {note}" if self.stop_message else note
            elif self.detach:
                self.request_stop("interrupted", f"detached: {note}")
            say_on_stderr(note)
        progress = await self._in_writer(self.replay)
        left = [step for step in self.select(progress) if (step.stream, step.key) not in desk.open_keys()]
        failed = set(progress.failed)
        # A line that failed and then succeeded in a later wave is done: the run's failures
        # are the steps still failed at its end (the failure events stay as the audit record).
        self._counts["failed_lines"] = self._counts["failed"]
        self._counts["failed"] = sum(1 for step in left if (step.stream, step.key) in failed)
        self._counts["blocked"] += sum(1 for step in left if (step.stream, step.key) not in failed)
        self._counts["in_batches"] = sum(len(r.submitted.steps) for r in open_records)
        for kind, count in sorted(desk.api_calls.items()):
            self._counts[f"batch_{kind}s"] = count

    def _admitted(self, ready: list[Step]) -> list[Step]:
        if self.budget is None:
            return ready
        admitted = []
        for step in ready:
            if not self.budget.admit(step):
                self.request_stop("budget", "the budget would be exceeded by the next batch")
                break
            admitted.append(step)
        return admitted

    def _estimate(self, step: Step) -> float | None:
        if self.budget is None:
            return None
        from projector.prices import BATCH_PRICE_FACTOR

        estimate = getattr(self.budget, "estimate", None)
        return None if estimate is None else float(estimate(step)) * BATCH_PRICE_FACTOR

    async def _finish(self, started: float, selected: list[Step]) -> RunReport:
        report = await super()._finish(started, selected)
        if (
            self.detach
            and self.stop_reason == "interrupted"
            and (self.stop_message or "").startswith("detached")
        ):
            report.exit_code = EXIT_OK  # asked for: the batches run on and are journaled
        return report


async def sync_batches(
    *,
    provider: OpenAIProvider,
    store: EventStore,
    blobs: Any,
    plan: Any,
    run_id: str,
    cancel: bool,
) -> tuple[BatchDesk, BatchTally, list[str]]:
    """``genjournal batches``: adopt, collect the finished, optionally cancel the open ones."""
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="genjournal-batches")
    loop = asyncio.get_running_loop()

    async def call(func: Any, *args: Any) -> Any:
        return await loop.run_in_executor(pool, func, *args)

    async def append(stream: str, event: Event) -> None:
        await call(lambda: store.append(stream, [event]))

    try:
        desk = BatchDesk(
            provider=provider, store=store, blobs=blobs, plan=plan, run_id=run_id, call=call, append=append
        )
        tally = await desk.sync(adopt=True)
        cancelled: list[str] = []
        if cancel and desk.open_records():
            cancelled = await desk.cancel_open()
            # Cancelling ends within minutes on the API (at once on a test server): collect what ran.
            stop = asyncio.Event()
            loop.call_later(30.0, stop.set)
            await desk.wait(stop, tally)
        return desk, tally, cancelled
    finally:
        pool.shutdown(wait=True)
