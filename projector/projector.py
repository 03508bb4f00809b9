"""Projector: keeps the style documents caught up with the journal, and rebuilds them.

``catch_up`` reads the journal from the view store's checkpoint in pages, folds each
page (``projector.fold``) and commits the touched documents together with the new
checkpoint — conditionally, so a concurrent projector that got there first makes this
one re-read instead of writing stale documents. It relies on the store's ``read_all``
promise that a reader remembering the last position it saw never misses a late commit.

``rebuild`` folds the whole journal from the first event into a fresh, invisible target
with a bounded document cache (memory stays flat however long the journal), finalizes
every document against the final plan, swaps the target in atomically and then catches
up with whatever was appended meanwhile.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from journal.events import RunStarted
from journal.failpoints import failpoint
from journal.store import EventStore
from projector.fold import Document, apply, finalize, slug_of
from projector.store import ViewState, ViewStore

Progress = Callable[[int, int], None]


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
            page = self.events.read_all(after_position=state.checkpoint, limit=self.page_size)
            if not page:
                break
            pages += 1
            plan = state.plan
            slugs = {slug for slug in (slug_of(e.stream) for e in page) if slug is not None}
            loaded = self.views.get(slugs)
            touched: dict[str, Document] = {}
            plan_changed = False
            for stored in page:
                if isinstance(stored.event, RunStarted):
                    new_plan = stored.event.data.plan
                    if plan is None or new_plan != plan:
                        plan = new_plan
                        plan_changed = True
                    continue
                slug = slug_of(stored.stream)
                if slug is None:
                    continue
                before = touched.get(slug, loaded.get(slug))
                after = apply(before, stored)
                if after is not before:
                    touched[slug] = after
            if plan_changed:
                for doc in self.views.iter_documents():
                    touched.setdefault(doc["slug"], doc)
            finalized = {slug: finalize(doc, plan) for slug, doc in touched.items()}
            new_state = ViewState(checkpoint=page[-1].position, plan=plan, extras=state.extras)
            if self.views.commit(finalized, expected=state.checkpoint, state=new_state):
                applied += len(page)
                state = new_state
            else:
                # Another projector advanced the checkpoint first: start again from its.
                state = self.views.load_state()
        return applied

    # --- rebuild ---------------------------------------------------------------------

    def rebuild(self, *, progress: Progress | None = None) -> RebuildStats:
        """Recomputes every document from the first event and swaps the result in."""
        started = time.perf_counter()
        total = self.events.last_position()
        target = self.views.begin_rebuild()
        cache: OrderedDict[str, Document] = OrderedDict()
        plan = None
        checkpoint = 0
        folded = 0
        for page in self._pages():
            for stored in page:
                if isinstance(stored.event, RunStarted):
                    plan = stored.event.data.plan
                    continue
                slug = slug_of(stored.stream)
                if slug is None:
                    continue
                doc = cache.pop(slug, None)
                if doc is None:
                    doc = target.load([slug]).get(slug)
                cache[slug] = apply(doc, stored)
            if len(cache) > self.cache_size:
                evicted: dict[str, Document] = {}
                while len(cache) > self.cache_size // 2:
                    slug, doc = cache.popitem(last=False)
                    evicted[slug] = doc
                target.write(evicted)
            checkpoint = page[-1].position
            folded += len(page)
            if progress is not None:
                progress(checkpoint, max(total, checkpoint))
        target.write(dict(cache))
        cache.clear()
        documents = 0
        batch: dict[str, Document] = {}
        for doc in target.iter_documents():
            batch[doc["slug"]] = finalize(doc, plan)
            documents += 1
            if len(batch) >= 500:
                target.write(batch)
                batch = {}
        target.write(batch)
        target.swap_in(ViewState(checkpoint=checkpoint, plan=plan))
        failpoint("rebuild-after-swap")
        self.catch_up()
        return RebuildStats(events=folded, documents=documents, seconds=time.perf_counter() - started)

    def _pages(self) -> Iterator[list]:  # type: ignore[type-arg]
        position = 0
        while True:
            page = self.events.read_all(after_position=position, limit=self.page_size)
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
