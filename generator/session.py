"""One generator run wired end to end: the single call the ``run`` command makes.

``RunSettings`` is everything a user chose, checked when it is built (``prepare``), so
that a mistake is a one-line ``ConfigError`` before the data dir is touched.
``run_session`` then does the rest in its fixed order: refuse to start a new journal
beside images of a lost one, open (or create) the journal, take the run lease, open the
projection, read the budget's earlier spend, and hand the wiring to the ``Runner``; it
releases everything again whatever happens.
"""

from __future__ import annotations

import asyncio
import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import structlog

from generator.budget import BudgetGuard
from generator.concurrency import DEFAULT_MAX
from generator.outcome import EXIT_INTERRUPTED, RunReport
from generator.plan import LoadedPlan
from generator.progress import Reporter
from generator.prompts import load_prompts
from generator.providers.base import Provider
from generator.providers.factory import make_provider
from generator.providers.openai.provider import OpenAIProvider
from generator.ratelimit import RateLimiter, link
from generator.runner import Runner, RunOptions, new_run_id
from generator.settings import ProviderSettings
from journal.blobs import BlobStore
from journal.config import Location, open_store, sqlite_path
from journal.errors import ConfigError, EventError, StoreError
from journal.redaction import one_line
from journal.store import LeaseHolder
from projector.projector import Projector
from projector.views import open_views

ProviderName = Literal["openai", "offline"]


@dataclass(frozen=True)
class RunSettings:
    """What one run was asked to do, checked against its plan."""

    plan: LoadedPlan
    provider: ProviderName
    models: ProviderSettings
    subcategories: tuple[str, ...] = ()
    limit: int | None = None
    only_failed: bool = False
    #: a hard cap on calls in flight (None: they follow the provider's limits)
    concurrency: int | None = None
    max_concurrency: int = DEFAULT_MAX
    max_attempts: int = 4
    rpm: float | None = None
    ipm: float | None = None
    budget_usd: float | None = None
    prices_file: Path | None = None
    #: the user's prompt templates, laid over the shipped ones (None: the shipped ones)
    prompts_file: Path | None = None
    #: through the Batch API (``run --batch``), and whether to return once submitted
    batch: bool = False
    detach: bool = False

    def __post_init__(self) -> None:
        if self.batch and self.provider != "openai":
            raise ConfigError(
                "--batch needs the OpenAI provider (set OPENAI_API_KEY, --provider openai): "
                "the offline provider has no Batch API"
            )
        if self.detach and not self.batch:
            raise ConfigError("--detach goes with --batch (a live run cannot leave its calls running)")
        known = {entry.slug for entry in self.plan.spec.subcategories}
        for slug in self.subcategories:
            if slug not in known:
                shown = ", ".join(sorted(known)[:8]) + (", …" if len(known) > 8 else "")
                raise ConfigError(
                    f"--subcategory {slug!r} is not in the plan ({self.plan.source}); known: {shown}"
                )

    def recorded(self, provider: Provider, gateway: str | None = None) -> dict[str, Any]:
        """Returns the settings ``RunStarted`` records (the provider's resolved image options).

        ``gateway`` names a gateway the provider recognised in front of the API (recorded
        only when there is one: its retries are calls the journal cannot see).
        """
        recorded: dict[str, Any] = {
            "concurrency": self.concurrency,
            "max_concurrency": self.max_concurrency,
            "max_attempts": self.max_attempts,
            "limit": self.limit,
            "subcategories": list(self.subcategories) or None,
            "only_failed": self.only_failed,
            "image_size": provider.image_size,
            "image_quality": provider.image_quality,
            "rpm": self.rpm,
            "ipm": self.ipm,
            "budget_usd": self.budget_usd,
        }
        if self.prompts_file is not None:
            recorded["prompts"] = str(Path(self.prompts_file).resolve())
        if gateway is not None:
            recorded["gateway"] = gateway
        if self.batch:
            recorded["batch"] = True
            recorded["detach"] = self.detach
        return recorded


def choose_provider(requested: str | None) -> tuple[ProviderName, str | None]:
    """Returns the provider a run uses and a note for the user when it was chosen for them.

    Without ``--provider`` a run pays only when ``OPENAI_API_KEY`` is set; asking for
    ``openai`` without a key is refused (``ConfigError``).
    """
    has_key = bool(os.environ.get("OPENAI_API_KEY"))
    if requested == "openai" and not has_key:
        raise ConfigError("--provider openai needs OPENAI_API_KEY in the environment")
    if requested == "offline" or (requested is None and not has_key):
        note = None if requested else "OPENAI_API_KEY is not set; using the offline provider"
        return "offline", note
    return "openai", None


