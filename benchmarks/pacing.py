"""Pacing benchmark (issue 14): does a run at default flags use the limits it is given?

    .venv/bin/python -m benchmarks.pacing                       # the matrix, this checkout
    .venv/bin/python -m benchmarks.pacing --code /path/to/old   # the same, another checkout too

Each scenario runs `genjournal run --provider openai` with **default flags** (no
`--concurrency`, no `--rpm`/`--ipm`) on a fresh data dir against the fake server: text
calls take 1.5 s and image calls 6 s on average (log-normal, sigma 0.3), on a plan of
4 styles × 6 rooms with 2 images each (84 calls, 56 images). The scenarios:

* ``separate`` — 600 requests/min for text, 120 images/min, with `x-ratelimit-*` headers;
* ``no-headers`` — the same limits, no `x-ratelimit-*` headers and no `retry-after`
  (only the 429's text says the limit and the wait, as image replies do);
* ``shared`` — one key-level limit of 150 requests/min over text and images (as a
  gateway enforces), each family unlimited on its own;
* ``tokens`` — as ``separate``, plus 24,000 tokens/min for text (~430 tokens a call:
  the text calls are bound by tokens, not requests);
* ``no-limit`` — no limit at all: latency-bound.

For each: the wall time (as a user sees it: process start and journal replay included);
the *ideal*, computed from the limits, the plan's dependency graph and the latency the
server gave each step's answering call (every step starts as soon as its input is
journaled and its family's limit allows); efficiency = ideal ÷ wall; the share of
requests answered 429; the calls in flight at peak (from the fake server's ledger).
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.generator import KEY, clean_env, machine
from genjournal.testing.fake_openai import FakeOpenAI
from genjournal.testing.fake_openai.ledger import peak_in_flight

ROOT = Path(__file__).resolve().parent.parent
STYLES, ROOMS, IMAGES = 4, 6, 2
TEXT_S, IMAGE_S, SIGMA = 1.5, 6.0, 0.3


@dataclass(frozen=True)
class Scenario:
    """One row of the matrix: the server's limits and what it tells the client."""

    name: str
    text_rpm: int | None
    image_rpm: int | None
    shared_rpm: int | None = None
    headers: bool = True
    #: tokens per minute for text calls (input + output)
    text_tpm: int | None = None


SCENARIOS = (
    Scenario("separate", 600, 120),
    Scenario("no-headers", 600, 120, headers=False),
    Scenario("shared", None, None, shared_rpm=150),
    Scenario("tokens", 600, 120, text_tpm=24_000),
    Scenario("no-limit", None, None),
)


def write_plan(path: Path) -> Path:
    """Writes the benchmark's plan."""
    lines = [f"languages = ['en']\nimages_per_style = {IMAGES}\nimages_per_room = {IMAGES}\n"]
    lines += [f"[[subcategories]]\nslug = 'style-{i}'\nname = 'Style {i}'\n" for i in range(STYLES)]
    lines += [f"[[room_types]]\nslug = 'room-{i}'\nname = 'Room {i}'\n" for i in range(ROOMS)]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def ideal_s(
    scenario: Scenario, latency: dict[str, float] | None = None, tokens: dict[str, int] | None = None
) -> float:
    """Returns the shortest possible wall time: the dependency graph under the limits.

    Steps: per style one content call (text), then its style images and its rooms (text),
    then each room's images. A step starts when its input is done and its limit has a
    slot (a rate of limit/60 per second, no burst). Each step takes the latency the
    server actually gave its answering call (``latency``, by ``<stream>/<step>``; the
    mean where it is missing), so the ideal carries the same slow tail as the run.
    """
    latency = latency or {}
    tokens = tokens or {}
    token_rate = (scenario.text_tpm or 0) / 60
    next_token = 0.0
    rates = {
        "text": (scenario.text_rpm or 0) / 60,
        "image": (scenario.image_rpm or 0) / 60,
        "shared": (scenario.shared_rpm or 0) / 60,
    }
    next_slot = {"text": 0.0, "image": 0.0, "shared": 0.0}
    ready: list[tuple[float, int, str, str]] = []  # (ready at, seq, family, step)
    seq = 0

    def push(at: float, family: str, step: str) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(ready, (at, seq, family, step))

    for s in range(STYLES):
        push(0.0, "text", f"style:style-{s}/content")
    finish = 0.0
    while ready:
        at, _, family, step = heapq.heappop(ready)
        start = at
        for pool in (family, "shared"):
            if rates[pool]:
                start = max(start, next_slot[pool])
        if family == "text" and token_rate:
            start = max(start, next_token)
            next_token = start + tokens.get(step, 430) / token_rate
        for pool in (family, "shared"):
            if rates[pool]:
                next_slot[pool] = start + 1 / rates[pool]
        done = start + latency.get(step, TEXT_S if family == "text" else IMAGE_S)
        finish = max(finish, done)
        stream, key = step.split("/", 1)
        if key == "content":
            for i in range(IMAGES):
                push(done, "image", f"{stream}/image:style:{i}")
            for r in range(ROOMS):
                push(done, "text", f"{stream}/room:room-{r}")
        elif key.startswith("room:"):
            for i in range(IMAGES):
                push(done, "image", f"{stream}/image:{key}:{i}")
    return finish


