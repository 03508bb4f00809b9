"""What the dashboard reads, behind one object: the journal, the projection, the audit API.

``Dashboard`` owns the server's handles (event store, view store, blob store, the live
tail, the running-steps tracker, the run manager). Its methods are blocking and are
called from Starlette's thread pool; each thread gets its own SQLite connection from the
stores. Status, history and costs come from ``projector.audit`` — the same code as
``genjournal status/history/costs --json`` — never from a second implementation here.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from genjournal.web.board import Grid, RunningSteps, build_grid
from genjournal.web.live import MAX_CLIENTS, Frame, JournalTail
from genjournal.web.queries import HistoryQuery, timeline_rows
from genjournal.web.runs import RunManager
from journal.blobs import BlobStore
from journal.config import open_store
from journal.events import PlanSpec
from journal.redaction import redact_url
from journal.store import EventStore
from projector.audit import AuditLog, Snapshot
from projector.fold import Document
from projector.reports import HistoryEntry

T = TypeVar("T")


@dataclass(frozen=True)
class WebConfig:
    """How ``genjournal serve`` was started: where the journal is, who may see it, timings."""

    data_dir: Path
    db_url: str
    token: str | None = None
    host: str = "127.0.0.1"
    poll_interval_s: float = 0.01
    heartbeat_s: float = 15.0
    prices: Path | None = None
    #: live streams served at once; past it ``/events`` answers 503 with ``Retry-After``
    max_clients: int = MAX_CLIENTS


class Dashboard:
    """The server's handles on the journal and the queries the pages and the API make."""

    def __init__(self, config: WebConfig) -> None:
        self.config = config
        self.store: EventStore = open_store(config.db_url, create=False)
        try:
            # refresh=True: every report (and ``snapshot``) first catches the projection
            # up with the journal, exactly as `genjournal status` does.
            self.audit = AuditLog(self.store, data_dir=config.data_dir, prices=config.prices)
        except BaseException:
            self.store.close()
            raise
        self.blobs = BlobStore(config.data_dir)
        self.running = RunningSteps()
        interval = max(config.poll_interval_s, self.store.min_poll_interval_s)
        self.tail = JournalTail(self.store, interval_s=interval, on_batch=self._on_batch)
        self._workdir = tempfile.TemporaryDirectory(prefix="genjournal-serve-")
        self.runs = RunManager(
            data_dir=config.data_dir, db_url=config.db_url, workdir=Path(self._workdir.name)
        )
        # One report at a time: each may fold (or, far behind, rebuild) the projection.
        self._report_lock = threading.Lock()

    # --- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        """Starts the live tail and learns which steps the live run has in flight."""
        await self.tail.start()
        head = self.tail.head
        import asyncio

        await asyncio.to_thread(self.running.seed, self.store, upto=head)

    async def stop(self) -> None:
        """Stops the tail and closes the stores."""
        await self.tail.stop()
        self.audit.close()
        self.store.close()
        self._workdir.cleanup()

    def _on_batch(self, batch: list[Frame]) -> None:
        self.running.apply(frame.envelope for frame in batch)

    # --- reading ---------------------------------------------------------------------

    @property
    def location(self) -> str:
        """Returns where the journal is, with any credentials redacted."""
        return redact_url(self.config.db_url)

    def _report(self, make: Callable[[], T]) -> T:
        with self._report_lock:
            # Notes (e.g. "the projection could not be caught up") belong to one report.
            self.audit.notes.clear()
            return make()

    def snapshot(self) -> Snapshot:
        """Returns the projection caught up with the journal (the audit API's refresh)."""
        return self._report(self.audit.snapshot)

    def plan(self) -> PlanSpec | None:
        """Returns the plan the latest ``RunStarted`` recorded (None before any run)."""
        return self.snapshot().state.plan

    def grid(self) -> Grid:
        """Returns the overview grid, caught up with the journal."""
        snap = self.snapshot()
        self.running.clear_if_idle(self.store)
        return build_grid(
            snap.state.plan,
            snap.views.iter_documents(),
            self.running.snapshot(),
            snap.state.checkpoint,
        )

    def document(self, slug: str) -> Document | None:
        """Returns one style document, caught up with the journal, or None."""
        return self.snapshot().views.document(slug)

    def status(self) -> dict[str, Any]:
        """Returns ``genjournal status --json``: the audit API's status report."""
        return self._report(self.audit.status).model_dump(mode="json")

    def history(self, query: HistoryQuery) -> list[HistoryEntry]:
        """Returns the entries of ``genjournal history`` with the same filters."""
        return self.audit.history(
            query.style,
            types=list(query.types) or None,
            run=query.run,
            since=query.since,
            until=query.until,
            limit=query.limit,
        )

    def history_json(self, query: HistoryQuery) -> list[dict[str, Any]]:
        """Returns ``genjournal history --json``: a JSON array of envelopes in position order."""
        return [entry.model_dump(mode="json") for entry in self.history(query)]

    def history_rows(self, query: HistoryQuery) -> list[dict[str, Any]]:
        """Returns the timeline's rows: the history entries, each with what it cost."""
        entries = self.history(query)
        rows = timeline_rows([entry.model_dump(mode="json") for entry in entries])
        for row, entry in zip(rows, entries, strict=True):
            row["usd"] = self.audit.event_cost(entry)
        return rows

    def costs(self, by: str) -> dict[str, Any]:
        """Returns ``genjournal costs --by BY --json``."""
        report = self._report(lambda: self.audit.costs(by))  # type: ignore[arg-type]
        return report.model_dump(mode="json")

    def style_costs(self, slug: str) -> dict[str, Any] | None:
        """Returns one style's line of the costs by style (None: nothing recorded)."""
        report = self._report(lambda: self.audit.costs("style"))
        for line in report.lines:
            if line.key == slug:
                return line.model_dump(mode="json")
        return None

    # --- curation ------------------------------------------------------------------------

    def generations(self, slug: str) -> dict[str, Any]:
        """Returns a style's curation state: earlier generations per step, and steps awaiting one.

        ``earlier`` maps a step key to its superseded results, newest first (image hash or
        room text, model, prompt version, when), each with the reason it was superseded.
        """
        from journal.events import REGENERATION_TYPE, SUCCESS_TYPES, generation_of
        from journal.store import format_time
        from journal.streams import style_stream

        stream = style_stream(slug)
        found = self.store.query(stream=stream, types=sorted(SUCCESS_TYPES | {REGENERATION_TYPE}))
        results: dict[str, list[dict[str, Any]]] = {}
        reasons: dict[tuple[str, int], str] = {}
        for stored in found:
            if stored.step is None:
                continue
            generation = generation_of(stored.event)
            if stored.type == REGENERATION_TYPE:
                reasons[(stored.step, generation)] = stored.event.data.reason  # type: ignore[attr-defined]
                continue
            data, meta = stored.event.data, stored.event.meta
            results.setdefault(stored.step, []).append(
                {
                    "generation": generation,
                    "sha256": getattr(data, "sha256", None),
                    "text": _result_text(stored.type, data),
                    "model": meta.model,
                    "prompt_version": meta.prompt_version,
                    "recorded_at": format_time(stored.recorded_at),
                }
            )
        earlier: dict[str, list[dict[str, Any]]] = {}
        for step, items in results.items():
            items.sort(key=lambda item: item["generation"])
            for item in items:
                item["superseded_because"] = reasons.get((step, item["generation"] + 1))
            if len(items) > 1:
                earlier[step] = list(reversed(items[:-1]))
        waiting = self._report(self.audit.awaiting_regeneration)
        awaiting = sorted(step for (of, step) in waiting if of == stream)
        return {"earlier": earlier, "awaiting": awaiting}

    def regenerate(
        self, slug: str, step: str, reason: str, *, keep_images: bool, cascade: bool
    ) -> dict[str, Any]:
        """Journals a regeneration of one step of a style (and what follows it), as the CLI does."""
        from generator.curation import Selection, journal_regeneration, latest_plan, plan_regeneration
        from generator.prompts import load_prompts

        selection = Selection(styles=(slug,), steps=(step,), keep_images=keep_images, cascade=cascade)
        plan = plan_regeneration(
            self.store,
            selection,
            plan=latest_plan(self.store),
            prompts=load_prompts(None),
            prices=self.audit.prices,
        )
        request = journal_regeneration(self.store, plan, reason=reason, source="dashboard")
        return {"request": request, **plan.to_dict()}


def _result_text(type_name: str, data: Any) -> str | None:
    """Returns the text a superseded text result showed (a room's poetic passage, a style's approach)."""
    if type_name == "StyleCreated":
        return str(data.approach)
    if type_name == "RoomGenerated" and data.content:
        return str(next(iter(data.content.values())).poetic)
    return None
