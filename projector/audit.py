"""The audit query API: status, history, costs, documents and verify over either store.

``open_audit_log(where)`` takes a data directory or a journal URL (``sqlite:///…``,
``mongodb://…``, ``mongomock://…``) and returns an ``AuditLog`` (a context manager)::

    with open_audit_log("genjournal-data") as audit:
        print(audit.status().styles.complete)

Every method returns a pydantic model of ``projector.reports``; ``genjournal <command>
--json`` prints exactly that model's JSON. Nothing here replays the journal per query:
``status`` and ``costs`` read the projection's progress columns and audit facts
(``projector.facts``), ``history`` the store's indexed ``query``. Before ``status``,
``costs`` and ``documents`` the projection is caught up with the journal (a full rebuild
instead when it is very far behind); pass ``refresh=False`` to read it as it is.
Only ``verify`` reads everything, and it writes nothing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from journal.config import Location
from journal.errors import ConfigError, StoreError
from journal.events import EVENT_TYPES, FAILURE_TYPES, REGENERATION_TYPE, SUCCESS_TYPES, generation_of
from journal.store import EventStore, RawEvent, parse_time, utcnow
from journal.streams import RUN_PREFIX, STYLE_PREFIX, run_stream, style_slug, style_stream
from projector.batches import batches_summary, read_batches
from projector.facts import BATCH_KIND_SUFFIX, COST_FIELDS, RunFacts
from projector.fold import Document, shown_generation
from projector.prices import BATCH_PRICE_FACTOR, PriceTable, load_prices
from projector.reports import (
    CostLine,
    CostReport,
    CrashOverhead,
    HistoryEntry,
    LostCall,
    PriceSource,
    ProjectionInfo,
    RegenerationCounts,
    RegenerationSpend,
    RunSummary,
    Spend,
    StatusReport,
    StepCounts,
    StyleCounts,
    Unpriced,
    VerifyReport,
)
from projector.store import CostSum, ViewState, ViewStore

CostGroup = Literal["style", "run", "model", "day"]
COST_GROUPS: tuple[CostGroup, ...] = ("style", "run", "model", "day")
#: a projection this far behind is rebuilt (in parallel on SQLite) instead of caught up
REBUILD_LAG = 100_000
#: a catch-up this long is announced (it takes seconds)
NOTIFY_LAG = 20_000
#: a run whose lease heartbeat is older than this (on another host) counts as dead
HEARTBEAT_TIMEOUT_S = 60.0
#: tokens assumed for a text call of a model the journal has never priced (estimates only)
DEFAULT_TEXT_TOKENS = (2_000, 2_000)
_AGE = re.compile(r"(\d+(?:\.\d+)?)\s*(s|m|h|d|w)")
_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
TIME_FORMS = "ISO 8601 (2026-05-01, 2026-05-01T14:30:00Z) or an age (90s, 15m, 2h, 7d, 1w)"


def parse_when(text: str | datetime, *, now: datetime | None = None) -> datetime:
    """Parses a time given as ISO 8601 or as an age before now (``2h``); raises ValueError."""
    if isinstance(text, datetime):
        return text if text.tzinfo is not None else text.replace(tzinfo=UTC)
    value = text.strip()
    age = _AGE.fullmatch(value)
    if age is not None:
        seconds = float(age.group(1)) * _AGE_UNITS[age.group(2)]
        try:
            return (now or utcnow()) - timedelta(seconds=seconds)
        except OverflowError:
            raise ValueError(f"{text!r} reaches before year 1; use a shorter age or {TIME_FORMS}") from None
    try:
        return parse_time(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    except (ValueError, OverflowError):
        raise ValueError(f"{text!r} is not a time: use {TIME_FORMS}") from None


def check_types(types: Iterable[str] | None) -> list[str] | None:
    """Returns the event types asked for, refusing an unknown one with the valid names."""
    if types is None:
        return None
    chosen = list(types)
    unknown = [name for name in chosen if name not in EVENT_TYPES]
    if unknown:
        raise ValueError(f"unknown event type {unknown[0]!r}; valid types: {', '.join(sorted(EVENT_TYPES))}")
    return chosen or None


def open_audit_log(
    where: str | os.PathLike[str] | Location,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    prices: PriceTable | str | os.PathLike[str] | None = None,
    refresh: bool = True,
    notify: Callable[[str], None] | None = None,
) -> AuditLog:
    """Opens an existing journal (a data directory, a URL or a ``Location``) for audit queries."""
    location = where if isinstance(where, Location) else Location.of(where, data_dir)
    store = location.open(create=False)
    try:
        return AuditLog(
            store,
            data_dir=location.data_dir,
            prices=prices,
            refresh=refresh,
            owns_store=True,
            notify=notify,
        )
    except BaseException:
        store.close()
        raise


class Snapshot:
    """What one report reads from the projection, each part read at most once."""

    def __init__(self, store: EventStore, views: ViewStore, state: ViewState) -> None:
        self.store = store
        self.views = views
        self.state = state

    @cached_property
    def runs(self) -> list[RunFacts]:
        """Returns every run's facts, oldest first."""
        return self.views.runs()

    @cached_property
    def run_rows(self) -> list[CostSum]:
        """Returns usage sums by run and price dimensions (every grouping but style)."""
        return self.views.cost_sums("run")

    @cached_property
    def live_run(self) -> str | None:
        """Returns the run whose lease holder is alive, if any."""
        lease = self.store.read_lease()
        if lease is not None and lease.is_alive(heartbeat_timeout_s=HEARTBEAT_TIMEOUT_S):
            return lease.run_id
        return None

    def rows(self, by: CostGroup | None, run_ids: Iterable[str] | None = None) -> list[CostSum]:
        """Returns usage sums grouped by ``by`` (None: one group, "")."""
        if by == "style":
            return self.views.cost_sums("style", run_ids=run_ids)
        wanted = set(run_ids) if run_ids is not None else None
        column = {None: None, "run": 0, "day": 1, "model": 3}[by]
        return [
            (row[column] if column is not None else "", *row[1:])
            for row in self.run_rows
            if wanted is None or row[0] in wanted
        ]


