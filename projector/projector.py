"""Projector: keeps the style documents caught up with the journal, and rebuilds them.

``catch_up`` reads the journal from the view store's checkpoint in pages, folds each
page (``projector.fold``, and the audit facts of ``projector.facts``) and commits the
touched documents and facts together with the new checkpoint — conditionally, so a
concurrent projector that got there first makes this one re-read instead of writing
stale documents. It relies on the store's ``read_all``
promise that a reader remembering the last position it saw never misses a late commit.

``rebuild`` folds the whole journal from the first event into a fresh, invisible target
with a bounded document cache (memory stays flat however long the journal), finalizes
every document against the final plan, swaps the target in atomically and then catches
up with whatever was appended meanwhile.
"""

from __future__ import annotations

import gc
import os
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING

from journal.errors import CorruptEventError
from journal.events import PlanSpec
from journal.failpoints import failpoint
from journal.store import EventStore, RawEvent
from journal.streams import run_id_of, style_slug
from projector.facts import (
    RunFacts,
    StyleFacts,
    apply_run_facts,
    apply_style_facts,
    new_run_facts,
    new_style_facts,
)
from projector.fold import Document, apply, finalize
from projector.store import FactsUpdate, RebuildTarget, ViewState, ViewStore

if TYPE_CHECKING:
    from journal.store import StreamScan
    from projector.store import PartitionSink

Progress = Callable[[int, int], None]
#: below this many events a rebuild is quicker in one process than with worker start-up
PARALLEL_MIN_EVENTS = 100_000


def plan_of(event: RawEvent) -> PlanSpec:
    """Returns the plan a RunStarted event recorded (validated: it drives every status)."""
    try:
        return PlanSpec.model_validate(event.data["plan"])
    except (KeyError, ValueError) as exc:
        raise CorruptEventError(
            f"RunStarted at position {event.position} has no valid plan", position=event.position
        ) from exc


@dataclass(frozen=True)
class RebuildStats:
    """What a rebuild did: events folded, documents written, seconds taken."""

    events: int
    documents: int
    seconds: float

    @property
    def events_per_second(self) -> float:
        """Returns the fold rate."""
        return self.events / self.seconds if self.seconds > 0 else 0.0


@contextmanager
def _abandon_on_error(target: RebuildTarget) -> Iterator[None]:
    """Drops a rebuild's half-written tables when it cannot finish (a damaged row, a signal).

    The live projection is untouched either way; dropping the new tables leaves the file
    holding exactly the tables and rows it held before the rebuild began.
    """
    try:
        yield
    except BaseException:
        with suppress(Exception):
            target.abandon()
        raise