def run_session(location: Location, settings: RunSettings, reporter: Reporter) -> RunReport:
    """Runs the plan's pending steps into the journal at ``location``; returns how it ended.

    Raises ``ConfigError`` (nothing written) for what the user must fix first, and
    ``EventError`` wrapped as ``ConfigError`` when the journal cannot be replayed.
    """
    budget = None
    if settings.budget_usd is not None:
        budget = BudgetGuard.prepare(
            settings.budget_usd, settings.prices_file, settings.provider, settings.models
        )
    prompts = load_prompts(settings.prompts_file)  # a bad file: one line, nothing written
    provider = make_provider(settings.provider, settings.models, prompts)
    return asyncio.run(_run(location, settings, provider, reporter, budget))


async def _run(
    location: Location,
    settings: RunSettings,
    provider: Provider,
    reporter: Reporter,
    budget: BudgetGuard | None,
) -> RunReport:
    run_id = new_run_id()
    try:
        refuse_orphaned_images(location)
        store = open_store(location.url, create=True)
    except BaseException:
        await provider.aclose()
        raise
    views = None
    runner: Runner | None = None
    lease = LeaseHolder.for_this_process(run_id)
    try:
        store.acquire_lease(lease)
        try:
            views = open_views(store)
            gateway = await _probe_gateway(provider)
            if budget is not None:
                budget.attach(store, settings.plan)
            runner_class: type[Runner] = Runner
            extra: dict[str, Any] = {}
            if settings.batch or isinstance(provider, OpenAIProvider):
                # Batch-aware: a live run collects finished batches and leaves open ones alone.
                from generator.batch_run import BatchRunner, LiveRunner

                runner_class = LiveRunner
                if settings.batch:
                    runner_class, extra = BatchRunner, {"detach": settings.detach}
            runner = runner_class(
                store=store,
                projector=Projector(store, views),
                blobs=BlobStore(location.data_dir),
                provider=provider,
                plan=settings.plan,
                options=RunOptions(
                    subcategories=list(settings.subcategories) or None,
                    limit=settings.limit,
                    only_failed=settings.only_failed,
                    concurrency=settings.concurrency,
                    max_concurrency=settings.max_concurrency,
                    max_attempts=settings.max_attempts,
                    settings=settings.recorded(provider, gateway),
                ),
                reporter=reporter,
                limiters=_limiters(settings),
                budget=budget,
                run_id=run_id,
                **extra,
            )
            _install_signal_handlers(runner)
            return await runner.run(lease)
        finally:
            if runner is not None:
                await runner.aclose()
            try:
                store.release_lease(lease)
            except StoreError as exc:
                # A full disk can refuse even this last write; the run's outcome stands, and
                # the next run takes a lease whose holder is gone over (same host, dead pid).
                structlog.get_logger("genjournal.run").info(
                    "the run lease could not be released", error=one_line(exc)
                )
    except EventError as exc:
        raise ConfigError(f"the journal cannot be replayed: {one_line(exc)}") from exc
    finally:
        await provider.aclose()
        if views is not None:
            views.close()
        store.close()


def _limiters(settings: RunSettings) -> dict[str, RateLimiter]:
    """Returns the run's rate limiters, one per family, linked to detect a shared limit."""
    text = RateLimiter("text", per_minute=settings.rpm)
    image = RateLimiter("image", per_minute=settings.ipm)
    link(text, image)
    return {"text": text, "image": image}


async def _probe_gateway(provider: Provider) -> str | None:
    """Returns the name of a gateway the provider sees in front of the API (it warns once)."""
    probe = getattr(provider, "probe", None)
    if probe is None:
        return None
    found = await probe()
    return None if found is None else str(found.name)


def refuse_orphaned_images(location: Location) -> None:
    """Refuses to start a new journal in a data dir whose images belong to a lost one.

    A missing or empty SQLite journal beside stored images means the journal was lost or
    moved: starting over would pay for every one of those images again. (A MongoDB
    journal may share a data dir's images legitimately.)
    """
    if not location.url.startswith("sqlite:///"):
        return
    path = sqlite_path(location.url)
    fresh = not path.exists() or path.stat().st_size == 0
    if fresh and next(BlobStore(location.data_dir).iter_blobs(), None) is not None:
        raise ConfigError(
            f"the journal {path} is missing or empty, but {location.data_dir / 'images'} holds images of an "
            "earlier journal; starting over would pay for them again. Restore the journal, or move images/ "
            "away to start fresh"
        )


def _install_signal_handlers(runner: Runner) -> None:
    """SIGINT/SIGTERM stop the run cleanly; a second one exits at once."""
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