class AuditLog:
    """Audit queries over one journal: status, history, costs, documents, verify."""

    def __init__(
        self,
        store: EventStore,
        *,
        data_dir: str | os.PathLike[str] | None = None,
        prices: PriceTable | str | os.PathLike[str] | None = None,
        refresh: bool = True,
        owns_store: bool = False,
        notify: Callable[[str], None] | None = None,
    ) -> None:
        self.store = store
        #: told (one line) before a long catch-up or rebuild of the projection starts
        self.notify = notify
        self.data_dir = Path(data_dir) if data_dir is not None else None
        # A bad --prices file is refused up front, before anything is read.
        self._prices = (
            prices
            if isinstance(prices, PriceTable)
            else (load_prices(prices) if prices is not None else None)
        )
        self._refresh = refresh
        self._owns_store = owns_store
        self._views: ViewStore | None = None
        #: what happened while reading that a caller may want to show (stale projection…)
        self.notes: list[str] = []

    # --- plumbing ------------------------------------------------------------------------

    @property
    def prices(self) -> PriceTable:
        """Returns the price table in use (the shipped one unless another was given)."""
        if self._prices is None:
            self._prices = load_prices(None)
        return self._prices

    @property
    def views(self) -> ViewStore:
        """Returns the projection next to the journal (as it is: see ``snapshot``)."""
        if self._views is None:
            from projector.views import open_views

            self._views = open_views(self.store)
        return self._views

    def snapshot(self) -> Snapshot:
        """Catches the projection up (if ``refresh``) and returns what a report reads from it."""
        views = self.views
        state = views.load_state()
        if self._refresh and self._catch_up(views, state.checkpoint):
            state = views.load_state()
        return Snapshot(self.store, views, state)

    def _catch_up(self, views: ViewStore, checkpoint: int) -> bool:
        """Folds what the projection lacks; returns whether anything was folded."""
        from projector.projector import Projector

        try:
            behind = self.store.last_position() - checkpoint
            if behind <= 0:
                return False
            projector = Projector(self.store, views)
            if behind >= NOTIFY_LAG and self.notify is not None:
                how = "rebuilding it" if behind >= REBUILD_LAG else "catching it up"
                self.notify(f"the projection is {behind:,} events behind the journal; {how} first")
            if behind >= REBUILD_LAG:
                projector.rebuild()
            else:
                projector.catch_up()
        except StoreError as exc:
            # A read-only user, a locked file: report from the projection as it is.
            self.notes.append(f"the projection could not be caught up ({exc}); it may be stale")
            return False
        return True

    def close(self) -> None:
        """Closes the projection and (when this object opened it) the journal."""
        if self._views is not None:
            self._views.close()
            self._views = None
        if self._owns_store:
            self.store.close()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- documents -----------------------------------------------------------------------

    def documents(self) -> Iterator[Document]:
        """Yields every style document, sorted by slug."""
        return self.snapshot().views.iter_documents()

    # --- status --------------------------------------------------------------------------

    def status(self) -> StatusReport:
        """Reports planned styles and steps done, failed and pending, the last run and the spend."""
        snap = self.snapshot()
        views = snap.views
        plan = snap.state.plan
        planned = plan.subcategories if plan is not None else ()
        rooms_each = len(plan.room_types) if plan is not None else 0
        images_each = (plan.images_per_style + plan.images_per_room * rooms_each) if plan is not None else 0
        counts = {"complete": 0, "partial": 0, "basic": 0, "failed": 0}
        rooms_done = rooms_failed = images_done = images_failed = 0
        for status, styles, r_done, r_failed, i_done, i_failed in views.progress_totals():
            if status in counts:
                counts[status] += styles
            rooms_done += r_done or 0
            rooms_failed += r_failed or 0
            images_done += i_done or 0
            images_failed += i_failed or 0
        found = sum(counts.values())
        progress = {row[0]: row for row in views.incomplete_styles()}
        # Only when some planned style has no document is the list of those that do needed.
        documented = set(views.planned_slugs()) if found < len(planned) else None
        # Plain dicts, validated in one pass by StatusReport (pydantic-core): thousands of
        # StyleProgress objects built one by one in Python would cost more than the query.
        incomplete: list[dict[str, Any]] = []
        for entry in planned:
            row = progress.get(entry.slug)
            if row is None:
                if documented is None or entry.slug in documented:
                    continue  # complete
                incomplete.append(
                    {
                        "slug": entry.slug,
                        "status": "missing",
                        "rooms_planned": rooms_each,
                        "images_planned": images_each,
                    }
                )
                continue
            _, status, r_done, r_failed, r_planned, i_done, i_failed, i_planned = row
            incomplete.append(
                {
                    "slug": entry.slug,
                    # A document without content or failure (only hand-made journals) is missing.
                    "status": status if status in ("partial", "basic", "failed") else "missing",
                    "rooms_done": r_done,
                    "rooms_failed": r_failed,
                    "rooms_planned": r_planned,
                    "images_done": i_done,
                    "images_failed": i_failed,
                    "images_planned": i_planned,
                }
            )
        rooms_planned = len(planned) * rooms_each
        images_planned = len(planned) * images_each
        runs = self._run_summaries(snap)
        position = self.store.last_position()
        return StatusReport.model_validate(
            dict(
                planned_styles=len(planned),
                styles=StyleCounts(missing=max(0, len(planned) - found), **counts),
                rooms=StepCounts(
                    planned=rooms_planned,
                    done=rooms_done,
                    failed=rooms_failed,
                    pending=max(0, rooms_planned - rooms_done - rooms_failed),
                ),
                images=StepCounts(
                    planned=images_planned,
                    done=images_done,
                    failed=images_failed,
                    pending=max(0, images_planned - images_done - images_failed),
                ),
                incomplete=[item["slug"] for item in incomplete],
                incomplete_detail=incomplete,
                last_run=runs[-1] if runs else None,
                runs=len(runs),
                crashed_runs=[run.run_id for run in runs if run.state == "crashed"],
                spent=self._spend(snap, None),
                batches=batches_summary(read_batches(self.store)),
                projection=ProjectionInfo(
                    checkpoint=snap.state.checkpoint,
                    journal_position=position,
                    behind=max(0, position - snap.state.checkpoint),
                    note="; ".join(self.notes) or None,
                ),
                regeneration=self._awaiting_regeneration(snap),
            )
        )

    def awaiting_regeneration(self) -> dict[tuple[str, str], int]:
        """Returns the steps awaiting a new generation, with the generation asked for."""
        return self._awaiting(self.snapshot())

    def _awaiting(self, snap: Snapshot) -> dict[tuple[str, str], int]:
        requested: dict[tuple[str, str], int] = {}
        checkpoint = snap.state.checkpoint
        for stored in self.store.query(types=[REGENERATION_TYPE]):
            if stored.position > checkpoint or stored.step is None:
                continue
            key = (stored.stream, stored.step)
            requested[key] = max(requested.get(key, 0), generation_of(stored.event))
        if not requested:
            return {}
        docs = snap.views.get({style_slug(stream) or stream for stream, _ in requested})
        awaiting = {}
        for (stream, step), generation in requested.items():
            doc = docs.get(style_slug(stream) or stream)
            shown = shown_generation(doc, step) if doc is not None else None
            if shown is None or shown < generation:
                awaiting[(stream, step)] = generation
        return awaiting

    def _awaiting_regeneration(self, snap: Snapshot) -> RegenerationCounts:
        awaiting = self._awaiting(snap)
        steps = [step for _, step in awaiting]
        return RegenerationCounts(
            awaiting=len(steps),
            content=sum(1 for step in steps if step == "content"),
            rooms=sum(1 for step in steps if step.startswith("room:")),
            images=sum(1 for step in steps if step.startswith("image:")),
        )

    # --- runs ----------------------------------------------------------------------------

    def run_summaries(self) -> list[RunSummary]:
        """Returns every run, oldest first, with its state (finished, running or crashed)."""
        return self._run_summaries(self.snapshot())

    def _run_summaries(self, snap: Snapshot) -> list[RunSummary]:
        recorded: dict[str, int] = {}
        for row in snap.run_rows:
            recorded[row[0]] = recorded.get(row[0], 0) + row[6]
        live = snap.live_run
        out = []
        for run in snap.runs:
            if run["started_at"] is None:
                continue  # a run stream without RunStarted (hand-made journal): not a run
            started = run["started_text"] + run["started_image"]
            done = recorded.get(run["run_id"], 0)
            if run["finished_at"] is not None:
                state: Literal["finished", "running", "crashed"] = "finished"
            elif run["run_id"] == live:
                state = "running"
            else:
                state = "crashed"
            out.append(
                RunSummary(
                    run_id=run["run_id"],
                    state=state,
                    started_at=run["started_at"],
                    finished_at=run["finished_at"],
                    outcome=run["outcome"],
                    provider=run["provider"],
                    text_model=run["text_model"],
                    image_model=run["image_model"],
                    plan_hash=run["plan_hash"],
                    calls_started=started,
                    calls_recorded=min(done, started) if started else done,
                    calls_lost=max(0, started - done) if state == "crashed" else 0,
                )
            )
        return out

    # --- costs ---------------------------------------------------------------------------

    def _price_rows(self, rows: Iterable[Sequence[Any]]) -> dict[str, _Line]:
        lines: dict[str, _Line] = {}
        prices = self.prices
        for row in rows:
            group, day, kind, model, size, quality = row[:6]
            line = lines.get(group)
            if line is None:
                line = lines[group] = _Line(str(group))
            line.add(prices, model, day, size, quality, row[6:], batch=str(kind).endswith(BATCH_KIND_SUFFIX))
        return lines

    def spend(self, *, plan_hash: str | None = None) -> Spend:
        """Returns the money recorded (optionally for one plan's runs), crash overhead included."""
        return self._spend(self.snapshot(), plan_hash)

    def _spend(self, snap: Snapshot, plan_hash: str | None) -> Spend:
        run_ids = None
        if plan_hash is not None:
            run_ids = [run["run_id"] for run in snap.runs if run["plan_hash"] == plan_hash]
        total = self._price_rows(snap.rows(None, run_ids)).get("") or _Line("")
        overhead = self._crash_overhead(snap, identities=False, plan_hash=plan_hash)
        line = total.line()
        return Spend(
            usd=line.usd,
            usd_priced=line.usd_priced,
            unpriced_steps=line.unpriced.steps,
            unknown_models=line.unknown_models,
            crash_overhead_usd=overhead.estimated_usd,
        )

    def costs(self, by: CostGroup = "model") -> CostReport:
        """Reports tokens, images and money by style, run, model or day, and the crash overhead."""
        if by not in COST_GROUPS:
            raise ValueError(f"cannot group costs by {by!r}; use one of {', '.join(COST_GROUPS)}")
        snap = self.snapshot()
        lines = self._price_rows(snap.rows(by))
        total = _Line("total")
        for line in lines.values():
            total.merge(line)
        prices = self.prices
        return CostReport(
            by=by,
            prices=PriceSource(source=prices.source, as_of=prices.as_of.isoformat()),
            lines=[lines[key].line() for key in sorted(lines)],
            total=total.line(),
            crash_overhead=self._crash_overhead(snap),
            regeneration=self._regeneration_spend(snap, total.line().usd),
        )

    def _regeneration_spend(self, snap: Snapshot, total_usd: float | None) -> RegenerationSpend:
        """Prices the results of generation 2 and later (first-time spend is the rest)."""
        checkpoint = snap.state.checkpoint
        requests = [e for e in self.store.query(types=[REGENERATION_TYPE]) if e.position <= checkpoint]
        if not requests:
            return RegenerationSpend(first_time_usd=total_usd)
        steps = failures = unpriced = 0
        usd = 0.0
        for stored in self.store.query(types=sorted(SUCCESS_TYPES | FAILURE_TYPES)):
            if stored.position > checkpoint or generation_of(stored.event) < 2:
                continue
            steps += 1
            failures += stored.type in FAILURE_TYPES
            cost = self.event_cost(RawEvent.from_stored(stored))
            if cost is None:
                unpriced += 1
            else:
                usd += cost
        spent = None if unpriced else round(usd, 6)
        return RegenerationSpend(
            requested=len(requests),
            steps=steps,
            failures=failures,
            usd=spent,
            usd_priced=round(usd, 6),
            unpriced_steps=unpriced,
            first_time_usd=None if spent is None or total_usd is None else round(total_usd - spent, 6),
        )

    def average_text_cost(self, model: str | None) -> float | None:
        """Returns the mean priced cost of one recorded text call of a model (None if unknown)."""
        return self._average_text_cost(self.snapshot(), model, {})

    def _average_text_cost(
        self, snap: Snapshot, model: str | None, cache: dict[str | None, float | None]
    ) -> float | None:
        if model in cache:
            return cache[model]
        prices = self.prices
        usd = 0.0
        steps = 0
        found: float | None = None
        for row in snap.run_rows:
            if row[3] != (model or "") or row[2] != "text":
                continue
            cost = prices.cost(row[3] or None, row[1], input_tokens=row[10], output_tokens=row[11])
            if cost is None:
                cache[model] = None
                return None
            usd += cost
            steps += row[6]
        if steps:
            found = usd / steps
        else:
            price = prices.lookup(model)
            if price is not None:
                found = price.cost(input_tokens=DEFAULT_TEXT_TOKENS[0], output_tokens=DEFAULT_TEXT_TOKENS[1])
        cache[model] = found
        return found

    def crash_overhead(self, *, identities: bool = True, plan_hash: str | None = None) -> CrashOverhead:
        """Counts and estimates paid calls that crashed runs started but never journaled."""
        return self._crash_overhead(self.snapshot(), identities=identities, plan_hash=plan_hash)

    def _crash_overhead(
        self, snap: Snapshot, *, identities: bool = True, plan_hash: str | None = None
    ) -> CrashOverhead:
        crashed = [
            run
            for run in self._run_summaries(snap)
            if run.state == "crashed" and (plan_hash is None or run.plan_hash == plan_hash)
        ]
        if not crashed:
            return CrashOverhead()
        facts = {run["run_id"]: run for run in snap.runs}
        recorded: dict[tuple[str, str], int] = {}
        for row in snap.run_rows:
            key = (row[0], row[2])
            recorded[key] = recorded.get(key, 0) + row[6]
        prices = self.prices
        text_costs: dict[str | None, float | None] = {}
        lost_text = lost_image = 0
        usd: float | None = 0.0
        for run in crashed:
            fact = facts[run.run_id]
            text = max(0, fact["started_text"] - recorded.get((run.run_id, "text"), 0))
            image = max(0, fact["started_image"] - recorded.get((run.run_id, "image"), 0))
            lost_text += text
            lost_image += image
            if text and usd is not None:
                each = self._average_text_cost(snap, fact["text_model"], text_costs)
                usd = None if each is None else usd + each * text
            if image and usd is not None:
                price = prices.lookup(fact["image_model"])
                each = price.image_price(fact["image_size"], fact["image_quality"]) if price else None
                usd = None if each is None else usd + each * image
        calls = self._lost_calls([c for c in crashed if c.calls_lost]) if identities else []
        return CrashOverhead(
            crashed_runs=[run.run_id for run in crashed],
            lost_calls=lost_text + lost_image,
            lost_text_calls=lost_text,
            lost_image_calls=lost_image,
            estimated_usd=None if usd is None else round(usd, 6),
            re_requested=sum(1 for call in calls if call.re_requested_by is not None),
            calls=calls,
        )

    def _lost_calls(self, crashed: list[RunSummary]) -> list[LostCall]:
        """Names the lost calls of crashed runs and which later run journaled each step again.

        Reads only the crashed runs' own events (indexed by run), never the whole journal.
        """
        store = self.store
        out: list[LostCall] = []
        for run in crashed:
            started = store.query(stream=run_stream(run.run_id), types=["StepStarted"])
            journaled = {
                (e.stream, e.step) for e in store.query(run_id=run.run_id, stream_prefix=STYLE_PREFIX)
            }
            for event in started:
                data = event.data
                key = (data.stream, data.step)
                if key in journaled:
                    continue
                later = None
                for other in store.read_stream(data.stream):
                    if (
                        other.step == data.step
                        and other.run_id != run.run_id
                        and other.position > event.position
                    ):
                        later = other.run_id
                        break
                out.append(
                    LostCall(
                        run_id=run.run_id,
                        stream=data.stream,
                        step=data.step,
                        kind=data.kind,
                        re_requested_by=later,
                    )
                )
        return out

    # --- history -------------------------------------------------------------------------

    def history(
        self,
        style: str | None = None,
        *,
        types: Iterable[str] | None = None,
        run: str | None = None,
        since: str | datetime | None = None,
        until: str | datetime | None = None,
        limit: int | None = None,
        steps: Iterable[str] | None = None,
    ) -> list[HistoryEntry]:
        """Returns events matching the filters in position order (with ``limit``: the newest N).

        ``steps`` keeps the events of these step keys or shell-style patterns: every
        generation of a step, the requests that asked for them, and their failures.
        """
        chosen = check_types(types)
        patterns = list(steps or ())
        stream = None
        if style is not None:
            stream = style if style.startswith((STYLE_PREFIX, RUN_PREFIX)) else style_stream(style)
        if limit is not None and limit < 1:
            raise ValueError("limit must be at least 1")
        found = self.store.query(
            stream=stream,
            types=chosen,
            run_id=run,
            since=parse_when(since) if since is not None else None,
            until=parse_when(until) if until is not None else None,
            limit=None if patterns else limit,
            newest_first=limit is not None and not patterns,
        )
        if patterns:
            found = [e for e in found if e.step is not None and any(fnmatchcase(e.step, p) for p in patterns)]
            if limit is not None:
                found = found[-limit:]
        return [HistoryEntry.model_construct(**event.to_envelope()) for event in found]

    def event_cost(self, entry: HistoryEntry | RawEvent) -> float | None:
        """Returns what one event's recorded usage cost (None: unpriced; 0.0: no usage)."""
        return self.prices.meta_cost(entry.meta, entry.recorded_at[:10])

    # --- verify --------------------------------------------------------------------------

    def verify(self) -> VerifyReport:
        """Checks blobs, positions, versions, decoding and projection == fold; writes nothing."""
        from projector.verify import verify_journal

        if self.data_dir is None:
            raise ConfigError("verify needs the data directory (where the images are)")
        return verify_journal(self.store, self.data_dir)


