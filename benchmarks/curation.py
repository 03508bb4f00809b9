"""Curation benchmark (issue 16): what a regeneration round costs, on the fake server.

    .venv/bin/python -m benchmarks.curation                 # 60 × 24 × 3 (the catalogue)
    .venv/bin/python -m benchmarks.curation --styles 4 --rooms 6

Runs the plan with `genjournal run --provider openai` at default flags against the fake
OpenAI server, then one curation round as a user would do it: `regenerate --step
room:kitchen --dry-run` (what it would mark and cost), the same for real with a reason
(each kitchen's images follow their room), `run` again, and `costs --json`. It prints
the round's marked steps, the dry run's estimate, the paid calls the fake's ledger saw in
the round, and `costs`' regeneration and first-time spend, with the machine it ran on.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.generator import KEY, clean_env, genjournal, machine, small_plan
from genjournal.testing.fake_openai import FakeOpenAI


def _json(env: dict[str, str], *args: str) -> Any:
    _, done = genjournal(*args, "--json", env=env)
    if done.returncode != 0:
        raise SystemExit(f"genjournal {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    return json.loads(done.stdout)


def _billable(server: FakeOpenAI, since: int) -> dict[str, int]:
    paid = [e for e in server.ledger()[since:] if e.billable]
    return {
        "text": sum(1 for e in paid if e.family == "text"),
        "image": sum(1 for e in paid if e.family == "image"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--styles", type=int, default=60)
    parser.add_argument("--rooms", type=int, default=24)
    parser.add_argument("--images", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gj-curation-") as tmp, FakeOpenAI() as server:
        root = Path(tmp)
        plan = small_plan(root / "plan.toml", args.styles, args.rooms, args.images)
        data = str(root / "data")
        env = clean_env(OPENAI_API_KEY=KEY, OPENAI_BASE_URL=server.base_url)
        started = time.perf_counter()
        run = ("run", "--provider", "openai", "--plan", str(plan), "--data-dir", data)
        seconds, done = genjournal(*run, env=env)
        if done.returncode != 0:
            raise SystemExit(f"the first run failed: {done.stderr.strip()[-400:]}")
        first = _billable(server, 0)
        mark = ["regenerate", "--step", "room:kitchen", "--data-dir", data]
        dry = _json(env, *mark, "--dry-run")
        marked = _json(env, *mark, "--reason", "the kitchens ignore their style's colour")
        before_round = len(server.ledger())
        round_s, done = genjournal(*run, env=env)
        if done.returncode != 0:
            raise SystemExit(f"the regeneration run failed: {done.stderr.strip()[-400:]}")
        paid = _billable(server, before_round)
        costs = _json(env, "costs", "--data-dir", data)
        _, verify = genjournal("verify", "--data-dir", data, env=env)
        again = len(server.ledger())
        genjournal(*run, env=env)
        rerun = _billable(server, again)
    regen = costs["regeneration"]
    total = costs["total"]["usd"]
    print(f"machine: {machine()}; plan {args.styles} × {args.rooms} × {args.images} images")
    print(f"first run: {seconds:.1f} s, {first['text']:,} text + {first['image']:,} image paid calls")
    print(
        f"regenerate --step room:kitchen: {marked['count']} steps marked (dry run said {dry['count']}, "
        f"~${dry['estimated_usd']:.4f} at today's prices)"
    )
    print(f"regeneration run: {round_s:.1f} s, {paid['text']} text + {paid['image']} image paid calls")
    print(
        f"costs: regeneration {regen['steps']} results ${regen['usd']:.4f}; first-time "
        f"${regen['first_time_usd']:.4f}; total ${total:.4f}"
    )
    print(f"verify exit {verify.returncode}; a run after that: {rerun['text'] + rerun['image']} paid calls")
    print(f"({time.perf_counter() - started:.0f} s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
