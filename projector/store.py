"""The view-store port: where the projection (style documents + checkpoint) is kept.

A view store keeps, next to the journal, the folded style documents and a small state:
the checkpoint (the last journal position folded in) and the plan recorded by the
latest ``RunStarted``. ``commit`` writes documents and state together and only if the
checkpoint is still the one the caller started from (compare-and-swap), so two
projectors catching up at once can never move a document or the checkpoint backwards.

``begin_rebuild`` returns a ``RebuildTarget``: a fresh, invisible copy of the views that
a rebuild fills from the first event and then swaps in atomically. An interrupted
rebuild leaves debris only in that invisible copy, which the next ``begin_rebuild``
clears.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from journal.events import PlanSpec
from projector.fold import Document


@dataclass(frozen=True)
class ViewState:
    """The projection's checkpoint, the plan it measures against, and extra counters."""

    checkpoint: int = 0
    plan: PlanSpec | None = None
    extras: Mapping[str, Any] = field(default_factory=dict)


class RebuildTarget(abc.ABC):
    """A fresh copy of the views being filled by a rebuild, invisible until swapped in."""

    @abc.abstractmethod
    def load(self, slugs: Iterable[str]) -> dict[str, Document]:
        """Returns the documents already written to the target for these slugs."""

    @abc.abstractmethod
    def write(self, documents: Mapping[str, Document]) -> None:
        """Writes (inserts or replaces) documents into the target."""

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
    def commit(self, documents: Mapping[str, Document], *, expected: int, state: ViewState) -> bool:
        """Writes documents and state in one step if the checkpoint is still ``expected``."""

    @abc.abstractmethod
    def begin_rebuild(self) -> RebuildTarget:
        """Clears any debris of an interrupted rebuild and returns a fresh target."""

    @abc.abstractmethod
    def close(self) -> None:
        """Releases connections."""

    def document(self, slug: str) -> Document | None:
        """Returns one stored document, or None."""
        return self.get([slug]).get(slug)
