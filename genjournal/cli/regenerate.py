"""``genjournal regenerate``: mark done steps to be done again, with a reason (curation).

Nothing is overwritten: one ``StepRegenerationRequested`` per marked step goes into the
journal, and the next ``genjournal run`` (live or batch) makes each step's next
generation. ``--dry-run`` says what would be marked, what follows and what it would cost
at today's prices, and writes nothing. See ``generator.curation``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from genjournal.cli.common import EXIT_OK, common_options, emit_json, fail, location, opened, prompts_option

if TYPE_CHECKING:
    from generator.curation import RegenerationPlan


@click.command()
@click.argument("styles", nargs=-1, metavar="[STYLE]...")
@click.option(
    "--step",
    "steps",
    multiple=True,
    metavar="PATTERN",
    help="A step key or shell-style pattern (repeatable).",
)
@click.option(
    "--kind", type=click.Choice(["content", "room", "image"]), default=None, help="Only this kind of step."
)
@click.option("--model", default=None, metavar="M", help="Only results made by this model.")
@click.option(
    "--prompt-version",
    "prompt_version",
    default=None,
    metavar="V",
    help="Only results of this prompt version.",
)
@click.option("--run", "run_id", default=None, metavar="RUN", help="Only results written by this run.")
@click.option(
    "--before",
    default=None,
    metavar="TIME",
    help="Only results recorded before: ISO 8601, or an age like 2h.",
)
@click.option(
    "--stale-prompts",
    is_flag=True,
    help="Only results whose prompt_version is not the current one of their kind (`genjournal prompts`).",
)
@click.option(
    "--cascade", is_flag=True, help="A style's content brings its images, rooms and room images along."
)
@click.option(
    "--keep-images", is_flag=True, help="A room's images keep their results when the room is redone."
)
@click.option("--reason", default=None, metavar="TEXT", help="Why (required; kept with every request).")
@click.option(
    "--dry-run", is_flag=True, help="Say what would be marked and what it would cost; write nothing."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
@prompts_option
@click.option(
    "--prices",
    "prices_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Price table TOML overriding the shipped one.",
)
@common_options
def regenerate(
    styles: tuple[str, ...],
    steps: tuple[str, ...],
    kind: str | None,
    model: str | None,
    prompt_version: str | None,
    run_id: str | None,
    before: str | None,
    stale_prompts: bool,
    cascade: bool,
    keep_images: bool,
    reason: str | None,
    dry_run: bool,
    as_json: bool,
    prompts_file: Path | None,
    prices_file: Path | None,
    data_dir: Path | None,
    db: str | None,
) -> int:
    """Mark done steps to be generated again (a new generation each); the next run does them."""
    from generator.curation import (
        Selection,
        SelectionError,
        check_reason,
        check_selection,
        journal_regeneration,
        latest_plan,
        plan_regeneration,
    )
    from generator.prompts import load_prompts
    from projector.audit import parse_when
    from projector.prices import load_prices

    # Every argument is checked before the journal is opened: bad input writes nothing.
    try:
        selection = Selection(
            styles=styles,
            steps=steps,
            kind=kind,  # type: ignore[arg-type]
            model=model,
            prompt_version=prompt_version,
            run_id=run_id,
            before=parse_when(before) if before is not None else None,
            stale_prompts=stale_prompts,
            cascade=cascade,
            keep_images=keep_images,
        )
        check_selection(selection)
        if reason is None:
            if not dry_run:
                raise SelectionError("--reason is required: say why these results are not kept")
        else:
            reason = check_reason(reason)
    except ValueError as exc:
        fail(f"--before {exc}" if "is not a time" in str(exc) else str(exc))
    prompts = load_prompts(prompts_file)
    prices = load_prices(prices_file)
    with opened(location(data_dir, db)) as store:
        try:
            plan = plan_regeneration(
                store, selection, plan=latest_plan(store), prompts=prompts, prices=prices
            )
        except SelectionError as exc:
            fail(str(exc))
        request = None
        if not dry_run:
            assert reason is not None
            request = journal_regeneration(store, plan, reason=reason)
    if as_json:
        emit_json({"dry_run": dry_run, "request": request, "reason": reason, **plan.to_dict()})
        return EXIT_OK
    click.echo(_text(plan, dry_run=dry_run, request=request))
    return EXIT_OK


def _text(plan: RegenerationPlan, *, dry_run: bool, request: str | None) -> str:
    cost = plan.estimated_usd
    priced = "unknown (no price for some models)" if cost is None else f"${cost:,.4f}"
    lines = []
    verb = "would mark" if dry_run else "marked"
    lines.append(
        f"{verb} {len(plan.marks):,} step{'s' if len(plan.marks) != 1 else ''} for regeneration; "
        f"redoing them costs about {priced} at today's prices"
    )
    for mark in plan.marks[:40]:
        follows = f"  (follows {mark.cause})" if mark.cause else ""
        lines.append(f"  {mark.slug:<24} {mark.step:<32} generation {mark.generation}{follows}")
    if len(plan.marks) > 40:
        lines.append(f"  … and {len(plan.marks) - 40:,} more (--json lists them all)")
    lines += [f"note: {note}" for note in plan.notes]
    if plan.already_awaiting:
        lines.append(
            f"{len(plan.already_awaiting):,} selected step(s) already await a new generation"
            " (not marked twice)"
        )
    if dry_run:
        lines.append("nothing was written (--dry-run)")
    else:
        lines.append(f"request {request}: run `genjournal run` to generate them")
    return "\n".join(lines)
