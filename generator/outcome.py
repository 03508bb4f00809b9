"""How a run ends: its outcome, its counts and the exit code the contract gives it.

Exit codes (docs/design.md): 0 every planned step is done; 1 the run ended with steps
that failed (recorded as failure events, retried by the next run), or was stopped by
its budget or a journal failure; 2 bad usage, config or input, or credentials the
provider refused (nothing paid is lost); 130 stopped by SIGINT/SIGTERM after a clean
stop.
"""

from __future__ import annotations

from dataclasses import dataclass

from journal.events import RunOutcome

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


@dataclass
class RunReport:
    """How a run ended: its outcome, counts and exit code."""

    run_id: str
    outcome: RunOutcome
    counts: dict[str, int]
    exit_code: int
    message: str | None = None
    recorded: bool = True


def decide_outcome(
    stop_reason: RunOutcome | None, stop_exit_code: int | None, counts: dict[str, int]
) -> tuple[RunOutcome, int]:
    """Returns the outcome and exit code of a run from why it stopped and what it counted."""
    if stop_reason == "aborted":
        return "aborted", stop_exit_code or EXIT_FAILED
    if stop_reason == "interrupted":
        return "interrupted", EXIT_INTERRUPTED
    if stop_reason == "budget":
        return "budget", EXIT_FAILED
    if counts.get("failed") or counts.get("blocked"):
        return "failed", EXIT_FAILED
    return "completed", EXIT_OK
