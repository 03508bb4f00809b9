"""The audit commands: ``status``, ``history``, ``costs`` and ``verify``.

Each is a thin shell over ``projector.audit``: ``--json`` prints exactly the report
model's JSON (docs/design.md); without it, a short table — the command's data — goes to stdout. Heavy
modules are imported inside the commands, so ``genjournal --help`` and every other
command start fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from genjournal.cli.common import EXIT_FAILED, EXIT_OK, common_options, emit_json, fail, location

if TYPE_CHECKING:
    from projector.audit import AuditLog
    from projector.reports import CostLine, CostReport, HistoryEntry, StatusReport, VerifyReport

#: incomplete styles listed by the human ``status`` table (``--json`` lists them all)
SHOWN_INCOMPLETE = 15
#: above this many list items, ``--json`` is printed compact: indenting is pure Python,
#: and a million-event journal's status lists thousands of styles
PRETTY_ITEMS = 2_000

_prices_option = click.option(
    "--prices",
    "prices_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Price table TOML overriding the shipped one (projector/prices.toml).",
)
_json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")


def _audit(
    data_dir: Path | None, db: str | None, prices_file: Path | None, *, refresh: bool = True
) -> AuditLog:
    """Opens the journal for audit queries (a missing one is a one-line error, exit 2)."""
    from projector.audit import open_audit_log

    return open_audit_log(
        location(data_dir, db),
        prices=prices_file,
        refresh=refresh,
        notify=lambda line: click.echo(f"genjournal: {line}", err=True),
    )


def _emit(document: Any) -> None:
    """Prints one JSON document: indented like every command's, compact when it is large."""
    items = len(document) if isinstance(document, list) else 0
    if isinstance(document, dict):
        items = sum(len(value) for value in document.values() if isinstance(value, list | dict))
    if items <= PRETTY_ITEMS:
        emit_json(document)
    else:
        click.echo(json.dumps(document, ensure_ascii=False, separators=(",", ":")))


def _usd(value: float | None, *, partial: float | None = None) -> str:
    if value is None:
        return f"${partial:,.2f} + unknown" if partial else "unknown"
    if 0 < value < 1:
        # Single calls cost fractions of a cent: keep their digits, not two decimals.
        return "$" + (f"{value:.6f}".rstrip("0").rstrip(".") or "0")
    return f"${value:,.2f}"


def _n(value: int) -> str:
    return f"{value:,}"


