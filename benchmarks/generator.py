"""Generator benchmarks (issue 5), each measured side by side in one run on this machine.

    .venv/bin/python -m benchmarks.generator            # all three
    .venv/bin/python -m benchmarks.generator offline    # (a) only

(a) The default 60 × 24 plan offline (`genjournal run` as a subprocess on a fresh data
    dir) against the crash-safe floor measured right after it: the same number of bare
    durable SQLite commits (WAL, synchronous=FULL, one row each) plus the same number of
    image files written the same durable way (temp file, fsync, rename, directory fsync).
(b) `genjournal run --provider openai --concurrency 8` against the fake server with
    150 ms text / 250 ms image latency: efficiency = (Σ call latency / concurrency) / wall.
(c) The same against a 600 requests/minute limit per endpoint family: achieved rate /
    limit while the run was busy, and the share of requests answered 429.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from genjournal.testing.fake_openai import FakeOpenAI

ROOT = Path(__file__).resolve().parent.parent
KEY = "sk-bench-000000000000000000000000"


def machine() -> str:
    """Describes the machine: CPU model and count, Python."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


def genjournal(
    *args: str, env: dict[str, str] | None = None
) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Runs the CLI as a subprocess; returns (seconds, result)."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "genjournal", *args], capture_output=True, text=True, env=env or clean_env()
    )
    return time.perf_counter() - started, result


