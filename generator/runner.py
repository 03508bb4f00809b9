"""Runner: one generator run, from replaying the journal to ``RunFinished``.

A run (1) replays the journal — decoding every event, so a corrupt or future-version
event stops it before any call — to find the steps done, (2) selects the pending steps
(``--subcategory``, ``--limit``, ``--only-failed``), (3) records ``RunStarted`` with the
plan, (4) runs the steps with bounded concurrency, highest priority first, each one's
dependants released the moment its result is journaled, and (5) records
``RunFinished``.

The order inside a step is the crash-safety argument: the provider's answer → (image
bytes written, fsynced, renamed, directory fsynced) → the success event appended and
durable → only then are dependants released and the step counted. A crash at any point
loses at most the steps in flight; the next run finds them pending.

Two threads touch the journal. Appends go through the group writer's thread
(``generator.writer``): it commits whatever was queued meanwhile as one durable group,
in the order the run queued it. Everything else — the replay, catching the projection
up a few times a second (so ``status``/``export`` are current during a run), renewing
the lease — runs on one more thread, so the event loop never blocks on the store.
Image files are written by a small pool of their own (``IO_THREADS``).
"""

from __future__ import annotations

import asyncio
import heapq
import os
import socket
import time
import uuid
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

import structlog

from generator import __version__
from generator.concurrency import DEFAULT_MAX, AdaptiveConcurrency
from generator.outcome import EXIT_FAILED, EXIT_USAGE, RunReport, decide_outcome
from generator.plan import LoadedPlan
from generator.progress import Reporter
from generator.providers.base import (
    CallInfo,
    ImageRequest,
    ImageResult,
    Provider,
    ProviderError,
    RoomRequest,
    RoomResult,
    StyleRequest,
    StyleResult,
)
from generator.ratelimit import RateLimiter, link, pace_of
from generator.replay import JournalProgress, replay_journal, select_steps
from generator.results import failure_event, step_meta, success_event
from generator.retry import (
    AttemptLog,
    FatalProviderError,
    RetryPolicy,
    StepFailed,
    Stopped,
    StopRequested,
    call_with_retries,
    unless_stopped,
)
from generator.steps import Step, plan_steps
from generator.writer import GroupWriter
from journal.blobs import BlobStore
from journal.errors import DuplicateStepError, StoreError, StoreFullError
from journal.events import (
    Event,
    Meta,
    RunFinished,
    RunFinishedData,
    RunOutcome,
    RunStarted,
    RunStartedData,
    StepStarted,
    StepStartedData,
)
from journal.failpoints import failpoint
from journal.store import EventStore, LeaseHolder
from journal.streams import run_stream
from projector.projector import Projector

log = structlog.get_logger("genjournal.run")
T = TypeVar("T")

PROJECTION_INTERVAL_S = 0.25
#: results journaled concurrently while the call slots move on (they take milliseconds)
PERSIST_BACKLOG = 16
#: failures that say the server or the network is struggling (the slot count backs off)
TRANSPORT_KINDS = frozenset({"timeout", "server_error", "connection"})
#: threads writing image files; fsyncs overlap well up to a few, more only fight over the GIL
IO_THREADS = 4
#: how often the progress display shows calls in flight and the rate per family (seconds)
PACING_REPORT_S = 15.0
#: calls in flight with the offline provider (no limits: bound by this machine's cores)
OFFLINE_CONCURRENCY = 4
HEARTBEAT_INTERVAL_S = 10.0


class SpendGuard(Protocol):
    """Decides whether another paid call fits the budget (see generator.budget)."""

    def admit(self, step: Step) -> bool:
        """Reserves the estimated cost of a call; False when it would exceed the budget."""
        ...

    def settle(self, step: Step, meta: Meta | None) -> None:
        """Replaces the step's reservation by what it actually cost (None: released)."""
        ...


@dataclass
class RunOptions:
    """What the user asked of this run."""

    subcategories: list[str] | None = None
    limit: int | None = None
    only_failed: bool = False
    #: a hard cap on calls in flight per family (``--concurrency``); None: adaptive
    concurrency: int | None = None
    #: the safety cap of the adaptive limit (``--max-concurrency``)
    max_concurrency: int = DEFAULT_MAX
    max_attempts: int = 4
    grace_s: float = 10.0
    settings: dict[str, Any] = field(default_factory=dict)


