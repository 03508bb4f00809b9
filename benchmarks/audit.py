"""Times the audit commands on a million-event journal, each as a whole process.

    python -m benchmarks.audit                       # copies /tmp/gj-1m, builds it if missing
    python -m benchmarks.audit --source DIR --runs 7

The journal is the synthetic one of ``benchmarks.synth`` (13,333 styles x 75 events).
The source is never modified: it is copied to ``--work`` first (once; ``--fresh``
copies again). The projection is then rebuilt once (timed and reported: the one-off
cost of a journal whose projection is missing or of an older layout), and each command
is run ``--runs`` times as ``genjournal … --data-dir WORK`` — Python start, imports,
opening the store, the query and printing all included — and the median is reported.
Goal: ≤ 1 s each; target 0.3 s.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMANDS = (
    ("status --json", ["status", "--json"]),
    (
        "history --limit 50 --type ImageFailed",
        ["history", "--limit", "50", "--type", "ImageFailed"],
    ),
    ("history STYLE", ["history", "style-006666"]),
    ("costs --by model", ["costs", "--by", "model"]),
)
GOAL_S = 1.0
TARGET_S = 0.3


def genjournal(*args: str) -> list[str]:
    """Returns the argv running the installed genjournal in this interpreter."""
    return [sys.executable, "-m", "genjournal", *args]


def prepare(source: Path, work: Path, *, fresh: bool, events: int) -> None:
    """Copies (or builds) the journal into ``work``, never touching ``source``."""
    if fresh and work.exists():
        shutil.rmtree(work)
    if (work / "journal.db").exists():
        return
    if not (source / "journal.db").exists():
        print(f"building a {events:,}-event journal in {source} …", file=sys.stderr)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.synth",
                "--events",
                str(events),
                "--out",
                str(source),
            ],
            check=True,
        )
    work.mkdir(parents=True, exist_ok=True)
    print(f"copying {source / 'journal.db'} to {work} …", file=sys.stderr)
    shutil.copyfile(source / "journal.db", work / "journal.db")


def timed(argv: list[str]) -> tuple[float, int]:
    """Runs a command to the end; returns (seconds, bytes of stdout)."""
    started = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, check=False)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({result.returncode}): {result.stderr.decode()[-500:]}")
    return seconds, len(result.stdout)


def main() -> None:
    """Parses arguments, prepares the journal, times each command and prints the table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--source", type=Path, default=Path("/tmp/gj-1m"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/gj-1m-audit"))
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--fresh", action="store_true", help="copy the source journal again")
    args = parser.parse_args()
    prepare(args.source, args.work, fresh=args.fresh, events=args.events)
    data = ["--data-dir", str(args.work)]
    rebuild_s, _ = timed(genjournal("rebuild", *data))
    print(f"rebuild (once, before timing): {rebuild_s:.1f} s", file=sys.stderr)
    timed(genjournal("status", *data))  # warm the page cache like a second look would
    rows = []
    for label, command in COMMANDS:
        runs = [timed(genjournal(*command, *data)) for _ in range(args.runs)]
        seconds = [s for s, _ in runs]
        rows.append((label, statistics.median(seconds), min(seconds), max(seconds), runs[0][1]))
    print(f"\naudit commands on {args.work / 'journal.db'} ({args.runs} runs each, whole process)\n")
    print(f"{'command':42} {'median':>8} {'min':>7} {'max':>7} {'stdout':>11}  goal {GOAL_S:.0f} s")
    for label, median, low, high, size in rows:
        verdict = "ok" if median <= GOAL_S else "OVER"
        if median <= TARGET_S:
            verdict += f" (≤ target {TARGET_S} s)"
        print(f"{label:42} {median:7.2f}s {low:6.2f}s {high:6.2f}s {size:>10,}B  {verdict}")
    start_s = statistics.median(timed(genjournal("--help"))[0] for _ in range(args.runs))
    print(f"\n(`genjournal --help`, i.e. Python start and imports alone: {start_s:.2f} s)")


if __name__ == "__main__":
    main()