class Projector:
    """Folds the journal into style documents kept in a view store."""

    def __init__(
        self,
        events: EventStore,
        views: ViewStore,
        *,
        page_size: int = 2000,
        cache_size: int = 2000,
    ) -> None:
        self.events = events
        self.views = views
        self.page_size = page_size
        self.cache_size = cache_size

    # --- incremental -----------------------------------------------------------------

    def catch_up(self, *, max_pages: int | None = None) -> int:
        """Folds every event after the checkpoint into the views; returns how many."""
        applied = 0
        pages = 0
        state = self.views.load_state()
        while max_pages is None or pages < max_pages:
            page = self.events.read_all_raw(after_position=state.checkpoint, limit=self.page_size)
            if not page:
                break
            pages += 1
            plan = state.plan
            slugs = {slug for slug in (style_slug(e.stream) for e in page) if slug is not None}
            run_ids = {run for run in (run_id_of(e.stream) for e in page) if run is not None}
            loaded = self.views.get(slugs)
            loaded_facts = self.views.get_style_facts(slugs) if slugs else {}
            runs = self.views.get_runs(run_ids) if run_ids else {}
            touched: dict[str, Document] = {}
            touched_facts: dict[str, StyleFacts] = {}
            touched_runs: dict[str, RunFacts] = {}
            plan_changed = False
            for event in page:
                slug = style_slug(event.stream)
                if slug is None:
                    run_id = run_id_of(event.stream)
                    if run_id is not None:
                        run = runs.get(run_id) or new_run_facts(run_id)
                        version = run["version"]
                        runs[run_id] = apply_run_facts(run, event)
                        if run["version"] != version:
                            touched_runs[run_id] = run
                    if event.type == "RunStarted":
                        new_plan = plan_of(event)
                        if plan is None or new_plan != plan:
                            plan = new_plan
                            plan_changed = True
                    continue
                doc = touched.get(slug) or loaded.get(slug)
                version = doc["version"] if doc is not None else 0
                doc = apply(doc, event)
                if doc["version"] != version:
                    touched[slug] = doc
                facts = touched_facts.get(slug) or loaded_facts.get(slug) or new_style_facts(slug)
                version = facts["version"]
                if apply_style_facts(facts, event)["version"] != version:
                    touched_facts[slug] = facts
            if plan_changed:
                for doc in self.views.iter_documents():
                    touched.setdefault(doc["slug"], doc)
            finalized = {slug: finalize(doc, plan) for slug, doc in touched.items()}
            new_state = ViewState(checkpoint=page[-1].position, plan=plan, extras=state.extras)
            facts_update = FactsUpdate(styles=touched_facts, runs=touched_runs)
            committed = self.views.commit(
                finalized, expected=state.checkpoint, state=new_state, facts=facts_update
            )
            if committed:
                applied += len(page)
                state = new_state
            else:
                # Another projector advanced the checkpoint first: start again from its.
                state = self.views.load_state()
        return applied

    # --- rebuild ---------------------------------------------------------------------

    def rebuild(self, *, progress: Progress | None = None, workers: int | None = None) -> RebuildStats:
        """Recomputes every document from the first event and swaps the result in.

        On SQLite, ``workers`` processes (default: one per CPU once the journal has
        ``PARALLEL_MIN_EVENTS`` events) each fold a range of style streams; otherwise one
        process folds in position order.
        """
        started = time.perf_counter()
        total = self.events.last_position()
        if workers is None:
            workers = (os.cpu_count() or 1) if total >= PARALLEL_MIN_EVENTS else 1
        target = self.views.begin_rebuild()
        if workers > 1:
            scan, sink = self.events.stream_scan(), target.partition_sink()
            if scan is not None and sink is not None:
                return self._rebuild_parallel(scan, sink, target, total, workers, progress, started)
        build = _Rebuild(target, self.cache_size)
        checkpoint = 0
        folded = 0
        # Documents are trees of dicts and lists (no reference cycles), so reference
        # counting frees everything; pausing the cyclic collector keeps it from
        # rescanning the document cache again and again.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            with _abandon_on_error(target):
                for page in self._pages():
                    build.fold(page)
                    checkpoint = page[-1].position
                    folded += len(page)
                    if progress is not None:
                        progress(checkpoint, max(total, checkpoint))
                documents = build.finish()
        finally:
            if gc_was_enabled:
                gc.enable()
        build.target.swap_in(ViewState(checkpoint=checkpoint, plan=build.plan))
        failpoint("rebuild-after-swap")
        self.catch_up()
        return RebuildStats(events=folded, documents=documents, seconds=time.perf_counter() - started)

    def _rebuild_parallel(
        self,
        scan: StreamScan,
        sink: PartitionSink,
        target: RebuildTarget,
        checkpoint: int,
        workers: int,
        progress: Progress | None,
        started: float,
    ) -> RebuildStats:
        from projector.parallel import partitions, run_partitions

        # A scanner's positions are commit-ordered: everything at or before
        # ``checkpoint`` is committed, so all workers fold one consistent cut.
        starts = [e for e in self.events.query(types=["RunStarted"]) if e.position <= checkpoint]
        plan = starts[-1].data.plan if starts else None
        parts = partitions(scan, max_position=checkpoint, parts=workers)
        report = None if progress is None else (lambda done: progress(done, checkpoint))

        def fold_run_streams() -> None:
            from projector.parallel import fold_runs

            target.write({}, FactsUpdate(runs=fold_runs(scan, max_position=checkpoint)))

        with _abandon_on_error(target):
            _, documents = run_partitions(
                scan.scanner(),
                sink,
                parts,
                max_position=checkpoint,
                plan=plan,
                progress=report,
                meanwhile=fold_run_streams,
            )
        target.swap_in(ViewState(checkpoint=checkpoint, plan=plan))
        failpoint("rebuild-after-swap")
        self.catch_up()
        return RebuildStats(events=checkpoint, documents=documents, seconds=time.perf_counter() - started)

    def _pages(self) -> Iterator[list[RawEvent]]:
        position = 0
        while True:
            page = self.events.read_all_raw(after_position=position, limit=self.page_size)
            if not page:
                return
            yield page
            position = page[-1].position

    # --- reading ---------------------------------------------------------------------

    def documents(self) -> Iterator[Document]:
        """Yields every style document, sorted by slug."""
        return self.views.iter_documents()

    def document(self, slug: str) -> Document | None:
        """Returns one style document, or None."""
        return self.views.document(slug)


