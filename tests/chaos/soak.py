"""The chaos soak: many seeded episodes, hundreds of kills, one reliability table.

    .venv/bin/python -m tests.chaos.soak --kills 200 --seed-start 1

runs ``ceil(kills / kills-per-seed)`` episodes with consecutive seeds (``--jobs`` of them at
once), prints one line per episode on stderr and a Markdown table on stdout: kills,
failpoints hit by name, steps, paid calls, extra paid calls, lost results, duplicates,
the seed range, the machine and the command. A failed episode prints its seed and replay
command and makes the soak exit 1.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import shlex
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from tests.chaos.accounting import Account
from tests.chaos.driver import ChaosConfig, ChaosFailure, EpisodeStats, run_episode


def cpu_model() -> str:
    """Returns the CPU model name from /proc/cpuinfo (or the platform's guess)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _episode(config: ChaosConfig) -> EpisodeStats | str:
    """Runs one episode in a worker; a failure comes back as its message."""
    try:
        return run_episode(config)
    except ChaosFailure as failure:
        return str(failure)


def table(stats: list[EpisodeStats], seeds: range, command: str, seconds: float) -> str:
    """Returns the reliability table for a finished soak, in Markdown."""
    account = Account()
    kinds: Counter[str] = Counter()
    full: Counter[str] = Counter()
    for one in stats:
        account.add(one.account)
        kinds.update(one.kill_kinds)
        full.update(one.disk_full_points)
    kills = sum(one.kills for one in stats)
    hits = ", ".join(
        f"`{name}` {count}" for name, count in sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))
    )
    stops = ", ".join(f"`{name}=enospc` {count}" for name, count in sorted(full.items()))
    rows = [
        (
            "kills",
            f"{kills} ({kinds['sigkill']} SIGKILL at a random time, "
            f"{kills - kinds['sigkill']} at failpoints)",
        ),
        (
            "kills of a run with steps in flight (started, not journaled)",
            str(sum(one.kills_mid_step for one in stats)),
        ),
        ("failpoints hit", hits),
        (
            "disk-full stops (clean, one line, exit 1/2)",
            f"{sum(full.values())}: {stops}" if full else "0",
        ),
        ("runs started", str(sum(one.runs for one in stats))),
        ("steps journaled (success events)", str(sum(one.steps for one in stats))),
        ("failure events (retried later)", str(sum(one.failure_events for one in stats))),
        ("paid calls (billable in the server's ledger)", str(account.paid_calls)),
        (
            "extra paid calls (billed, in flight at a kill or stop)",
            f"{account.extra_paid_calls} ({account.results_lost_in_flight} results) for "
            f"{account.steps_in_flight} steps in flight",
        ),
        ("lost results (paid, neither journaled nor in flight)", str(account.lost_results)),
        ("duplicate success events (per step and generation)", str(sum(one.duplicates for one in stats))),
        (
            "regenerations (`regenerate` calls killed before their commit; new generations done)",
            f"{kinds['regenerate:append-before-commit']} killed; {sum(one.regenerated for one in stats)} done",
        ),
        ("steps requested again after their success", str(account.rerequested)),
        ("seeds", f"{seeds.start} to {seeds.stop - 1} ({len(seeds)} episodes)"),
        (
            "machine",
            f"{os.cpu_count()} CPUs (`nproc`), {cpu_model()}, Python {platform.python_version()}",
        ),
        ("wall time", f"{seconds / 60:.1f} min"),
        ("command", f"`{command}`"),
    ]
    lines = ["| | |", "|---|---|"] + [f"| {name} | {value} |" for name, value in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Runs the soak; prints the table on stdout, exits 1 if any episode failed."""
    p = argparse.ArgumentParser(prog="python -m tests.chaos.soak", description=__doc__.split("\n")[0])
    p.add_argument("--kills", type=int, default=200, help="total kills to reach (default 200)")
    p.add_argument("--seed-start", type=int, default=1)
    p.add_argument("--kills-per-seed", type=int, default=10)
    p.add_argument("--jobs", type=int, default=1, help="episodes run at once")
    args = p.parse_args(argv)
    seeds = range(args.seed_start, args.seed_start + math.ceil(args.kills / args.kills_per_seed))
    command = shlex.join(
        [
            ".venv/bin/python",
            "-m",
            "tests.chaos.soak",
            *(argv if argv is not None else sys.argv[1:]),
        ]
    )
    started = time.monotonic()
    results: list[EpisodeStats] = []
    failures: list[str] = []
    configs = [ChaosConfig(seed=seed, kills=args.kills_per_seed) for seed in seeds]
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(_episode, config) for config in configs]
        for future in as_completed(futures):
            outcome = future.result()
            if isinstance(outcome, str):
                failures.append(outcome)
                print(outcome, file=sys.stderr, flush=True)
            else:
                results.append(outcome)
                print(outcome.line(), file=sys.stderr, flush=True)
    results.sort(key=lambda one: one.seed)
    print(table(results, seeds, command, time.monotonic() - started))
    if failures:
        print(
            f"soak: {len(failures)} of {len(seeds)} episodes FAILED (replay commands above)",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