def new_run_id() -> str:
    """Returns a fresh run id that sorts by start time."""
    return f"run-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:6]}"


class Runner:
    """Runs the pending steps of a plan against a provider, journaling every result."""

    def __init__(
        self,
        *,
        store: EventStore,
        projector: Projector,
        blobs: BlobStore,
        provider: Provider,
        plan: LoadedPlan,
        options: RunOptions,
        reporter: Reporter,
        limiters: dict[str, RateLimiter] | None = None,
        budget: SpendGuard | None = None,
        run_id: str | None = None,
    ) -> None:
        self.store = store
        self.projector = projector
        self.blobs = blobs
        self.provider = provider
        self.plan = plan
        self.options = options
        self.reporter = reporter
        self.limiters = limiters or {"text": RateLimiter("text"), "image": RateLimiter("image")}
        if limiters is None:
            link(self.limiters["text"], self.limiters["image"])
        #: the calls in flight per family follow its rate limit (Little's law), up to a cap;
        #: the offline provider has no limits and is bound by this machine's cores
        cap = options.concurrency or (options.max_concurrency if provider.billable else OFFLINE_CONCURRENCY)
        self.gates = {kind: AdaptiveConcurrency(limiter, cap=cap) for kind, limiter in self.limiters.items()}
        self._workers = cap * (2 if options.concurrency is None and provider.billable else 1)
        self.budget = budget
        self.run_id = run_id or new_run_id()
        self.policy = RetryPolicy(max_attempts=options.max_attempts)
        self.stop = asyncio.Event()
        self.stop_reason: RunOutcome | None = None
        self.stop_message: str | None = None
        self.stop_exit_code: int | None = None
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="genjournal-writer")
        self._group = GroupWriter(store)
        self._io = ThreadPoolExecutor(max_workers=IO_THREADS, thread_name_prefix="genjournal-io")
        self._projection_dirty = False
        self._counts = {"succeeded": 0, "failed": 0, "blocked": 0, "interrupted": 0}
        #: call kinds (text, image) a family-scoped refusal stopped, with why
        self._refused_kinds: dict[str, str] = {}
        self._results: dict[tuple[str, str], Any] = {}
        self._lease: LeaseHolder | None = None

    # --- plumbing --------------------------------------------------------------------

    async def _in_writer(self, func: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._writer, func, *args)

    async def _append(self, stream: str, event: Event) -> None:
        await self._group.append(stream, event)
        failpoint("append-after-commit")
        self._projection_dirty = True

    def request_stop(
        self, outcome: RunOutcome = "interrupted", message: str | None = None, *, exit_code: int | None = None
    ) -> None:
        """Stops scheduling new steps; in-flight ones get the grace period to finish."""
        if self.stop_reason is None:
            self.stop_reason = outcome
            self.stop_message = message
            self.stop_exit_code = exit_code
        self.stop.set()

    # --- replay and selection --------------------------------------------------------

    def replay(self) -> JournalProgress:
        """Decodes the whole journal; returns which steps are done and which failed."""
        return replay_journal(self.store)

    def select(self, progress: JournalProgress) -> list[Step]:
        """Returns the pending steps this run will attempt, in priority order."""
        return select_steps(
            self.plan.spec,
            progress,
            subcategories=self.options.subcategories,
            only_failed=self.options.only_failed,
            limit=self.options.limit,
        )

    # --- the run ---------------------------------------------------------------------

    async def run(self, lease: LeaseHolder) -> RunReport:
        """Runs the whole thing; never raises for a step's failure, only for the journal's."""
        self._lease = lease
        started = time.monotonic()
        self._group.start()
        progress = await self._in_writer(self.replay)
        done = progress.done
        removed = await self._in_writer(self.blobs.remove_temp_files)
        if removed:
            log.info("removed temp files of interrupted image writes", count=removed)
        await self._in_writer(self.projector.catch_up)
        all_steps = plan_steps(self.plan.spec)
        selected = self.select(progress)
        await self._append(
            run_stream(self.run_id),
            RunStarted(
                run_id=self.run_id,
                data=RunStartedData(
                    plan=self.plan.spec,
                    plan_hash=self.plan.plan_hash,
                    plan_source=self.plan.source,
                    provider=self.provider.name,
                    text_model=self.provider.text_model,
                    image_model=self.provider.image_model,
                    settings=self.options.settings,
                    code_version=__version__,
                    host=socket.gethostname(),
                    pid=os.getpid(),
                    steps_planned=len(all_steps),
                    steps_pending=len(selected),
                ),
            ),
        )
        self.reporter.started(self.run_id, self.plan.spec, all_steps, selected, done)
        tasks = [
            asyncio.create_task(self._projection_loop(), name="projection"),
            asyncio.create_task(self._heartbeat_loop(), name="heartbeat"),
        ]
        shows_pacing = getattr(self.reporter, "pacing", None)
        if self.provider.billable and shows_pacing is not None:
            tasks.append(asyncio.create_task(self._pacing_loop(shows_pacing), name="pacing"))
        try:
            selected_now, done_now = await self._reconcile(selected, done)
            await self._schedule(selected_now, done_now)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        return await self._finish(started, selected)

    def pacing(self) -> dict[str, dict[str, Any]]:
        """Returns what the pacing learned and did, per call family (for RunFinished and progress)."""
        out: dict[str, dict[str, Any]] = {}
        shared: RateLimiter | None = None
        for kind, limiter in self.limiters.items():
            gate = self.gates[kind]
            out[kind] = {
                **pace_of(limiter),
                "in_flight": gate.in_flight,
                "peak_in_flight": gate.stats.peak_in_flight,
                "slots": gate.limit,
            }
            shared = shared or limiter.shared
        if shared is not None:
            out["shared"] = pace_of(shared)
        return out

    async def _finish(self, started: float, selected: list[Step]) -> RunReport:
        counts = dict(self._counts)
        counts["selected"] = len(selected)
        counts["pending"] = len(selected) - counts["succeeded"]
        if self._refused_kinds and self.stop_message is None:
            self.stop_message = "; ".join(self._refused_kinds.values())
        outcome, exit_code = decide_outcome(self.stop_reason, self.stop_exit_code, counts)
        report = RunReport(self.run_id, outcome, counts, exit_code, self.stop_message)
        try:
            await self._append(
                run_stream(self.run_id),
                RunFinished(
                    run_id=self.run_id,
                    data=RunFinishedData(
                        outcome=outcome,
                        counts=counts,
                        duration_ms=int((time.monotonic() - started) * 1000),
                        message=self.stop_message,
                        pacing=self.pacing(),
                    ),
                ),
            )
        except StoreError as exc:
            report.recorded = False
            report.message = f"{report.message or outcome}; RunFinished not recorded: {exc}"
            report.exit_code = report.exit_code or EXIT_FAILED
        else:
            # The journal is complete; the read model is derived and can be caught up later
            # (every read command and the next run do), so a failure here is only a note.
            try:
                await self._in_writer(self.projector.catch_up)
            except (StoreError, OSError) as exc:
                note = f"the projection was not caught up ({exc}); `genjournal rebuild` brings it up to date"
                report.message = f"{report.message}; {note}" if report.message else note
        self.reporter.finished(report)
        return report

    async def aclose(self) -> None:
        """Waits for queued writes and shuts the worker threads down."""
        await asyncio.get_running_loop().run_in_executor(None, self._group.close)
        self._writer.shutdown(wait=True)
        self._io.shutdown(wait=True)

    async def _projection_loop(self) -> None:
        while True:
            await asyncio.sleep(PROJECTION_INTERVAL_S)
            if self._projection_dirty:
                self._projection_dirty = False
                try:
                    await self._in_writer(self.projector.catch_up)
                except Exception as exc:  # the journal is fine; the read model can wait
                    log.warning("projection catch-up failed", error=f"{type(exc).__name__}: {exc}")

    async def _pacing_loop(self, show: Callable[[dict[str, dict[str, Any]]], None]) -> None:
        while True:
            await asyncio.sleep(PACING_REPORT_S)
            show(self.pacing())

    async def _heartbeat_loop(self) -> None:
        assert self._lease is not None
        while True:
            await asyncio.sleep(HEARTBEAT_INTERVAL_S)
            try:
                still_ours = await self._in_writer(self.store.renew_lease, self._lease)
            except StoreError as exc:
                log.warning("lease heartbeat failed", error=str(exc))
                continue
            if not still_ours:
                self.request_stop("aborted", "another run took over the journal lease")

    async def _reconcile(
        self, selected: list[Step], done: set[tuple[str, str]]
    ) -> tuple[list[Step], set[tuple[str, str]]]:
        """Returns the steps to run and those done, once the journal's other work is accounted for.

        A hook: a plain run has nothing else in flight. A run on a journal that may have
        Batch API batches (``generator.batch_run.LiveRunner``) collects the finished ones
        first and leaves the steps of open ones to them.
        """
        return selected, done

    # --- scheduling ------------------------------------------------------------------

    async def _schedule(self, selected: list[Step], done: set[tuple[str, str]]) -> None:
        pending_keys = {(step.stream, step.key) for step in selected}
        ready: list[Step] = []
        waiting: dict[tuple[str, str], list[Step]] = {}
        #: steps journaled by this run (their dependants may go)
        done_now: set[tuple[str, str]] = set()

        def place(step: Step) -> None:
            # Ready once every step it is built from is done; else it waits for the first
            # one still pending in this run; one neither done nor pending blocks it.
            for need in step.needs:
                key = (step.stream, need)
                if key in done_now or (key in done and key not in pending_keys):
                    continue
                if key in pending_keys:
                    waiting.setdefault(key, []).append(step)
                else:
                    self._counts["blocked"] += 1
                return
            heapq.heappush(ready, step)

        for step in selected:
            place(step)
        await self._load_dependencies(selected, done)
        wake = asyncio.Condition()
        in_flight = 0

        def release(step: Step, ok: bool) -> None:
            dependants = waiting.pop((step.stream, step.key), [])
            if ok:
                done_now.add((step.stream, step.key))
                for child in dependants:
                    place(child)
            else:
                stack = dependants
                while stack:
                    child = stack.pop()
                    self._counts["blocked"] += 1
                    stack.extend(waiting.pop((child.stream, child.key), []))

        persisting: set[asyncio.Task[None]] = set()  # results being journaled

        async def settle(step: Step, ok: bool) -> None:
            nonlocal in_flight
            async with wake:
                in_flight -= 1
                release(step, ok)
                wake.notify_all()

        async def persist_then_settle(step: Step, persist: Coroutine[Any, Any, bool]) -> None:
            ok = False
            try:
                ok = await persist
            finally:
                await settle(step, ok)

        async def worker() -> None:
            nonlocal in_flight
            while True:
                async with wake:
                    while not self.stop.is_set() and not ready and in_flight:
                        await wake.wait()
                    if self.stop.is_set() or not ready:
                        wake.notify_all()
                        return
                    step = heapq.heappop(ready)
                    in_flight += 1
                try:
                    outcome = await self._run_step(step)
                except BaseException:
                    await settle(step, False)
                    raise
                if isinstance(outcome, bool):
                    await settle(step, outcome)
                    continue
                # The provider answered: journaling the result no longer needs this call
                # slot. It runs as its own task (never cancelled, so a paid result is not
                # dropped by a stop), and the slot takes the next call. Dependants are
                # released only once the result is durable.
                task: asyncio.Task[None] = asyncio.create_task(persist_then_settle(step, outcome))
                persisting.add(task)
                task.add_done_callback(persisting.discard)
                while len(persisting) > PERSIST_BACKLOG:
                    await asyncio.wait(set(persisting), return_when=asyncio.FIRST_COMPLETED)

        workers = [asyncio.create_task(worker(), name=f"worker-{i}") for i in range(self._workers)]
        stop_wait: asyncio.Future[Any] = asyncio.ensure_future(self.stop.wait())
        all_done: asyncio.Future[list[Any]] = asyncio.gather(*workers, return_exceptions=True)
        await asyncio.wait([all_done, stop_wait], return_when=asyncio.FIRST_COMPLETED)
        if self.stop.is_set() and not all_done.done():
            async with wake:
                wake.notify_all()
            await asyncio.wait([all_done], timeout=self.options.grace_s)
            if not all_done.done():
                for task in workers:
                    task.cancel()
        results = await all_done
        stop_wait.cancel()
        while persisting:
            await asyncio.gather(*persisting, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                raise result
        not_started = len(ready) + sum(len(v) for v in waiting.values())
        self._counts["interrupted"] = not_started if self.stop.is_set() else 0

    async def _load_dependencies(self, steps: list[Step], done: set[tuple[str, str]]) -> None:
        # A step needs its style's content, and a room image its room, whichever
        # earlier run produced them.
        needed: set[tuple[str, str]] = set()
        for step in steps:
            if step.kind != "content":
                needed.add((step.stream, "content"))
            if step.kind == "room_image":
                assert step.room_type is not None
                needed.add((step.stream, f"room:{step.room_type.slug}"))
        needed &= done

        def load() -> dict[tuple[str, str], Any]:
            found: dict[tuple[str, str], Any] = {}
            for stream, key in needed:
                assert key is not None
                stored = self.store.find_success(stream, key)
                if stored is not None:
                    found[(stream, key)] = stored.data
            return found

        self._results.update(await self._in_writer(load))

    # --- one step --------------------------------------------------------------------

    async def _run_step(self, step: Step) -> bool | Coroutine[Any, Any, bool]:
        """Calls the provider for a step; returns how it settled, or the coroutine journaling its result."""
        meta: Meta | None = None
        if step.call_kind in self._refused_kinds:
            self._counts["blocked"] += 1
            return False
        gate = self.gates[step.call_kind]
        try:
            taken_at = await unless_stopped(gate.acquire(), self.stop)
        except StopRequested:
            return False
        # Reserved once the step has a call slot: many steps wait for slots, and holding a
        # reservation for each would stop a budgeted run long before its cap.
        if self.budget is not None and not self.budget.admit(step):
            gate.release(taken_at, ok=False)
            self.request_stop("budget", "the budget would be exceeded by the next call")
            return False
        latency_s: float | None = None
        transport_error = False
        try:
            failpoint("step-before-call")
            announced = False

            async def attempt() -> StyleResult | RoomResult | ImageResult:
                # StepStarted goes out once the rate limiter let the call go: money at risk.
                nonlocal announced
                if self.provider.billable and not announced:
                    announced = True
                    await self._append(
                        run_stream(self.run_id),
                        StepStarted(
                            run_id=self.run_id,
                            data=StepStartedData(
                                stream=step.stream,
                                step=step.key,
                                kind=step.call_kind,
                                generation=step.generation,
                            ),
                        ),
                    )
                return await self._call(step)

            result, attempts = await call_with_retries(
                step.call_kind,
                attempt,
                policy=self.policy,
                limiter=self.limiters[step.call_kind],
                stop=self.stop,
            )
            latency_s = result.call.latency_ms / 1000
        except StepFailed as failure:
            transport_error = failure.error.kind in TRANSPORT_KINDS
            meta = self._meta(step, None, failure.log)
            try:
                await self._append(step.stream, self._failure_event(step, failure.error, meta))
            except StoreError as exc:
                self.request_stop("aborted", f"the journal failed: {exc}")
                return self._settled(step, meta, False)
            self._counts["failed"] += 1
            self.reporter.step_failed(step, failure.error, failure.log.attempts)
            return self._settled(step, meta, False)
        except FatalProviderError as fatal:
            if fatal.error.family_only:
                # Only this kind of call is refused (e.g. an image model the organization
                # is not verified for): its steps stop, the others go on.
                self._refused_kinds.setdefault(step.call_kind, self._fatal_message(step, fatal.error))
                self._counts["blocked"] += 1
                log.warning("stopping every call of this kind", kind=step.call_kind, error=str(fatal.error))
            else:
                self.request_stop("aborted", self._fatal_message(step, fatal.error), exit_code=EXIT_USAGE)
            return self._settled(step, None, False)
        except Stopped:
            return self._settled(step, None, False)
        except StoreError as exc:
            self.request_stop("aborted", f"the journal failed: {exc}")
            return self._settled(step, None, False)
        except BaseException:
            self._settled(step, None, False)
            raise
        finally:
            ok = latency_s is not None
            gate.release(taken_at, latency_s=latency_s, ok=ok, transport_error=transport_error)
        return self._persist(step, result, attempts)

    def _fatal_message(self, step: Step, error: ProviderError) -> str:
        """Says why a fatal refusal stopped the run (or its kind of call), and what to do."""
        model = self.provider.image_model if step.call_kind == "image" else self.provider.text_model
        if error.kind == "auth":
            return f"the provider refused our credentials: {error}"
        if error.kind == "quota":
            return f"the account has no credit left; add credit, then run again to resume: {error}"
        if error.kind == "billing":
            return f"billing stopped the run (check the account's billing and limits): {error}"
        if error.kind == "settings":
            return (
                f"the API refuses this run's settings for {model} (check --text-model, --image-model, "
                f"--image-size, --image-quality): {error}"
            )
        return f"{step.call_kind} steps stopped: {model} is not available to this organization: {error}"

    def _settled(self, step: Step, meta: Meta | None, ok: bool) -> bool:
        if self.budget is not None:
            self.budget.settle(step, meta)
        return ok

    async def _persist(
        self, step: Step, result: StyleResult | RoomResult | ImageResult, attempts: AttemptLog
    ) -> bool:
        """Journals a step's result: image bytes first (durable), then its success event."""
        meta: Meta | None = None
        try:
            failpoint("provider-after-response")
            event = await self._success_event(step, result, attempts)
            meta = event.meta
            data = event.data
            try:
                await self._append(step.stream, event)
            except DuplicateStepError as duplicate:
                # Another writer recorded this step first (possible only around a lease
                # takeover): its result is the one dependants must build on.
                log.warning("step already recorded by another writer", stream=step.stream, step=step.key)
                if duplicate.existing is not None:
                    data = duplicate.existing.data
            self._results[(step.stream, step.key)] = data
            self._counts["succeeded"] += 1
            self.reporter.step_saved(step, event)
            return self._settled(step, meta, True)
        except StoreFullError as exc:
            self.request_stop(
                "aborted",
                f"{exc}; the steps journaled before it are kept: free some space and run again to resume",
            )
        except StoreError as exc:
            self.request_stop("aborted", f"the journal failed: {exc}")
        except OSError as exc:
            # An image could not be saved (an I/O error, not a full disk): nothing of this
            # step reached the journal, so it stays pending; stop rather than fail every step.
            self.request_stop("aborted", f"could not save an image: {exc.strerror or exc}")
        except BaseException:
            self._settled(step, meta, False)
            raise
        return self._settled(step, meta, False)

    async def _call(self, step: Step) -> StyleResult | RoomResult | ImageResult:
        sub = step.subcategory
        languages = self.plan.spec.languages
        if step.kind == "content":
            return await self.provider.style(
                StyleRequest(sub, languages, step.stream, step.key, generation=step.generation)
            )
        style = self._results[(step.stream, "content")]
        if step.kind == "room":
            assert step.room_type is not None
            return await self.provider.room(
                RoomRequest(
                    sub, style, step.room_type, languages, step.stream, step.key, generation=step.generation
                )
            )
        assert step.index is not None
        room = None
        if step.kind == "room_image":
            assert step.room_type is not None
            room = self._results[(step.stream, f"room:{step.room_type.slug}")]
        return await self.provider.image(
            ImageRequest(
                sub,
                style,
                step.index,
                step.stream,
                step.key,
                step.room_type,
                room,
                generation=step.generation,
            )
        )

    async def _success_event(
        self, step: Step, result: StyleResult | RoomResult | ImageResult, attempts: AttemptLog
    ) -> Event:
        meta = self._meta(step, result.call, attempts)
        ref = None
        if isinstance(result, ImageResult):
            ref = await asyncio.get_running_loop().run_in_executor(self._io, self.blobs.put, result.png)
        return success_event(self.run_id, step, result, meta, ref)

    def _meta(self, step: Step, call: CallInfo | None, attempts: AttemptLog) -> Meta:
        return step_meta(self.provider, step, call, attempts)

    def _failure_event(self, step: Step, error: ProviderError, meta: Meta) -> Event:
        return failure_event(self.run_id, step, error, meta)
