"""Parallel rebuild: style streams folded in worker processes.

A style's document depends only on its own stream and the final plan, so a rebuild can
split the style streams into contiguous ranges and fold each range in its own process,
reading it in (stream, version) order: one document in memory at a time, finalized and
written once. Every worker reads the same cut of the journal (``position <=
checkpoint``, fixed before they start), so the result equals a sequential fold up to the
checkpoint; the projector then catches up with whatever was appended meanwhile.

It needs two capabilities of the ports, which a backend may offer or not: the journal's
``EventStore.stream_scanner()`` (read stream ranges from any process at one cut; SQLite
reads them through its ``UNIQUE(stream, version)`` index) and the rebuild target's
``RebuildTarget.partition_sink()`` (write from any process). Nothing here knows which
backend serves either.

Each worker also folds its styles' audit facts (``projector.facts``) alongside the
documents and writes them in the same transactions; the run streams (few events: run
starts, ends and started calls) are folded by the parent while the workers run.

Workers write into the rebuild's own uniquely named tables and check before every write
that the process which started them is still alive: a worker orphaned by a killed
rebuild stops at its next batch and can only ever touch abandoned tables.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from multiprocessing.queues import Queue

from journal.events import PlanSpec
from journal.store import StreamScan, StreamScanner
from journal.streams import RUN_PREFIX, STYLE_PREFIX
from projector.facts import (
    RunFacts,
    StyleFacts,
    apply_run_facts,
    apply_style_facts,
    new_run_facts,
    new_style_facts,
)
from projector.fold import Document, apply, finalize
from projector.store import FactsUpdate, PartitionSink

STYLE_STOP = STYLE_PREFIX[:-1] + chr(ord(STYLE_PREFIX[-1]) + 1)  # "style;" sorts right after "style:…"
RUN_STOP = RUN_PREFIX[:-1] + chr(ord(RUN_PREFIX[-1]) + 1)
PAGE = 5000
BATCH = 200


@dataclass(frozen=True)
class Partition:
    """A contiguous range of style streams, ``[start, stop)``, and its event count."""

    start: str
    stop: str
    events: int


def partitions(store: StreamScan, *, max_position: int, parts: int) -> list[Partition]:
    """Splits the style streams into up to ``parts`` ranges of about equal event counts."""
    sizes = store.stream_sizes(start=STYLE_PREFIX, stop=STYLE_STOP, max_position=max_position)
    total = sum(count for _, count in sizes)
    if not sizes:
        return []
    share = total / parts
    out: list[Partition] = []
    start = STYLE_PREFIX
    acc = 0
    for stream, count in sizes:
        if acc >= share and len(out) < parts - 1:
            out.append(Partition(start, stream, acc))
            start, acc = stream, 0
        acc += count
    out.append(Partition(start, STYLE_STOP, acc))
    return out


def fold_runs(store: StreamScan, *, max_position: int) -> dict[str, RunFacts]:
    """Folds every run stream up to ``max_position`` into run facts keyed by run id."""
    runs: dict[str, RunFacts] = {}
    after: tuple[str, int] | None = None
    while True:
        page = store.read_streams_raw(
            start=RUN_PREFIX, stop=RUN_STOP, after=after, max_position=max_position, limit=PAGE
        )
        if not page:
            return runs
        for event in page:
            run_id = event.stream[len(RUN_PREFIX) :]
            run = runs.get(run_id)
            if run is None:
                run = runs[run_id] = new_run_facts(run_id)
            apply_run_facts(run, event)
        after = (page[-1].stream, page[-1].version)


def fold_partition(
    scanner: StreamScanner,
    sink: PartitionSink,
    start: str,
    stop: str,
    max_position: int,
    plan_json: str | None,
    parent: int,
    progress: object | None = None,
) -> tuple[int, int]:
    """Folds a range of style streams into the rebuild target; returns (events, documents)."""
    gc.disable()  # documents are acyclic trees; see Projector.rebuild
    store = scanner.open()
    writer = sink.open()
    plan = PlanSpec.model_validate_json(plan_json) if plan_json else None
    events = documents = 0
    batch: dict[str, Document] = {}
    batch_facts: dict[str, StyleFacts] = {}
    doc: Document | None = None
    facts: StyleFacts | None = None
    after: tuple[str, int] | None = None

    def flush() -> None:
        if os.getppid() != parent:
            raise SystemExit("the rebuild that started this worker is gone")
        # Each style is written once into fresh tables: no old fact rows to delete.
        writer.write(batch, FactsUpdate(styles=batch_facts))
        batch.clear()
        batch_facts.clear()

    try:
        while True:
            page = store.read_streams_raw(
                start=start, stop=stop, after=after, max_position=max_position, limit=PAGE
            )
            if not page:
                break
            for event in page:
                if doc is not None and doc["slug"] != event.stream[len(STYLE_PREFIX) :]:
                    batch[doc["slug"]] = finalize(doc, plan)
                    assert facts is not None
                    batch_facts[doc["slug"]] = facts
                    documents += 1
                    doc = facts = None
                doc = apply(doc, event)
                if facts is None:
                    facts = new_style_facts(doc["slug"])
                apply_style_facts(facts, event)
            events += len(page)
            after = (page[-1].stream, page[-1].version)
            if progress is not None:
                with progress.get_lock():  # type: ignore[attr-defined]
                    progress.value += len(page)  # type: ignore[attr-defined]
            if len(batch) >= BATCH:
                flush()
        if doc is not None:
            batch[doc["slug"]] = finalize(doc, plan)
            assert facts is not None
            batch_facts[doc["slug"]] = facts
            documents += 1
        flush()
    finally:
        writer.close()
        store.close()
    return events, documents


def _worker(args: tuple[object, ...], results: Queue[tuple[str, object]]) -> None:
    try:
        results.put(("ok", fold_partition(*args)))  # type: ignore[arg-type]
    except BaseException as exc:  # report every failure to the parent, then die
        results.put(("error", f"{type(exc).__name__}: {exc}"))


def run_partitions(
    scanner: StreamScanner,
    sink: PartitionSink,
    parts: list[Partition],
    *,
    max_position: int,
    plan: PlanSpec | None,
    progress: Callable[[int], None] | None = None,
    meanwhile: Callable[[], None] | None = None,
) -> tuple[int, int]:
    """Folds every partition in its own process; returns total (events, documents).

    ``meanwhile`` runs in this process once the workers have started (the parent would
    otherwise only wait); if it raises, the workers are stopped.
    """
    ctx = multiprocessing.get_context("spawn")
    counter = ctx.Value("q", 0)
    results = ctx.Queue()
    plan_json = plan.model_dump_json() if plan is not None else None
    procs = [
        ctx.Process(
            target=_worker,
            args=(
                (scanner, sink, p.start, p.stop, max_position, plan_json, os.getpid(), counter),
                results,
            ),
            daemon=True,
        )
        for p in parts
    ]
    for proc in procs:
        proc.start()
    outcomes: list[tuple[str, object]] = []
    try:
        if meanwhile is not None:
            meanwhile()
        while len(outcomes) < len(procs):
            try:
                outcomes.append(results.get(timeout=0.2))
            except Exception:  # queue.Empty: report progress, watch for dead workers
                if progress is not None:
                    progress(counter.value)
                if all(not proc.is_alive() for proc in procs) and results.empty():
                    break
    finally:
        for proc in procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
    errors = [str(value) for kind, value in outcomes if kind == "error"]
    if errors or len(outcomes) < len(procs):
        raise RuntimeError(f"a rebuild worker failed: {'; '.join(errors) or 'it died'}")
    events = sum(value[0] for _, value in outcomes)  # type: ignore[index]
    documents = sum(value[1] for _, value in outcomes)  # type: ignore[index]
    if progress is not None:
        progress(counter.value)
    return events, documents
