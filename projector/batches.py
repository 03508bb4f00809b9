"""What the journal knows of its Batch API batches: one ``batch:<batch-id>`` stream each.

``BatchSubmitted`` opens a batch (``adopted``: found on the account after a crash),
``BatchFinished`` closes it once every result line is journaled. A batch without
``BatchFinished`` is *open*: its steps are paid work in flight, never submitted again
nor called live. ``status --json`` reports ``batches_summary``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from journal.events import BatchFinished, BatchFinishedData, BatchSubmitted, BatchSubmittedData
from journal.store import EventStore
from journal.streams import BATCH_PREFIX, batch_id_of


@dataclass
class BatchRecord:
    """What the journal knows of one batch."""

    batch_id: str
    submitted: BatchSubmittedData
    run_id: str | None
    finished: BatchFinishedData | None = None

    @property
    def open(self) -> bool:
        """Tells whether the batch's results are not collected yet."""
        return self.finished is None

    @property
    def keys(self) -> set[tuple[str, str]]:
        """Returns the (stream, step) pairs the batch holds."""
        return {(stream, step) for stream, step, _ in self.submitted.steps}

    def to_json(self) -> dict[str, Any]:
        """Returns the batch as ``genjournal batches --json`` lists it."""
        finished = self.finished
        return {
            "batch_id": self.batch_id,
            "state": "open" if finished is None else "finished",
            "status": finished.status if finished is not None else None,
            "run_id": self.run_id,
            "wave": self.submitted.wave,
            "endpoint": self.submitted.endpoint,
            "steps": len(self.submitted.steps),
            "adopted": self.submitted.adopted,
            "estimated_cost_usd": self.submitted.estimated_cost_usd,
            "request_counts": dict(finished.request_counts) if finished is not None else {},
            "succeeded": finished.succeeded if finished is not None else 0,
            "failed": finished.failed if finished is not None else 0,
            "skipped": finished.skipped if finished is not None else 0,
        }


def read_batches(store: EventStore) -> dict[str, BatchRecord]:
    """Returns every batch the journal records, by id, in submission order."""
    records: dict[str, BatchRecord] = {}
    for stored in store.query(stream_prefix=BATCH_PREFIX):
        batch_id = batch_id_of(stored.stream)
        if batch_id is None:
            continue
        event = stored.event
        if isinstance(event, BatchSubmitted) and batch_id not in records:
            records[batch_id] = BatchRecord(batch_id, event.data, event.run_id)
        elif isinstance(event, BatchFinished) and batch_id in records:
            records[batch_id].finished = event.data
    return records


def batches_summary(records: dict[str, BatchRecord]) -> dict[str, Any]:
    """Returns the ``batches`` object of ``status --json``: open, finished, adopted, steps in open ones."""
    open_ = [r for r in records.values() if r.open]
    return {
        "total": len(records),
        "open": len(open_),
        "finished": len(records) - len(open_),
        "adopted": sum(1 for r in records.values() if r.submitted.adopted),
        "steps_in_open": sum(len(r.submitted.steps) for r in open_),
        "open_ids": [r.batch_id for r in open_],
    }