def _table(rows: list[list[str]], right: set[int] | None = None) -> str:
    """Formats rows (the first is the header) as aligned columns."""
    right = right or set()
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [cell.rjust(widths[i]) if i in right else cell.ljust(widths[i]) for i, cell in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


# --- status ------------------------------------------------------------------------------


@click.command()
@_json_option
@_prices_option
@common_options
def status(as_json: bool, prices_file: Path | None, data_dir: Path | None, db: str | None) -> int:
    """Show what is complete, partial, basic, missing or failed, the last run and the spend."""
    with _audit(data_dir, db, prices_file) as journal:
        report = journal.status()
    if as_json:
        _emit(report.model_dump(mode="json"))
    else:
        click.echo(_status_text(report))
    return EXIT_OK


def _status_text(report: StatusReport) -> str:
    s, rooms, images = report.styles, report.rooms, report.images
    lines = [
        f"planned styles: {_n(report.planned_styles)}",
        f"styles   complete {_n(s.complete)}  partial {_n(s.partial)}  basic {_n(s.basic)}"
        f"  failed {_n(s.failed)}  missing {_n(s.missing)}",
        f"rooms    done {_n(rooms.done)} / {_n(rooms.planned)}  failed {_n(rooms.failed)}"
        f"  pending {_n(rooms.pending)}",
        f"images   done {_n(images.done)} / {_n(images.planned)}  failed {_n(images.failed)}"
        f"  pending {_n(images.pending)}",
    ]
    regen = report.regeneration
    if regen.awaiting:
        lines.append(
            f"regenerate {_n(regen.awaiting)} step(s) await a new generation (content {_n(regen.content)}, "
            f"rooms {_n(regen.rooms)}, images {_n(regen.images)}): `genjournal run` does them"
        )
    run = report.last_run
    if run is None:
        lines.append("last run none recorded")
    else:
        if run.state == "finished":
            how = f"finished {run.finished_at} ({run.outcome})"
        elif run.state == "running":
            how = "running now"
        else:
            how = f"CRASHED (no RunFinished, its process is gone; {run.calls_lost} paid call(s) lost)"
        lines.append(f"last run {run.run_id}: started {run.started_at}, {how}")
    if report.crashed_runs:
        lines.append(f"crashed  {len(report.crashed_runs)} run(s): {', '.join(report.crashed_runs[-5:])}")
    spent = report.spent
    text = f"spent    {_usd(spent.usd, partial=spent.usd_priced)}"
    if spent.unknown_models:
        text += f" ({_n(spent.unpriced_steps)} step(s) unpriced: {', '.join(spent.unknown_models)})"
    if spent.crash_overhead_usd:
        text += f"; crash overhead ~{_usd(spent.crash_overhead_usd)}"
    elif spent.crash_overhead_usd is None:
        text += "; crash overhead unknown"
    lines.append(text)
    if report.projection.behind or report.projection.note:
        lines.append(
            f"note     the projection is {report.projection.behind:,} event(s) behind the journal"
            + (f": {report.projection.note}" if report.projection.note else "")
        )
    if report.incomplete_detail:
        rows = [["incomplete", "status", "rooms", "images", "failed"]]
        for item in report.incomplete_detail[:SHOWN_INCOMPLETE]:
            failed = item.rooms_failed + item.images_failed
            rows.append(
                [
                    item.slug,
                    item.status,
                    f"{item.rooms_done}/{item.rooms_planned}",
                    f"{item.images_done}/{item.images_planned}",
                    str(failed) if failed else "",
                ]
            )
        lines += ["", _table(rows, right={2, 3, 4})]
        more = len(report.incomplete_detail) - SHOWN_INCOMPLETE
        if more > 0:
            lines.append(f"… and {more:,} more (`genjournal status --json` lists them all)")
    return "\n".join(lines)


# --- history -----------------------------------------------------------------------------


@click.command()
@click.argument("style", required=False)
@click.option("--type", "types", multiple=True, metavar="T", help="Only this event type (repeatable).")
@click.option("--run", "run_id", default=None, metavar="RUN", help="Only events written by this run.")
@click.option(
    "--step",
    "steps",
    multiple=True,
    metavar="STEP",
    help="Only this step (a key or shell-style pattern; repeatable): every generation of it.",
)
@click.option(
    "--since",
    default=None,
    metavar="TIME",
    help="From this time on: ISO 8601, or an age like 2h, 7d.",
)
@click.option("--until", default=None, metavar="TIME", help="Before this time: ISO 8601, or an age like 30m.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Only the newest N matching events.")
@_json_option
@_prices_option
@common_options
def history(
    style: str | None,
    types: tuple[str, ...],
    run_id: str | None,
    steps: tuple[str, ...],
    since: str | None,
    until: str | None,
    limit: int | None,
    as_json: bool,
    prices_file: Path | None,
    data_dir: Path | None,
    db: str | None,
) -> int:
    """Show the journal's events, oldest first (optionally one style's), filtered on indexes."""
    from projector.audit import check_types, parse_when

    # Every argument is checked before the journal is opened.
    try:
        check_types(types or None)
        for name, value in (("--since", since), ("--until", until)):
            if value is not None:
                try:
                    parse_when(value)
                except ValueError as exc:
                    raise ValueError(f"{name} {exc}") from None
    except ValueError as exc:
        fail(str(exc))
    with _audit(data_dir, db, prices_file, refresh=False) as journal:
        entries = journal.history(
            style, types=types or None, run=run_id, since=since, until=until, limit=limit, steps=steps
        )
        if as_json:
            _emit([entry.model_dump(mode="json") for entry in entries])
        else:
            click.echo(_history_text(journal, entries))
    return EXIT_OK


def _usage(meta: dict[str, Any]) -> str:
    parts = []
    if meta.get("input_tokens") is not None or meta.get("output_tokens") is not None:
        parts.append(f"{meta.get('input_tokens') or 0:,}→{meta.get('output_tokens') or 0:,} tok")
    if meta.get("images"):
        parts.append(f"{meta['images']} img")
    return " ".join(parts)


def _run_note(entry: HistoryEntry) -> str:
    """Says, for a RunFinished, how it ended and what its pacing learned."""
    if entry.type != "RunFinished":
        return ""
    from generator.progress import run_outcome

    return run_outcome(entry.data) or ""


def _history_text(journal: AuditLog, entries: list[HistoryEntry]) -> str:
    if not entries:
        return "no events match"
    rows = [
        ["time", "run", "stream", "step", "gen", "type", "model", "prompt", "tokens/images", "cost", "note"]
    ]
    for entry in entries:
        meta, data = entry.meta, entry.data
        cost = journal.event_cost(entry)
        error = data.get("error") if isinstance(data.get("error"), dict) else None
        rows.append(
            [
                entry.recorded_at[:19].replace("T", " "),
                entry.run_id or str(data.get("request") or ""),
                entry.stream,
                entry.step or "",
                str(data.get("generation", 1)) if entry.step else "",
                entry.type,
                str(meta.get("model") or ""),
                str(meta.get("prompt_version") or ""),
                _usage(meta),
                "" if cost == 0 else _usd(cost),
                f"{error['kind']}: {error['message']}"[:80] if error else _event_note(entry),
            ]
        )
    return _table(rows, right={4, 8, 9})


def _event_note(entry: HistoryEntry) -> str:
    """Says why a regeneration was asked for, or how a run ended."""
    if entry.type == "StepRegenerationRequested":
        cause = entry.data.get("cause")
        why = f"“{entry.data.get('reason', '')}”"
        return (f"{why} (follows {cause})" if cause else why)[:80]
    return _run_note(entry)


# --- costs -------------------------------------------------------------------------------


@click.command()
@click.option(
    "--by",
    type=click.Choice(["style", "run", "model", "day"]),
    default="model",
    show_default=True,
    help="How to group tokens, images and money.",
)
@_json_option
@_prices_option
@common_options
def costs(by: str, as_json: bool, prices_file: Path | None, data_dir: Path | None, db: str | None) -> int:
    """Show tokens, images and money by style, run, model or day, and the crash overhead."""
    with _audit(data_dir, db, prices_file) as journal:
        report = journal.costs(by)  # type: ignore[arg-type]
    if as_json:
        _emit(report.model_dump(mode="json"))
    else:
        click.echo(_costs_text(report))
    return EXIT_OK


def _cost_row(line: CostLine) -> list[str]:
    return [
        line.key or "(none)",
        _n(line.steps),
        _n(line.failures) if line.failures else "",
        _n(line.billed_failures) if line.billed_failures else "",
        _n(line.input_tokens),
        _n(line.output_tokens),
        _n(line.images),
        _usd(line.usd, partial=line.usd_priced),
        ", ".join(line.priced_by),
    ]


def _costs_text(report: CostReport) -> str:
    header = [report.by, "steps", "failed", "billed failed", "tokens in", "tokens out", "images", "cost"]
    rows = [[*header, "priced by"]]
    rows += [_cost_row(line) for line in report.lines]
    rows.append(_cost_row(report.total))
    lines = [_table(rows, right={1, 2, 3, 4, 5, 6, 7})]
    total = report.total
    if total.unknown_models:
        u = total.unpriced
        lines.append(
            f"unpriced: {', '.join(total.unknown_models)} — {u.steps:,} step(s),"
            f" {u.input_tokens:,} tokens in, {u.output_tokens:,} tokens out, {u.images:,} image(s)"
            " have no price (add them with --prices)"
        )
    if total.batch_saved_usd:
        lines.append(
            f"batch: the Batch API results cost {_usd(total.batch_saved_usd)} less than at the live price"
        )
    crash = report.crash_overhead
    if crash.crashed_runs:
        lines.append(
            f"crash overhead: {len(crash.crashed_runs)} crashed run(s), {crash.lost_calls:,} paid"
            " call(s) started whose result never reached the journal"
            f" ({crash.lost_text_calls} text, {crash.lost_image_calls} image),"
            f" ~{_usd(crash.estimated_usd)}; {crash.re_requested} re-requested by a later run"
        )
    else:
        lines.append("crash overhead: none (no crashed run)")
    regen = report.regeneration
    if regen.requested:
        lines.append(
            f"regeneration: {regen.requested:,} step(s) requested again, {regen.steps:,} result(s) of a later"
            f" generation ({regen.failures:,} failed) cost {_usd(regen.usd, partial=regen.usd_priced)};"
            f" first-time generation {_usd(regen.first_time_usd)}"
        )
    lines.append(
        f"prices: {report.prices.source} (a model is priced by the first that knows it;"
        " --prices FILE puts your own table first)"
    )
    return "\n".join(lines)


# --- verify ------------------------------------------------------------------------------


@click.command()
@_json_option
@common_options
def verify(as_json: bool, data_dir: Path | None, db: str | None) -> int:
    """Check blobs, positions, versions, decoding and projection == fresh fold (read-only)."""
    with _audit(data_dir, db, None, refresh=False) as journal:
        report = journal.verify()
    if as_json:
        _emit(report.model_dump(mode="json"))
    else:
        click.echo(_verify_text(report))
    return EXIT_OK if report.ok else EXIT_FAILED


def _verify_text(report: VerifyReport) -> str:
    lines = [
        f"checked {report.events:,} events in {report.streams:,} streams,"
        f" {report.images_checked:,} images"
        f" ({report.blobs:,} files), {report.documents_checked:,} documents ({report.backend})"
    ]
    for finding in report.findings:
        lines.append(f"{finding.severity.upper():5}  {finding.check}: {finding.count:,} x {finding.message}")
        for example in finding.examples[:5]:
            lines.append(f"         {example}")
    if report.repair:
        lines.append("repair:")
        lines += [f"  {step}" for step in report.repair]
    lines.append("verify: OK" if report.ok else "verify: FAILED")
    return "\n".join(lines)
