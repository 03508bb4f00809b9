"""Rebuild benchmark (issue 4): events/s and peak memory, beside the read floor, in one run.

    .venv/bin/python -m benchmarks.rebuild [--sizes 250000 500000 1000000] [--keep DIR]

For each size it builds a synthetic journal (``benchmarks.synth``: styles of 75 events),
then measures, one after the other on the same file:

* the floor: a bare ``SELECT`` of every row in position order plus ``json.loads`` of its
  payload and meta, in one process — what any rebuild must at least do;
* ``genjournal rebuild`` as a subprocess (process start included), sampling the summed
  resident memory of it and its worker processes every 20 ms.

Peak memory that stays flat as the journal grows shows the rebuild streams instead of
loading everything.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.generator import machine
from benchmarks.synth import build


def floor(db: Path) -> float:
    """Times a bare SELECT of every row plus json.loads of payload and meta; returns seconds."""
    conn = sqlite3.connect(db)
    started = time.perf_counter()
    last = 0
    loads = json.loads
    while True:
        rows = conn.execute(
            "SELECT position, data, meta FROM events WHERE position > ? ORDER BY position LIMIT 5000", (last,)
        ).fetchall()
        if not rows:
            break
        for _, data, meta in rows:
            loads(data)
            loads(meta)
        last = rows[-1][0]
    seconds = time.perf_counter() - started
    conn.close()
    return seconds


def _tree_rss_kib(pid: int) -> int:
    """Returns the summed VmRSS of a process and all its descendants, in KiB."""
    total = 0
    stack = [pid]
    while stack:
        current = stack.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
                    break
            for task in Path(f"/proc/{current}/task").iterdir():
                children = (task / "children").read_text().split()
                stack.extend(int(child) for child in children)
        except (OSError, ValueError):
            continue
    return total


def rebuild(data_dir: Path) -> tuple[float, int, str]:
    """Runs ``genjournal rebuild``; returns (seconds, peak summed RSS in KiB, its summary line)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "GENJOURNAL_"))}
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "genjournal", "rebuild", "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss_kib(proc.pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = proc.communicate()
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(err)
    return seconds, peak, err.strip().splitlines()[-1]


def main() -> None:
    """Builds journals of the given sizes and prints one JSON object of figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[250_000, 500_000, 1_000_000])
    parser.add_argument("--keep", type=Path, default=None, help="keep the largest journal in this directory")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="gj-rebuild-") as tmp:
        for size in args.sizes:
            data = Path(tmp) / f"j{size}"
            events, _ = build(data, size)
            floor_s = floor(data / "journal.db")
            seconds, peak_kib, line = rebuild(data)
            results.append(
                {
                    "events": events,
                    "rebuild_s": round(seconds, 2),
                    "rebuild_events_per_s": round(events / seconds),
                    "floor_s": round(floor_s, 2),
                    "floor_events_per_s": round(events / floor_s),
                    "rebuild_vs_floor": round(seconds / floor_s, 2),
                    "peak_rss_mib_all_processes": round(peak_kib / 1024, 1),
                    "summary": line,
                }
            )
            if args.keep is not None and size == max(args.sizes):
                shutil.copytree(data, args.keep, dirs_exist_ok=True)
            shutil.rmtree(data)
    print(json.dumps({"machine": machine(), "cpus": os.cpu_count(), "results": results}, indent=2))


if __name__ == "__main__":
    main()
