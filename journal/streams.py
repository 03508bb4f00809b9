"""Stream names: the journal's two kinds of stream, spelled in one place.

Every event belongs to ``style:<subcategory-slug>`` (a style and everything generated
for it) or ``run:<run-id>`` (one generator run: its start, the calls it started, its
end). The envelope of docs/design.md fixes these names.
"""

from __future__ import annotations

STYLE_PREFIX = "style:"
RUN_PREFIX = "run:"


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
