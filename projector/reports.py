"""The shapes of the audit reports: what ``status``, ``history``, ``costs`` and ``verify`` return.

These pydantic models are the contract of both the Python API (``projector.audit``) and
the command line: ``genjournal <command> --json`` prints exactly
``report.model_dump(mode="json")`` (``history``: a JSON array of ``HistoryEntry``), so
a script can validate what it reads with the same models. Money is in US dollars; a
``None`` amount means *unknown* (some usage has no price), never zero.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Report(BaseModel):
    """Base of every report model: immutable and strict about its keys."""

    model_config = ConfigDict(frozen=True, extra="forbid")


# --- status ------------------------------------------------------------------------------


class StyleCounts(Report):
    """How many planned styles are in each state (they add up to ``planned_styles``)."""

    complete: int = 0
    partial: int = 0
    basic: int = 0
    missing: int = 0
    failed: int = 0


class StepCounts(Report):
    """Planned rooms or images: done, failed (last attempt failed), pending (the rest)."""

    planned: int = 0
    done: int = 0
    failed: int = 0
    pending: int = 0


class StyleProgress(Report):
    """One incomplete planned style: its state and how far its rooms and images are."""

    slug: str
    status: Literal["partial", "basic", "failed", "missing"]
    rooms_done: int = 0
    rooms_failed: int = 0
    rooms_planned: int = 0
    images_done: int = 0
    images_failed: int = 0
    images_planned: int = 0


class RunSummary(Report):
    """One generator run: when, with what, how it ended (or that it crashed)."""

    run_id: str
    state: Literal["finished", "running", "crashed"]
    started_at: str | None = None
    finished_at: str | None = None
    outcome: str | None = None
    provider: str | None = None
    text_model: str | None = None
    image_model: str | None = None
    plan_hash: str | None = None
    #: paid calls the run started (``StepStarted``) and those whose result it journaled
    calls_started: int = 0
    calls_recorded: int = 0
    #: started paid calls whose result never reached the journal (crash overhead)
    calls_lost: int = 0


class Spend(Report):
    """Money spent according to the journal and the price table."""

    usd: float | None = Field(description="recorded usage priced; None if any of it has no price")
    usd_priced: float = 0.0
    unpriced_steps: int = 0
    unknown_models: list[str] = Field(default_factory=list)
    #: estimated cost of paid calls lost in crashes (None: cannot be estimated)
    crash_overhead_usd: float | None = 0.0


class ProjectionInfo(Report):
    """How current the read models are."""

    checkpoint: int
    journal_position: int
    behind: int
    note: str | None = None


class RegenerationCounts(Report):
    """Steps a regeneration request made pending again, not yet done in their new generation."""

    awaiting: int = 0
    content: int = 0
    rooms: int = 0
    images: int = 0


class StatusReport(Report):
    """What is complete, partial, basic, missing or failed, against the latest run's plan."""

    planned_styles: int
    styles: StyleCounts
    rooms: StepCounts
    images: StepCounts
    incomplete: list[str]
    incomplete_detail: list[StyleProgress]
    last_run: RunSummary | None = None
    runs: int = 0
    crashed_runs: list[str] = Field(default_factory=list)
    spent: Spend
    projection: ProjectionInfo
    #: steps awaiting their next generation (``genjournal regenerate``)
    regeneration: RegenerationCounts = RegenerationCounts()
    #: this journal's Batch API batches: total, open, finished, adopted, steps_in_open, open_ids
    batches: dict[str, Any] = Field(default_factory=dict)


# --- history -----------------------------------------------------------------------------


class HistoryEntry(Report):
    """One stored event as the envelope of docs/design.md (``history --json`` items)."""

    id: str
    stream: str
    version: int
    position: int
    type: str
    schema_version: int
    recorded_at: str
    run_id: str | None = None
    step: str | None = None
    data: dict[str, Any]
    meta: dict[str, Any]


# --- costs -------------------------------------------------------------------------------


class Unpriced(Report):
    """Usage that has no price in the table (so its cost is unknown)."""

    steps: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    images: int = 0


class CostLine(Report):
    """Usage and money of one group (a style, run, model or day; or the total)."""

    key: str
    steps: int = 0
    failures: int = 0
    billed_failures: int = 0
    attempts: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    images: int = 0
    usd: float | None = Field(description="the cost; None (unknown) when part of the usage has no price")
    usd_priced: float = 0.0
    unpriced: Unpriced = Unpriced()
    unknown_models: list[str] = Field(default_factory=list)
    #: the price sources (and versions) that priced this line's usage
    priced_by: list[str] = Field(default_factory=list)
    #: what the line's Batch API results saved against the live price (priced usage only)
    batch_saved_usd: float = 0.0


class LostCall(Report):
    """A paid call a crashed run started whose result never reached the journal."""

    run_id: str
    stream: str
    step: str
    kind: Literal["text", "image"]
    #: the later run that journaled this step again (None: still pending)
    re_requested_by: str | None = None


class CrashOverhead(Report):
    """Paid calls lost in crashes: started, never journaled; counted and estimated."""

    crashed_runs: list[str] = Field(default_factory=list)
    lost_calls: int = 0
    lost_text_calls: int = 0
    lost_image_calls: int = 0
    estimated_usd: float | None = 0.0
    re_requested: int = 0
    calls: list[LostCall] = Field(default_factory=list)


class PriceSource(Report):
    """Which price table priced a report."""

    source: str
    as_of: str


class RegenerationSpend(Report):
    """What regenerations cost (results of generation 2 and later), apart from first-time spend."""

    #: regeneration requests journaled (``StepRegenerationRequested``)
    requested: int = 0
    #: success and failure events of generation 2 and later
    steps: int = 0
    failures: int = 0
    usd: float | None = 0.0
    usd_priced: float = 0.0
    unpriced_steps: int = 0
    #: the total minus the regenerations (None when either is unknown)
    first_time_usd: float | None = 0.0


class CostReport(Report):
    """Tokens, images and money, grouped; plus the crash overhead and the regeneration spend."""

    by: Literal["style", "run", "model", "day"]
    prices: PriceSource
    lines: list[CostLine]
    total: CostLine
    crash_overhead: CrashOverhead
    regeneration: RegenerationSpend = RegenerationSpend()


# --- verify ------------------------------------------------------------------------------


class Finding(Report):
    """One kind of problem verify found, how often, and a few examples."""

    check: str
    severity: Literal["error", "info"]
    count: int
    message: str
    examples: list[str] = Field(default_factory=list)


class VerifyReport(Report):
    """What verify checked and found; ``ok`` when no finding is an error."""

    ok: bool
    backend: str
    events: int
    streams: int
    images_checked: int
    blobs: int
    documents_checked: int
    findings: list[Finding]
    repair: list[str] = Field(default_factory=list)