def run_scenario(scenario: Scenario, code: Path, extra: tuple[str, ...] = ()) -> dict[str, Any]:
    """Runs one scenario with the genjournal at ``code``; returns its row."""
    endpoint = {"latency_sigma": SIGMA, "rate_headers": scenario.headers}
    if not scenario.headers:
        endpoint["retry_after_header"] = "none"
    with (
        tempfile.TemporaryDirectory(prefix="gj-pacing-") as tmp,
        FakeOpenAI(
            seed=7,
            text={
                **endpoint,
                "latency_ms": TEXT_S * 1000,
                "rpm": scenario.text_rpm,
                "tpm": scenario.text_tpm,
            },
            image={**endpoint, "latency_ms": IMAGE_S * 1000, "rpm": scenario.image_rpm},
            shared_rpm=scenario.shared_rpm,
        ) as server,
    ):
        plan = write_plan(Path(tmp) / "plan.toml")
        env = clean_env(OPENAI_API_KEY=KEY, OPENAI_BASE_URL=server.base_url, PYTHONPATH=str(code))
        argv = [sys.executable, "-m", "genjournal", "run", "--provider", "openai", "--plan", str(plan)]
        argv += ["--data-dir", str(Path(tmp) / "data"), *extra]
        started = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=code, timeout=1800)
        wall = time.perf_counter() - started
        entries = [e for e in server.ledger() if e.family is not None]
    if done.returncode != 0:
        raise SystemExit(f"{scenario.name}: exit {done.returncode}: {done.stderr[-2000:]}")
    answered = {e.step: e.time - e.arrived for e in entries if e.status == 200 and e.step and e.arrived}
    used = {
        e.step: (e.input_tokens or 0) + (e.output_tokens or 0) for e in entries if e.status == 200 and e.step
    }
    ideal = ideal_s(scenario, answered, used)
    refused = sum(1 for e in entries if e.status == 429)
    return {
        "scenario": scenario.name + (" " + " ".join(extra) if extra else ""),
        "wall_s": round(wall, 1),
        "ideal_s": round(ideal, 1),
        "efficiency": round(ideal / wall, 2),
        "requests": len(entries),
        "share_429": round(refused / max(1, len(entries)), 3),
        "peak_in_flight": peak_in_flight(entries),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", type=Path, help="another checkout to measure in the same run")
    parser.add_argument("--only", help="one scenario by name")
    args = parser.parse_args()
    rows = []
    codes = [("this", ROOT)] + ([("other", args.code.resolve())] if args.code else [])
    for scenario in SCENARIOS:
        if args.only and scenario.name != args.only:
            continue
        for label, code in codes:
            row = {"code": label, **run_scenario(scenario, code)}
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    print(json.dumps({"machine": machine(), "cpus": os.cpu_count(), "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
