"""``genjournal run``: the pending steps of the plan, journaled as they complete.

Parses the options into one ``generator.session.RunSettings`` and calls
``run_session``; everything a run does is there, not here.
"""

from __future__ import annotations

from pathlib import Path

import click

from generator.concurrency import DEFAULT_MAX
from genjournal.cli.common import EXIT_USAGE, FiniteFloat, common_options, location, prompts_option


@click.command()
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
    type=click.IntRange(1, 1024),
    default=None,
    help="Hard cap on provider calls in flight (default: as many as the provider's limits use).",
)
@click.option(
    "--max-concurrency",
    type=click.IntRange(1, 1024),
    default=DEFAULT_MAX,
    show_default=True,
    help="Safety cap on the adaptive calls in flight per call family (sockets, memory).",
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
    type=FiniteFloat(min=0, min_open=True),
    default=None,
    help="Cap on text requests per minute.",
)
@click.option(
    "--ipm",
    type=FiniteFloat(min=0, min_open=True),
    default=None,
    help="Cap on image requests per minute.",
)
@click.option(
    "--budget-usd",
    type=FiniteFloat(min=0),
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
@prompts_option
@click.option(
    "--batch", is_flag=True, help="Send the pending steps through the Batch API (half price, up to 24 h)."
)
@click.option(
    "--detach",
    is_flag=True,
    help="With --batch: return once the batches are submitted; a later run or `genjournal batches` collects.",
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
    concurrency: int | None,
    max_concurrency: int,
    max_attempts: int,
    rpm: float | None,
    ipm: float | None,
    budget_usd: float | None,
    prices_file: Path | None,
    prompts_file: Path | None,
    batch: bool,
    detach: bool,
    log_json: bool,
    data_dir: Path | None,
    db: str | None,
) -> int:
    """Run the pending steps of the plan (every run resumes from the journal)."""
    from generator.logs import configure_logging
    from generator.plan import load_plan
    from generator.progress import make_reporter
    from generator.session import RunSettings, choose_provider, run_session
    from generator.settings import ProviderSettings

    configure_logging(json_lines=log_json)
    # Everything the user gave is checked before the data dir is touched.
    loaded = load_plan(plan_file)
    where = location(data_dir, db)
    chosen, note = choose_provider(provider)
    settings = RunSettings(
        plan=loaded,
        provider=chosen,
        models=ProviderSettings.resolve(
            text_model=text_model, image_model=image_model, image_size=image_size, image_quality=image_quality
        ),
        subcategories=subcategories,
        limit=limit,
        only_failed=only_failed,
        concurrency=concurrency,
        max_concurrency=max_concurrency,
        max_attempts=max_attempts,
        rpm=rpm,
        ipm=ipm,
        budget_usd=budget_usd,
        prices_file=prices_file,
        prompts_file=prompts_file,
        batch=batch,
        detach=detach,
    )
    if note is not None:
        click.echo(f"genjournal: {note}", err=True)
    report = run_session(where, settings, make_reporter(log_json=log_json))
    if report.exit_code == EXIT_USAGE and report.message:
        click.echo(f"genjournal run: error: {report.message}", err=True)
    return report.exit_code
