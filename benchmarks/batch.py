"""Batch benchmark (issue 15): the same plan live and through the Batch API, on the fake server.

    .venv/bin/python -m benchmarks.batch                    # 60 × 24 × 3 (the catalogue)
    .venv/bin/python -m benchmarks.batch --styles 4 --rooms 6

Runs the plan twice against one fake OpenAI server, each on a fresh data dir at default
flags: `genjournal run --provider openai` (live) and `genjournal run --provider openai
--batch`. For each it prints the wall time, the paid calls (billable ledger entries),
`costs --json`'s total and, for the batch run, what it saved and the extra API calls it
took (uploads, batch creates, polls, downloads, listings), counted from the ledger. The
fake answers a batch line in ``line_s`` (0.01 s here) after a 0.2 s validation: time is
scaled, dollars are not.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.generator import KEY, clean_env, genjournal, machine, small_plan
from genjournal.testing.fake_openai import FakeOpenAI


def _costs(env: dict[str, str], data: str) -> Any:
    _, done = genjournal("costs", "--json", "--data-dir", data, env=env)
    if done.returncode != 0:
        raise SystemExit(f"costs failed: {done.stderr.strip()}")
    return json.loads(done.stdout)


def _api_calls(entries: list[Any]) -> Counter[str]:
    calls: Counter[str] = Counter()
    for e in entries:
        if e.custom_id is not None:
            continue  # a batch line, not a call the client made
        path = e.path
        if e.method == "POST" and path == "/v1/files":
            calls["uploads"] += 1
        elif e.method == "POST" and path == "/v1/batches":
            calls["creates"] += 1
        elif e.method == "GET" and path == "/v1/batches":
            calls["listings"] += 1
        elif e.method == "GET" and path.startswith("/v1/batches/"):
            calls["polls"] += 1
        elif e.method == "GET" and path.endswith("/content"):
            calls["downloads"] += 1
        elif path.startswith("/v1/batches/") and path.endswith("/cancel"):
            calls["cancels"] += 1
        elif e.method == "GET" and path == "/v1/models":
            calls["model lists"] += 1
    return calls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--styles", type=int, default=60)
    parser.add_argument("--rooms", type=int, default=24)
    parser.add_argument("--images", type=int, default=3)
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="gj-batch-") as tmp, FakeOpenAI() as server:
        root = Path(tmp)
        plan = small_plan(root / "plan.toml", args.styles, args.rooms, args.images)
        env = clean_env(OPENAI_API_KEY=KEY, OPENAI_BASE_URL=server.base_url)
        for mode, extra in (("live", ()), ("batch", ("--batch",))):
            data = str(root / mode)
            start = len(server.ledger())
            run = ("run", "--provider", "openai", "--plan", str(plan), "--data-dir", data, *extra)
            seconds, done = genjournal(*run, env=env)
            if done.returncode != 0:
                raise SystemExit(f"the {mode} run failed ({done.returncode}): {done.stderr.strip()[-400:]}")
            entries = server.ledger()[start:]
            paid = sum(1 for e in entries if e.billable)
            costs = _costs(env, data)
            _, verify = genjournal("verify", "--data-dir", data, env=env)
            rows.append((mode, seconds, paid, costs, _api_calls(entries), verify.returncode))
    print(f"machine: {machine()}; plan {args.styles} × {args.rooms} × {args.images} images; fake server")
    for mode, seconds, paid, costs, calls, verify in rows:
        total = costs["total"]["usd"]
        saved = costs["total"].get("batch_saved_usd", 0.0)
        extra = ", ".join(f"{n} {name}" for name, n in sorted(calls.items())) or "none"
        print(
            f"{mode:>5}: {seconds:6.1f} s, {paid:,} paid calls, costs ${total:,.2f}"
            + (f" (saved ${saved:,.2f} against the live price)" if mode == "batch" else "")
            + f"; other API calls: {extra}; verify exit {verify}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