class _Line:
    """Accumulates one cost line: usage sums, priced dollars and unpriced usage."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.sums = [0] * len(COST_FIELDS)
        self.usd = 0.0
        self.unpriced = [0, 0, 0, 0]  # steps, input tokens, output tokens, images
        self.unknown: set[str] = set()
        self.priced_by: set[str] = set()
        #: what the batch results would have cost more at the live price
        self.batch_saved = 0.0

    def add(
        self,
        prices: PriceTable,
        model: str,
        day: str,
        size: str,
        quality: str,
        sums: Sequence[int],
        *,
        batch: bool = False,
    ) -> None:
        """Adds one row of usage sums, priced with the table."""
        steps, _, _, _, input_tokens, output_tokens, images, unmetered, image_in, text_out = sums
        for i, value in enumerate(sums):
            self.sums[i] += value or 0
        cost = prices.cost(
            model or None,
            day,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            unmetered_images=unmetered,
            image_size=size or None,
            image_quality=quality or None,
            input_image_tokens=image_in,
            output_text_tokens=text_out,
        )
        if cost is None:
            self.unpriced[0] += steps
            self.unpriced[1] += input_tokens
            self.unpriced[2] += output_tokens
            self.unpriced[3] += images
            label = model or "(no model recorded)"
            if unmetered and prices.lookup(model or None, day) is not None:
                # The model is priced, the image size or quality is not: name the variant.
                label += f" {size or '?'}/{quality or '?'}"
            self.unknown.add(label)
        else:
            if batch:
                self.batch_saved += cost * (1 - BATCH_PRICE_FACTOR)
                cost *= BATCH_PRICE_FACTOR
            self.usd += cost
            price = prices.lookup(model or None, day)
            if price is not None and (input_tokens or output_tokens):
                self.priced_by.add(price.source)
            if price is not None and unmetered:
                self.priced_by.add(price.images_source or price.source)

    def merge(self, other: _Line) -> None:
        """Adds another line into this one."""
        for i, value in enumerate(other.sums):
            self.sums[i] += value
        for i, value in enumerate(other.unpriced):
            self.unpriced[i] += value
        self.usd += other.usd
        self.unknown |= other.unknown
        self.priced_by |= other.priced_by
        self.batch_saved += other.batch_saved

    def line(self) -> CostLine:
        """Returns the line as a report model."""
        s = self.sums
        priced = round(self.usd, 6)
        return CostLine(
            key=self.key,
            steps=s[0],
            failures=s[1],
            billed_failures=s[2],
            attempts=s[3],
            input_tokens=s[4],
            output_tokens=s[5],
            images=s[6],
            usd=None if self.unknown else priced,
            usd_priced=priced,
            unpriced=Unpriced(
                steps=self.unpriced[0],
                input_tokens=self.unpriced[1],
                output_tokens=self.unpriced[2],
                images=self.unpriced[3],
            ),
            unknown_models=sorted(self.unknown),
            priced_by=sorted(self.priced_by),
            batch_saved_usd=round(self.batch_saved, 6),
        )
