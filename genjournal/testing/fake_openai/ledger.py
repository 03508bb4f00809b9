"""The ledger: every API request the fake saw, how it ended and whether it was billable."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from genjournal.testing.fake_openai.config import Family


@dataclass(frozen=True)
class LedgerEntry:
    """Records one API request: what it asked, how it ended, what it would have cost."""

    seq: int
    time: float
    elapsed_s: float
    method: str
    path: str
    family: Family | None
    model: str | None
    step: str | None
    status: int | None
    outcome: str
    fault: str | None
    billable: bool
    input_tokens: int | None = None
    output_tokens: int | None = None
    images: int | None = None
    request_id: str | None = None
    #: the request body's top-level keys (e.g. to prove no response_format was sent)
    params: tuple[str, ...] = ()
    #: the prompt text (chat messages joined, or the image prompt)
    prompt: str = ""
    #: wall-clock time the request arrived (``time`` is when it was answered), so a test
    #: can tell which of several client processes sent it even if the sender died waiting
    arrived: float | None = None
    #: the batch a line came from (None for live requests and API calls)
    batch_id: str | None = None
    #: the batch line's custom_id (None outside batches)
    custom_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Returns the entry as a JSON-ready dict."""
        return asdict(self)


def peak_in_flight(entries: Iterable[LedgerEntry]) -> int:
    """Returns the most of these requests the server held at once (arrival to answer)."""
    edges = sorted(edge for e in entries if e.arrived is not None for edge in ((e.arrived, 1), (e.time, -1)))
    peak = now = 0
    for _, step in edges:
        now += step
        peak = max(peak, now)
    return peak
