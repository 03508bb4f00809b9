"""Reconciles the fake server's billing ledger with the journal, one generator run at a time.

A run's requests are the ledger entries between its start and the next process's start
(the driver waits for a killed run's last requests to land first). Each carries
``X-Genjournal-Step: <stream>/<step>``. For every step the run paid for:

* it must have a ``StepStarted`` in that run (money at risk is journaled before the call),
  and no success of the generation it started before that (a done step is never
  requested again; a regenerated one is requested for its next generation only);
* if the run journaled the step's success, exactly one of the step's billable answers
  was a result (``ok``), its request id is the event's, and the event's meta carries the
  usage of every billable attempt; a failure event likewise carries the usage, with no
  result among the attempts;
* otherwise the step was *in flight* when the run died or stopped: its billable calls
  are the run's *extra paid calls*, and at most one of them is a lost result.

A result neither journaled nor in flight is a *lost result* — the one thing that must
never happen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from tests.chaos.checks import FAILURE, SUCCESS, Envelope, generation

USAGE = ("input_tokens", "output_tokens", "images")


@dataclass
class Account:
    """Sums what the ledger says was paid and how the journal accounts for it."""

    paid_calls: int = 0
    results_journaled: int = 0
    billed_failures_journaled: int = 0
    steps_in_flight: int = 0
    extra_paid_calls: int = 0
    results_lost_in_flight: int = 0
    lost_results: int = 0
    rerequested: int = 0

    def add(self, other: Account) -> None:
        """Adds another account's figures to this one."""
        for field in fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))


def _usage(values: Sequence[dict[str, Any]]) -> tuple[int, ...]:
    return tuple(sum(v.get(key) or 0 for v in values) for key in USAGE)


def reconcile(
    run_id: str | None,
    events: Sequence[Envelope],
    entries: Sequence[dict[str, Any]],
) -> tuple[Account, list[str]]:
    """Checks one run's ledger entries against the journal; returns its account and violations."""
    account = Account(paid_calls=sum(1 for e in entries if e["billable"]))
    problems: list[str] = []
    api = [e for e in entries if e.get("family") is not None or e["path"].startswith("/v1/")]
    if run_id is None:
        if api:
            problems.append(f"{len(api)} API request(s) from a process that never recorded RunStarted")
        return account, problems
    started: dict[tuple[str, str], int] = {}
    #: the generation each started step was for (a run does one generation of a step)
    wanted: dict[tuple[str, str], int] = {}
    for event in events:
        if event["type"] == "StepStarted" and event["stream"] == f"run:{run_id}":
            key = (event["data"]["stream"], event["data"]["step"])
            if key in started:
                problems.append(f"{run_id} started {key} twice")
            started[key] = event["position"]
            wanted[key] = generation(event)
    terminal: dict[tuple[str, str], Envelope] = {}
    first_success: dict[tuple[str, str, int], int] = {}
    for event in events:
        if event["type"] in SUCCESS:
            first_success.setdefault((event["stream"], event["step"], generation(event)), event["position"])
        if event["run_id"] == run_id and event["type"] in SUCCESS | FAILURE:
            key = (event["stream"], event["step"])
            if key in terminal:
                problems.append(f"{run_id} journaled two outcomes for {key}")
            terminal[key] = event
    by_step: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for entry in api:
        header = entry.get("step")
        if not header or "/" not in header:
            problems.append(f"API request {entry.get('request_id')} carries no step header")
            continue
        stream, _, step = header.partition("/")
        by_step.setdefault((stream, step), []).append(entry)
    for key, calls in by_step.items():
        billable = [c for c in calls if c["billable"]]
        results = [c for c in billable if c["outcome"] == "ok"]
        if key not in started:
            problems.append(f"{run_id} paid for {key} without journaling StepStarted first")
        elif (done := first_success.get((*key, wanted[key]))) is not None and done < started[key]:
            account.rerequested += 1
            problems.append(
                f"{run_id} requested {key} generation {wanted[key]} again after its success at position {done}"
            )
        outcome = terminal.get(key)
        if outcome is None:
            account.extra_paid_calls += len(billable)
            account.results_lost_in_flight += len(results)
            if key not in started:
                account.lost_results += len(results)
            if len(results) > 1:
                account.lost_results += len(results) - 1
                problems.append(f"{run_id} got {len(results)} results for {key} and journaled none")
            continue
        meta = outcome["meta"]
        if _usage([meta]) != _usage(billable):
            problems.append(
                f"{run_id} {key}: the journal's usage {_usage([meta])} is not the ledger's {_usage(billable)}"
            )
        if outcome["type"] in SUCCESS:
            account.results_journaled += 1
            account.billed_failures_journaled += len(billable) - 1
            if len(results) != 1 or results[0]["request_id"] != meta.get("request_id"):
                account.lost_results += max(0, len(results) - 1)
                problems.append(
                    f"{run_id} {key}: success names request {meta.get('request_id')} "
                    "but the ledger has "
                    f"results {[r['request_id'] for r in results]}"
                )
        else:
            account.billed_failures_journaled += len(billable)
            if results:
                account.lost_results += len(results)
                problems.append(
                    f"{run_id} {key}: failure journaled although {len(results)} result(s) were paid"
                )
    account.steps_in_flight = sum(1 for key in started if key not in terminal)
    if account.results_lost_in_flight > account.steps_in_flight:
        problems.append(
            f"{run_id}: {account.results_lost_in_flight} paid results lost but only "
            f"{account.steps_in_flight} steps were in flight"
        )
    finished = [e for e in events if e["type"] == "RunFinished" and e["stream"] == f"run:{run_id}"]
    if finished and finished[-1]["data"]["outcome"] in ("completed", "failed") and account.steps_in_flight:
        problems.append(
            f"{run_id} ended {finished[-1]['data']['outcome']} with {account.steps_in_flight} steps in flight"
        )
    return account, problems
