"""``genjournal batches``: this journal's Batch API batches — list, collect, cancel.

Lists every batch the journal records (open, finished, adopted, line counts), after
adopting the account's batches tagged with this journal that it does not know and
collecting the finished ones into ordinary success and failure events. ``--cancel``
asks the API to cancel the open ones and collects what they completed.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import click

from genjournal.cli.common import common_options, emit_json, fail, location, opened


@click.command()
@click.option("--cancel", is_flag=True, help="Cancel the open batches (what they finished is kept).")
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
@common_options
def batches(cancel: bool, as_json: bool, data_dir: Path | None, db: str | None) -> int:
    """This journal's batches: open, finished, adopted; collects the finished ones."""
    from generator.runner import new_run_id
    from journal.errors import LeaseHeldError
    from journal.store import LeaseHolder
    from projector.batches import read_batches

    where = location(data_dir, db)
    has_key = bool(os.environ.get("OPENAI_API_KEY"))
    if cancel and not has_key:
        fail("batches --cancel needs OPENAI_API_KEY in the environment")
    with opened(where) as store:
        started = store.query(types=["RunStarted"], newest_first=True, limit=1)
        result: dict[str, Any] = {"adopted": [], "collected": [], "cancelled": []}
        if started and has_key:
            run_id = new_run_id()
            lease = LeaseHolder.for_this_process(run_id)
            try:
                store.acquire_lease(lease)
            except LeaseHeldError as exc:
                fail(f"a run holds this journal ({exc}); it collects its batches itself")
            try:
                result = asyncio.run(_sync(store, where.data_dir, started[0].event, run_id, cancel))
            finally:
                store.release_lease(lease)
            _catch_up(store)
        elif not has_key:
            click.echo("genjournal: OPENAI_API_KEY is not set: listing the journal only", err=True)
        records = read_batches(store)
    listed = [record.to_json() for record in records.values()]
    if as_json:
        emit_json({"batches": listed, **result})
    else:
        for item in listed:
            counts = item["request_counts"]
            done = f"{counts.get('completed', 0)}/{counts.get('total', item['steps'])}" if counts else "-"
            click.echo(
                f"{item['batch_id']}  {item['state']:<8} {item['status'] or '':<10} wave {item['wave']}  "
                f"{item['steps']} steps  done {done}  saved {item['succeeded']}  failed {item['failed']}"
                + ("  (adopted)" if item["adopted"] else ""),
                err=True,
            )
        if not listed:
            click.echo("genjournal: no batches in this journal", err=True)
    return 0


async def _sync(store: Any, data_dir: Path, started: Any, run_id: str, cancel: bool) -> dict[str, Any]:
    from generator.batch_run import sync_batches
    from generator.prompts import load_prompts
    from generator.providers.base import ProviderError
    from generator.providers.factory import make_provider
    from generator.providers.openai.provider import OpenAIProvider
    from generator.settings import ProviderSettings
    from journal.blobs import BlobStore

    data = started.data
    recorded = data.settings
    prompts_file = recorded.get("prompts")
    prompts = load_prompts(prompts_file if prompts_file and Path(prompts_file).exists() else None)
    provider = make_provider(
        "openai",
        ProviderSettings.resolve(
            text_model=data.text_model,
            image_model=data.image_model,
            image_size=recorded.get("image_size"),
            image_quality=recorded.get("image_quality"),
        ),
        prompts,
    )
    assert isinstance(provider, OpenAIProvider)
    try:
        desk, tally, cancelled = await sync_batches(
            provider=provider,
            store=store,
            blobs=BlobStore(data_dir),
            plan=data.plan,
            run_id=run_id,
            cancel=cancel,
        )
    except ProviderError as exc:
        fail(f"the Batch API refused: {exc}")
    finally:
        await provider.aclose()
    return {
        "adopted": tally.adopted,
        "collected": tally.collected,
        "cancelled": cancelled,
        "saved": tally.succeeded,
        "failed": tally.failed,
        "skipped": tally.skipped,
        "api_calls": desk.api_calls,
    }


def _catch_up(store: Any) -> None:
    from projector.projector import Projector
    from projector.views import open_views

    views = open_views(store)
    try:
        Projector(store, views).catch_up()
    finally:
        views.close()