class _Rebuild:
    """Folds pages into a rebuild target through a bounded cache of documents.

    A document leaves the cache finalized against the plan known at that moment; if a
    later ``RunStarted`` changes the plan, ``finish`` re-finalizes every document once.
    """

    def __init__(self, target: RebuildTarget, cache_size: int) -> None:
        self.target = target
        self.cache_size = cache_size
        self.cache: OrderedDict[str, Document] = OrderedDict()
        #: each cached document's facts (same keys as ``cache``)
        self.facts: dict[str, StyleFacts] = {}
        #: every run's facts (runs are few; written once, at the end)
        self.runs: dict[str, RunFacts] = {}
        self.plan: PlanSpec | None = None
        self.stale = False  # some document was written under a plan that later changed
        self.written = False
        self.slugs: set[str] = set()

    def fold(self, page: list[RawEvent]) -> None:
        """Folds one page of events, evicting the least recently used documents when full."""
        cache = self.cache
        facts = self.facts
        for event in page:
            slug = style_slug(event.stream)
            if slug is None:
                run_id = run_id_of(event.stream)
                if run_id is not None:
                    run = self.runs.get(run_id)
                    if run is None:
                        run = self.runs[run_id] = new_run_facts(run_id)
                    apply_run_facts(run, event)
                if event.type == "RunStarted":
                    plan = plan_of(event)
                    if plan != self.plan:
                        self.stale = self.stale or self.written
                        self.plan = plan
                continue
            doc = cache.get(slug)
            if doc is None:
                doc = self.target.load([slug]).get(slug)
                facts[slug] = self.target.load_facts([slug]).get(slug) or new_style_facts(slug)
            else:
                cache.move_to_end(slug)
            cache[slug] = apply(doc, event)
            apply_style_facts(facts[slug], event)
        if len(cache) > self.cache_size:
            evicted: dict[str, Document] = {}
            while len(cache) > self.cache_size // 2:
                slug, doc = cache.popitem(last=False)
                evicted[slug] = finalize(doc, self.plan)
            self._write(evicted, FactsUpdate(styles={slug: facts.pop(slug) for slug in evicted}))

    def _write(self, documents: dict[str, Document], facts: FactsUpdate | None = None) -> None:
        if documents or facts:
            self.target.write(documents, facts)
            self.written = True
            self.slugs.update(documents)

    def finish(self) -> int:
        """Writes the cache and run facts, re-finalizes if the plan changed; returns the documents."""
        self._write(
            {slug: finalize(doc, self.plan) for slug, doc in self.cache.items()},
            FactsUpdate(styles=self.facts, runs=self.runs),
        )
        self.cache.clear()
        self.facts = {}
        if self.stale:
            batch: dict[str, Document] = {}
            for doc in self.target.iter_documents():
                batch[doc["slug"]] = finalize(doc, self.plan)
                if len(batch) >= 500:
                    self._write(batch)
                    batch = {}
            self._write(batch)
        return len(self.slugs)
