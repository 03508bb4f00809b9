"""The ``genjournal`` command line: a thin shell over the journal, projector and generator.

Data goes to stdout (``--json`` prints exactly one JSON document); progress, logs and
human text go to stderr. Exit codes (DESIGN.md): 0 every planned step done, 1 the run
ended with failed steps, 2 bad usage, config or input (nothing written), 130 stopped by
SIGINT/SIGTERM after a clean stop. A user mistake is one line on stderr, never a
traceback.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from journal.config import open_store, resolve_data_dir, resolve_db_url
from journal.errors import EventError, JournalError
from journal.store import EventStore

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class UserError(click.ClickException):
    """A mistake the user can fix: one line on stderr, exit 2."""

    exit_code = EXIT_USAGE


def fail(message: str) -> NoReturn:
    """Stops the command with a one-line error and exit code 2."""
    raise UserError(message)


class GenjournalGroup(click.Group):
    """A click group whose every error is one line on stderr, never a traceback."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        try:
            result = super().main(*args, **kwargs)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else "genjournal"
            click.echo(f"{where}: error: {exc.format_message()}", err=True)
            sys.exit(EXIT_USAGE)
        except click.ClickException as exc:
            click.echo(f"genjournal: error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except (click.exceptions.Abort, KeyboardInterrupt):
            click.echo("genjournal: interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except JournalError as exc:
            click.echo(f"genjournal: error: {_one_line(exc)}", err=True)
            sys.exit(EXIT_USAGE)
        except BrokenPipeError:
            sys.exit(EXIT_OK)
        sys.exit(result if isinstance(result, int) else EXIT_OK)


def _one_line(exc: BaseException) -> str:
    from generator.redaction import redact_secrets

    return redact_secrets(" ".join(str(exc).split()))


def common_options(func: F) -> F:
    """Adds ``--data-dir`` and ``--db`` to a command (they are accepted on the group too)."""
    func = click.option(
        "--db",
        "db",
        metavar="URL",
        default=None,
        help="Journal URL: sqlite:///PATH or mongodb://… (env GENJOURNAL_DB; default: in the data dir).",
    )(func)
    func = click.option(
        "--data-dir",
        "data_dir",
        type=click.Path(path_type=Path),
        default=None,
        help="Where the journal and images live (env GENJOURNAL_DATA_DIR; default ./genjournal-data).",
    )(func)
    return func


class Location:
    """Resolves the data dir and journal URL from command, group and environment."""

    def __init__(self, data_dir: Path | None, db: str | None) -> None:
        ctx = click.get_current_context()
        parent = ctx.find_root().obj or {}
        self.data_dir = resolve_data_dir(data_dir if data_dir is not None else parent.get("data_dir"))
        self.url = resolve_db_url(db if db is not None else parent.get("db"), self.data_dir)

    @contextmanager
    def store(self, *, create: bool = False) -> Iterator[EventStore]:
        """Opens the journal (refusing a missing one unless ``create``) and closes it after."""
        store = open_store(self.url, create=create)
        try:
            yield store
        finally:
            store.close()


def emit_json(document: Any) -> None:
    """Prints exactly one JSON document on stdout."""
    click.echo(json.dumps(document, ensure_ascii=False, indent=2))


@click.group(cls=GenjournalGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--data-dir", "data_dir", type=click.Path(path_type=Path), default=None, hidden=True)
@click.option("--db", "db", default=None, hidden=True)
@click.version_option("0.1.0", prog_name="genjournal")
@click.pass_context
def cli(ctx: click.Context, data_dir: Path | None, db: str | None) -> None:
    """A crash-safe, event-sourced journal for long, expensive AI generation batches."""
    ctx.obj = {"data_dir": data_dir, "db": db}


# --- run ------------------------------------------------------------------------------


@cli.command()
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(path_type=Path),
    default=None,
    help="TOML plan (default: the shipped 60 × 24 catalogue).",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    help="Only the first N styles that still have pending work, in plan order.",
)
@click.option(
    "--subcategory",
    "subcategories",
    multiple=True,
    metavar="SLUG",
    help="Only this sub-category (repeatable).",
)
@click.option("--only-failed", is_flag=True, help="Only retry steps that failed and never succeeded.")
@click.option(
    "--provider",
    type=click.Choice(["openai", "offline"]),
    default=None,
    help="Default: openai when OPENAI_API_KEY is set, otherwise offline.",
)
@click.option("--text-model", default=None, help="Text model (default from settings).")
@click.option("--image-model", default=None, help="Image model (default from settings).")
@click.option("--image-size", default=None, help="Image size, e.g. 1024x1024.")
@click.option("--image-quality", default=None, help="Image quality, e.g. low, medium, high.")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=4,
    show_default=True,
    help="Provider calls in flight at once.",
)
@click.option(
    "--max-attempts",
    type=click.IntRange(1, 20),
    default=4,
    show_default=True,
    help="Attempts per step in this run before a failure event is recorded.",
)
@click.option(
    "--rpm",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Cap on text requests per minute.",
)
@click.option(
    "--ipm",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Cap on image requests per minute.",
)
@click.option(
    "--budget-usd",
    type=click.FloatRange(min=0),
    default=None,
    help="Stop before the journal's total spend for this plan would exceed this.",
)
@click.option(
    "--prices",
    "prices_file",
    type=click.Path(path_type=Path),
    default=None,
    help="Price table TOML overriding the shipped one.",
)
@click.option("--log-json", is_flag=True, help="Structured JSON log lines on stderr instead of progress.")
@common_options
def run(
    plan_file: Path | None,
    limit: int | None,
    subcategories: tuple[str, ...],
    only_failed: bool,
    provider: str | None,
    text_model: str | None,
    image_model: str | None,
    image_size: str | None,
    image_quality: str | None,
    concurrency: int,
    max_attempts: int,
    rpm: float | None,
    ipm: float | None,
    budget_usd: float | None,
    prices_file: Path | None,
    log_json: bool,
    data_dir: Path | None,
    db: str | None,
) -> int:
    """Run the pending steps of the plan (every run resumes from the journal)."""
    from generator.logs import configure_logging
    from generator.plan import load_plan
    from generator.progress import make_reporter
    from generator.providers.factory import make_provider
    from generator.settings import ProviderSettings

    configure_logging(json_lines=log_json)
    # Everything the user gave is checked before the data dir is touched.
    loaded = load_plan(plan_file)
    known = {entry.slug for entry in loaded.spec.subcategories}
    for slug in subcategories:
        if slug not in known:
            fail(
                f"--subcategory {slug!r} is not in the plan ({loaded.source}); "
                f"known: {', '.join(sorted(known)[:8])}{', …' if len(known) > 8 else ''}"
            )
    location = Location(data_dir, db)
    chosen = provider or ("openai" if os.environ.get("OPENAI_API_KEY") else "offline")
    if chosen == "openai" and not os.environ.get("OPENAI_API_KEY"):
        fail("--provider openai needs OPENAI_API_KEY in the environment")
    if provider is None and chosen == "offline":
        click.echo("genjournal: OPENAI_API_KEY is not set; using the offline provider", err=True)
    settings = ProviderSettings.resolve(
        text_model=text_model, image_model=image_model, image_size=image_size, image_quality=image_quality
    )
    budget = None
    if budget_usd is not None:
        from generator.budget import BudgetGuard

        budget = BudgetGuard.prepare(budget_usd, prices_file, chosen, settings)
    prov = make_provider(chosen, settings)
    reporter = make_reporter(log_json=log_json)
    run_settings = {
        "concurrency": concurrency,
        "max_attempts": max_attempts,
        "limit": limit,
        "subcategories": list(subcategories) or None,
        "only_failed": only_failed,
        "image_size": prov.image_size,
        "image_quality": prov.image_quality,
        "rpm": rpm,
        "ipm": ipm,
        "budget_usd": budget_usd,
    }
    return asyncio.run(_run_async(location, loaded, prov, reporter, run_settings, budget, rpm=rpm, ipm=ipm))


async def _run_async(
    location: Location,
    loaded: Any,
    provider: Any,
    reporter: Any,
    settings: dict[str, Any],
    budget: Any,
    *,
    rpm: float | None,
    ipm: float | None,
) -> int:
    from generator.ratelimit import RateLimiter
    from generator.runner import Runner, RunOptions, new_run_id
    from journal.blobs import BlobStore
    from journal.store import LeaseHolder
    from projector.projector import Projector
    from projector.views import open_views

    run_id = new_run_id()
    _refuse_orphaned_images(location)
    store = open_store(location.url, create=True)
    views = None
    runner: Runner | None = None
    lease = LeaseHolder.for_this_process(run_id)
    try:
        store.acquire_lease(lease)
        try:
            views = open_views(store)
            if budget is not None:
                budget.attach(store, loaded)
            runner = Runner(
                store=store,
                projector=Projector(store, views),
                blobs=BlobStore(location.data_dir),
                provider=provider,
                plan=loaded,
                options=RunOptions(
                    subcategories=settings["subcategories"],
                    limit=settings["limit"],
                    only_failed=settings["only_failed"],
                    concurrency=settings["concurrency"],
                    max_attempts=settings["max_attempts"],
                    settings=settings,
                ),
                reporter=reporter,
                limiters={"text": RateLimiter(per_minute=rpm), "image": RateLimiter(per_minute=ipm)},
                budget=budget,
                run_id=run_id,
            )
            _install_signal_handlers(runner)
            report = await runner.run(lease)
            if report.exit_code == EXIT_USAGE and report.message:
                click.echo(f"genjournal run: error: {report.message}", err=True)
            return report.exit_code
        finally:
            if runner is not None:
                await runner.aclose()
            store.release_lease(lease)
    except EventError as exc:
        raise UserError(f"the journal cannot be replayed: {_one_line(exc)}") from exc
    finally:
        await provider.aclose()
        if views is not None:
            views.close()
        store.close()


def _refuse_orphaned_images(location: Location) -> None:
    """Refuses to start a new journal in a data dir whose images belong to a lost one."""
    from journal.blobs import BlobStore

    if location.url.startswith("sqlite:///"):
        from journal.config import sqlite_path

        path = sqlite_path(location.url)
        fresh = not path.exists() or path.stat().st_size == 0
    else:
        return  # a MongoDB journal may share a data dir's images legitimately; checked after opening
    if fresh and next(BlobStore(location.data_dir).iter_blobs(), None) is not None:
        fail(
            f"the journal {path} is missing or empty, but {location.data_dir / 'images'} holds images of an "
            "earlier journal; starting over would pay for them again. Restore the journal, or move images/ "
            "away to start fresh"
        )


def _install_signal_handlers(runner: Any) -> None:
    loop = asyncio.get_running_loop()
    seen = {"count": 0}

    def handle(signum: int) -> None:
        seen["count"] += 1
        if seen["count"] > 1:
            # The journal is consistent at every instant; nothing needs flushing.
            os.write(2, b"genjournal: second signal, exiting now\n")
            os._exit(EXIT_INTERRUPTED)
        name = signal.Signals(signum).name
        os.write(
            2, f"genjournal: {name}: finishing in-flight calls (up to 10 s); again to exit now\n".encode()
        )
        runner.request_stop("interrupted", f"stopped by {name}")

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, handle, signum)


# --- projection commands --------------------------------------------------------------


@cli.command()
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

    location = Location(data_dir, db)
    with location.store() as store, _rebuild_progress() as progress:
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


@cli.command()
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

    location = Location(data_dir, db)
    if out is not None and not out.parent.exists():
        fail(f"--out {out}: the directory {out.parent} does not exist")
    with location.store() as store:
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
        write_atomically(out, data)
        click.echo(f"wrote {out}", err=True)
    return EXIT_OK


def main() -> None:
    """Runs the ``genjournal`` console script."""
    cli.main(prog_name="genjournal")


__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "cli", "main"]
from generator import audit_cli  # noqa: E402,F401 - registers status/history/costs/verify
from generator.web import cli as _web_cli  # noqa: E402,F401 - registers serve