def clean_env(**extra: str) -> dict[str, str]:
    """Returns the environment without OpenAI or genjournal settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "GENJOURNAL_"))}
    env.update(extra)
    return env


def floor(commits: int, images: list[int], where: Path) -> float:
    """Times the crash-safe floor: bare durable commits plus durably written files of these sizes."""
    db = sqlite3.connect(where / "floor.db", isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, data TEXT)")
    blobs = where / "blobs"
    blobs.mkdir()
    started = time.perf_counter()
    for _ in range(commits):
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO t (data) VALUES (?)", ("x" * 300,))
        db.execute("COMMIT")
    payload = os.urandom(max(images or [0]))
    dir_fd = os.open(blobs, os.O_RDONLY)
    try:
        for i, size in enumerate(images):
            temp = blobs / f".tmp-{i}"
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                os.write(fd, payload[:size])
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temp, blobs / f"{i}.png")
            os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    seconds = time.perf_counter() - started
    db.close()
    return seconds


def bench_offline() -> dict[str, object]:
    """(a) Times the whole default plan offline against the crash-safe floor."""
    with tempfile.TemporaryDirectory(prefix="gj-bench-") as tmp:
        data = Path(tmp) / "data"
        seconds, result = genjournal("run", "--data-dir", str(data))
        if result.returncode != 0:
            raise SystemExit(result.stderr)
        conn = sqlite3.connect(data / "journal.db")
        commits = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        conn.close()
        sizes = [p.stat().st_size for p in (data / "images").glob("*/*.png")]
        floor_s = floor(commits, sizes, Path(tmp))
    return {
        "run_s": round(seconds, 2),
        "events": commits,
        "images": len(sizes),
        "floor_s": round(floor_s, 2),
        "ratio": round(seconds / floor_s, 2),
    }


def small_plan(path: Path, styles: int, rooms: int, images: int = 3) -> Path:
    """Writes a plan of ``styles`` styles × ``rooms`` rooms (``images`` each) from the catalogue."""
    import tomllib

    catalogue = tomllib.loads((ROOT / "generator" / "catalog.toml").read_text())
    lines = ['languages = ["en"]', f"images_per_style = {images}", f"images_per_room = {images}", ""]
    for entry in catalogue["subcategories"][:styles]:
        lines += ["[[subcategories]]", f'slug = "{entry["slug"]}"', f'name = "{entry["name"]}"', ""]
    for entry in catalogue["room_types"][:rooms]:
        lines += ["[[room_types]]", f'slug = "{entry["slug"]}"', f'name = "{entry["name"]}"', ""]
    path.write_text("\n".join(lines))
    return path


def bench_latency(concurrency: int = 8) -> dict[str, object]:
    """(b) Measures how well the run keeps ``concurrency`` calls busy against a slow server."""
    with (
        tempfile.TemporaryDirectory(prefix="gj-bench-") as tmp,
        FakeOpenAI(seed=1, text={"latency_ms": 150}, image={"latency_ms": 250}) as server,
    ):
        plan = small_plan(Path(tmp) / "plan.toml", styles=4, rooms=24)
        env = clean_env(OPENAI_API_KEY=KEY, OPENAI_BASE_URL=server.base_url)
        seconds, result = genjournal(
            "run",
            "--provider",
            "openai",
            "--plan",
            str(plan),
            "--data-dir",
            str(Path(tmp) / "data"),
            "--concurrency",
            str(concurrency),
            env=env,
        )
        if result.returncode != 0:
            raise SystemExit(result.stderr)
        ledger = server.ledger()
        # A call's latency as the server served it: from arrival to answer.
        busy = sum(entry.time - entry.arrived for entry in ledger if entry.arrived is not None)
    # The process start and the replay are part of the wall time, as a user sees it.
    return {
        "calls": len(ledger),
        "wall_s": round(seconds, 2),
        "sum_latency_s": round(busy, 2),
        "efficiency": round(busy / concurrency / seconds, 3),
    }


def bench_rate_limit(concurrency: int = 8, rpm: int = 600) -> dict[str, object]:
    """(c) Measures the achieved request rate against a per-family limit and the share of 429s.

    Two plans, so that each family is the one the limit binds: text only (20 styles × 24
    rooms, no images) and image-heavy (4 styles × 24 rooms, 3 images each).
    """
    out: dict[str, object] = {"limit_rpm": rpm}
    for family, styles, images in (("text", 20, 0), ("image", 4, 3)):
        with (
            tempfile.TemporaryDirectory(prefix="gj-bench-") as tmp,
            FakeOpenAI(
                seed=2, text={"rpm": rpm, "latency_ms": 20}, image={"rpm": rpm, "latency_ms": 20}, burst_s=1.0
            ) as server,
        ):
            plan = small_plan(Path(tmp) / "plan.toml", styles=styles, rooms=24, images=images)
            env = clean_env(OPENAI_API_KEY=KEY, OPENAI_BASE_URL=server.base_url)
            _, result = genjournal(
                "run",
                "--provider",
                "openai",
                "--plan",
                str(plan),
                "--data-dir",
                str(Path(tmp) / "data"),
                "--concurrency",
                str(concurrency),
                "--max-attempts",
                "10",
                env=env,
            )
            if result.returncode != 0:
                raise SystemExit(result.stderr)
            entries = [e for e in server.ledger() if e.family == family]
        span = entries[-1].time - entries[0].time
        ok = sum(1 for e in entries if e.status == 200)
        # The rate over the span this family was busy, of the requests the server accepted.
        out[f"{family}_requests"] = len(entries)
        out[f"{family}_rate_vs_limit"] = round(ok / span * 60 / rpm, 3) if span > 0 else None
        out[f"{family}_429_share"] = round(sum(1 for e in entries if e.status == 429) / len(entries), 3)
    return out


def main() -> None:
    """Runs the chosen benchmarks and prints one JSON object of figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("which", nargs="*", metavar="offline|latency|ratelimit")
    args = parser.parse_args()
    which = args.which or ["offline", "latency", "ratelimit"]
    unknown = set(which) - {"offline", "latency", "ratelimit"}
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    figures: dict[str, object] = {"machine": machine()}
    if "offline" in which:
        figures["offline_60x24"] = bench_offline()
    if "latency" in which:
        figures["latency_c8"] = bench_latency()
    if "ratelimit" in which:
        figures["ratelimit_600rpm"] = bench_rate_limit()
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
