"""Stream names: the journal's two kinds of stream, spelled in one place.

Every event belongs to ``style:<subcategory-slug>`` (a style and everything generated
for it), ``run:<run-id>`` (one generator run: its start, the calls it started, its
end) or ``batch:<batch-id>`` (one Batch API batch: submitted, finished). The envelope of
docs/design.md fixes these names; the projector folds style and run streams and passes
over the others.
"""

from __future__ import annotations

STYLE_PREFIX = "style:"
RUN_PREFIX = "run:"
BATCH_PREFIX = "batch:"


def style_stream(slug: str) -> str:
    """Returns the stream of a style."""
    return f"{STYLE_PREFIX}{slug}"


def run_stream(run_id: str) -> str:
    """Returns the stream of a generator run."""
    return f"{RUN_PREFIX}{run_id}"


def style_slug(stream: str) -> str | None:
    """Returns the slug of a ``style:<slug>`` stream, or None for other streams."""
    return stream[len(STYLE_PREFIX) :] if stream.startswith(STYLE_PREFIX) else None


def run_id_of(stream: str) -> str | None:
    """Returns the run id of a ``run:<run-id>`` stream, or None for other streams."""
    return stream[len(RUN_PREFIX) :] if stream.startswith(RUN_PREFIX) else None


def batch_stream(batch_id: str) -> str:
    """Returns the stream of a Batch API batch."""
    return f"{BATCH_PREFIX}{batch_id}"


def batch_id_of(stream: str) -> str | None:
    """Returns the batch id of a ``batch:<batch-id>`` stream, or None for other streams."""
    return stream[len(BATCH_PREFIX) :] if stream.startswith(BATCH_PREFIX) else None
