"""The view-store port: where the projection (style documents + checkpoint) is kept.

A view store keeps, next to the journal, the folded style documents and a small state:
the checkpoint (the last journal position folded in) and the plan recorded by the
latest ``RunStarted``. ``commit`` writes documents and state together and only if the
checkpoint is still the one the caller started from (compare-and-swap), so two
projectors catching up at once can never move a document or the checkpoint backwards.

Next to them it keeps the audit facts of ``projector.facts`` (per-style usage sums and
per-run facts), written by the same ``commit`` as the documents and the checkpoint, and
answers the audit queries over them (status totals, usage sums) without a replay.

``begin_rebuild`` returns a ``RebuildTarget``: a fresh, invisible copy of the views that
a rebuild fills from the first event and then swaps in atomically. An interrupted
rebuild leaves debris only in that invisible copy, which the next ``begin_rebuild``
clears.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Protocol

from journal.errors import StoreError
from journal.events import PlanSpec
from projector.facts import RunFacts, StyleFacts
from projector.fold import Document


class ProjectionDamagedError(StoreError):
    """Reports a stored document or state the projection cannot read back (derived data: rebuild it)."""

    def __init__(self, what: str) -> None:
        super().__init__(
            f"the projection is damaged ({what}); `genjournal rebuild` recomputes it from the journal"
        )


@dataclass(frozen=True)
class ViewState:
    """The projection's checkpoint, the plan it measures against, and extra counters."""

    checkpoint: int = 0
    plan: PlanSpec | None = None
    extras: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FactsUpdate:
    """Audit facts to write with a commit: whole per-style and per-run facts, replacing."""

    styles: Mapping[str, StyleFacts] = field(default_factory=dict)
    runs: Mapping[str, RunFacts] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.styles or self.runs)


#: one row of ``ViewStore.progress_totals``: (status, styles, rooms done, rooms failed,
#: images done, images failed), over the documents of styles in the plan
ProgressTotal = tuple[str, int, int, int, int, int]
#: one row of ``ViewStore.incomplete_styles``: (slug, status, rooms done, rooms failed,
#: rooms planned, images done, images failed, images planned)
StyleProgress = tuple[str, str, int, int, int, int, int, int]
#: one row of ``ViewStore.cost_sums``: (group, day, kind, model, image size, image
#: quality, *COST_FIELDS); "" = not recorded
CostSum = tuple[Any, ...]
#: what ``cost_sums`` can group by (None: everything in one group, "")
GROUPS = ("style", "run", "model", "day")


class PartitionWriter(Protocol):
    """Writes one worker's share of a parallel rebuild into the target."""

    def write(self, documents: Mapping[str, Document], facts: FactsUpdate) -> None:
        """Inserts finished documents and their style facts (each style is written once)."""
        ...

    def close(self) -> None:
        """Releases the writer's connection."""
        ...


class PartitionSink(Protocol):
    """A picklable handle that opens a ``PartitionWriter`` on a rebuild target, in any process."""

    def open(self) -> PartitionWriter:
        """Opens a writer (the caller closes it)."""
        ...


class RebuildTarget(abc.ABC):
    """A fresh copy of the views being filled by a rebuild, invisible until swapped in."""

    def partition_sink(self) -> PartitionSink | None:
        """Returns a handle for writing from worker processes, or None (rebuild in one pass)."""
        return None

    @abc.abstractmethod
    def load(self, slugs: Iterable[str]) -> dict[str, Document]:
        """Returns the documents already written to the target for these slugs."""

    @abc.abstractmethod
    def write(self, documents: Mapping[str, Document], facts: FactsUpdate | None = None) -> None:
        """Writes (inserts or replaces) documents, and audit facts, into the target."""

    @abc.abstractmethod
    def load_facts(self, slugs: Iterable[str]) -> dict[str, StyleFacts]:
        """Returns the style facts already written to the target for these slugs."""

    @abc.abstractmethod
    def iter_documents(self, page_size: int = 500) -> Iterator[Document]:
        """Yields every document in the target, by slug."""

    @abc.abstractmethod
    def swap_in(self, state: ViewState) -> None:
        """Stores the state and atomically replaces the live views with the target."""

    @abc.abstractmethod
    def abandon(self) -> None:
        """Drops the target without touching the live views."""


class ViewStore(abc.ABC):
    """Keeps style documents and the projection state next to the journal."""

    def snapshot(self) -> AbstractContextManager[None]:
        """Returns a context in which this thread's reads all see one committed state.

        ``verify`` checks the projection inside one, so a run catching the projection up
        meanwhile cannot make the checkpoint and the documents disagree. The default holds
        no snapshot (a backend without read transactions: its reads are each consistent).
        """
        return nullcontext()

    @abc.abstractmethod
    def load_state(self) -> ViewState:
        """Returns the current checkpoint and plan (zero and None before any catch-up)."""

    @abc.abstractmethod
    def get(self, slugs: Iterable[str]) -> dict[str, Document]:
        """Returns the stored documents for these slugs (missing ones are absent)."""

    @abc.abstractmethod
    def iter_documents(self, page_size: int = 500) -> Iterator[Document]:
        """Yields every stored document, sorted by slug."""

    @abc.abstractmethod
    def commit(
        self,
        documents: Mapping[str, Document],
        *,
        expected: int,
        state: ViewState,
        facts: FactsUpdate | None = None,
    ) -> bool:
        """Writes documents, facts and state in one step if the checkpoint is still ``expected``."""

    @abc.abstractmethod
    def begin_rebuild(self) -> RebuildTarget:
        """Clears any debris of an interrupted rebuild and returns a fresh target."""

    @abc.abstractmethod
    def close(self) -> None:
        """Releases connections."""

    def document(self, slug: str) -> Document | None:
        """Returns one stored document, or None."""
        return self.get([slug]).get(slug)

    # --- audit facts and the queries over them (see projector.facts) -------------------

    @abc.abstractmethod
    def get_style_facts(self, slugs: Iterable[str]) -> dict[str, StyleFacts]:
        """Returns the stored facts of these styles (missing ones are absent)."""

    @abc.abstractmethod
    def get_runs(self, run_ids: Iterable[str]) -> dict[str, RunFacts]:
        """Returns the stored facts of these runs (missing ones are absent)."""

    @abc.abstractmethod
    def iter_style_facts(self) -> Iterator[StyleFacts]:
        """Yields every style's stored facts, sorted by slug."""

    @abc.abstractmethod
    def runs(self) -> list[RunFacts]:
        """Returns every run's stored facts, oldest start first."""

    @abc.abstractmethod
    def progress_totals(self) -> list[ProgressTotal]:
        """Returns per-status sums of the progress of the planned styles' documents."""

    @abc.abstractmethod
    def incomplete_styles(self) -> list[StyleProgress]:
        """Returns the progress of every planned style whose document is not complete."""

    @abc.abstractmethod
    def planned_slugs(self) -> list[str]:
        """Returns the slugs of the planned styles that have a document."""

    @abc.abstractmethod
    def cost_sums(self, by: str | None = None, *, run_ids: Iterable[str] | None = None) -> list[CostSum]:
        """Returns usage sums grouped by ``by`` (one of ``GROUPS``) and the price dimensions."""
