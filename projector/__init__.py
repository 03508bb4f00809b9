"""genjournal's projector: folds the journal into style documents (the read model)."""

from projector.export import export_bytes, write_atomically
from projector.fold import Document, apply, dumps, finalize, fold
from projector.projector import Projector, RebuildStats
from projector.store import RebuildTarget, ViewState, ViewStore
from projector.views import open_views

__all__ = [
    "Document",
    "Projector",
    "RebuildStats",
    "RebuildTarget",
    "ViewState",
    "ViewStore",
    "apply",
    "dumps",
    "export_bytes",
    "finalize",
    "fold",
    "open_views",
    "write_atomically",
]
