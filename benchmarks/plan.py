"""Plan benchmark (issue 12, item 6): loading a plan of 100,000 entries.

    .venv/bin/python -m benchmarks.plan                  # 100,000 sub-categories
    .venv/bin/python -m benchmarks.plan --entries 10000

Writes a TOML plan with N sub-categories and one room type, then times
``generator.plan.load_plan`` on it (parse, validation, and the locator that names the
line of a bad entry) against its floor in the same run: ``tomllib.loads`` of the same
text. Best of three each.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tomllib
from datetime import datetime
from pathlib import Path

from benchmarks.generator import machine
from generator.plan import load_plan


def write_plan(path: Path, entries: int) -> None:
    """Writes a plan of ``entries`` sub-categories and one room type."""
    lines = ['languages = ["en"]', "images_per_style = 1", "images_per_room = 1", ""]
    lines += ["[[room_types]]", 'slug = "kitchen"', 'name = "Kitchen"', ""]
    for i in range(entries):
        lines += ["[[subcategories]]", f'slug = "style-{i}"', f'name = "Style {i}"', ""]
    path.write_text("\n".join(lines), encoding="utf-8")


def best_of(runs: int, work: object) -> float:
    """Returns the fastest of ``runs`` timings of ``work()``."""
    assert callable(work)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark and prints its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=100_000, help="sub-categories in the plan")
    args = parser.parse_args(argv)
    print(f"machine: {machine()}; {datetime.now().astimezone():%Y-%m-%d}", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="genjournal-plan-bench-") as root:
        path = Path(root) / "plan.toml"
        write_plan(path, args.entries)
        text = path.read_text(encoding="utf-8")
        floor = best_of(3, lambda: tomllib.loads(text))
        loaded = best_of(3, lambda: load_plan(path))
    print(
        f"plan of {args.entries:,} entries: load_plan {loaded:.2f} s; "
        f"tomllib.loads alone {floor:.2f} s -> {loaded / floor:.2f}x",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
