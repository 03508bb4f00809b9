"""``genjournal rebuild`` and ``genjournal export``: the projection, recomputed or written out."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from genjournal.cli.common import EXIT_OK, common_options, fail, location, opened


@click.command()
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="Processes folding style streams (SQLite; default: one per CPU for large journals).",
)
@common_options
def rebuild(workers: int | None, data_dir: Path | None, db: str | None) -> int:
    """Rebuild the style documents from the first event and swap them in atomically."""
    from journal.store import LeaseHolder
    from projector.projector import Projector
    from projector.views import open_views

    with opened(location(data_dir, db)) as store, _rebuild_progress() as progress:
        # Two rebuilds at once would clear each other's half-built tables: one at a time.
        holder = LeaseHolder.for_this_process(f"rebuild-{os.getpid()}")
        store.acquire_lease(holder, name="rebuild")
        views = open_views(store)
        try:
            stats = Projector(store, views).rebuild(progress=progress, workers=workers)
        finally:
            views.close()
            store.release_lease(holder, name="rebuild")
    click.echo(
        f"rebuilt {stats.documents} style documents from {stats.events:,} events "
        f"in {stats.seconds:.1f} s ({stats.events_per_second:,.0f} events/s)",
        err=True,
    )
    return EXIT_OK


@contextmanager
def _rebuild_progress() -> Iterator[Callable[[int, int], None]]:
    """Yields a progress callback: a rich bar on a terminal, a line every few seconds otherwise."""
    import time

    if sys.stderr.isatty():
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        with Progress(
            TextColumn("rebuild"),
            BarColumn(),
            TextColumn("{task.completed:,}/{task.total:,} events"),
            TextColumn("{task.fields[rate]}"),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        ) as bar:
            task = bar.add_task("rebuild", total=1, rate="")
            started = time.monotonic()

            def update(done: int, total: int) -> None:
                rate = done / max(time.monotonic() - started, 1e-9)
                bar.update(task, completed=done, total=total, rate=f"{rate:,.0f} events/s")

            yield update
        return
    state = {"last": time.monotonic(), "started": time.monotonic()}

    def line(done: int, total: int) -> None:
        now = time.monotonic()
        if now - state["last"] >= 5:
            state["last"] = now
            rate = done / max(now - state["started"], 1e-9)
            eta = (total - done) / rate if rate else 0
            click.echo(f"rebuild: {done:,}/{total:,} events, {rate:,.0f} events/s, ETA {eta:.0f} s", err=True)

    yield line


@click.command()
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write to this file atomically instead of stdout.",
)
@common_options
def export(out: Path | None, data_dir: Path | None, db: str | None) -> int:
    """Print the style documents as one JSON array, sorted by slug."""
    from projector.export import export_bytes, write_atomically
    from projector.projector import Projector
    from projector.views import open_views

    where = location(data_dir, db)
    if out is not None and not out.parent.is_dir():
        what = "is not a directory" if out.parent.exists() else "does not exist"
        fail(f"--out {out}: {out.parent} {what}")
    with opened(where) as store:
        views = open_views(store)
        try:
            projector = Projector(store, views)
            projector.catch_up()
            data = export_bytes(projector.documents())
        finally:
            views.close()
    if out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        try:
            write_atomically(out, data)
        except OSError as exc:
            fail(f"--out {out}: cannot write it: {exc.strerror or exc}")
        click.echo(f"wrote {out}", err=True)
    return EXIT_OK
