"""Benchmarks the OpenAI provider, the retry policy and the rate limiter against the fake server.

    .venv/bin/python benchmarks/limiter.py [--seconds 30] [--calls 400] [--concurrency 8]

(a) Efficiency: N workers call the provider through ``call_with_retries`` against a
    fake server answering text in 150 ms and images in 250 ms, without rate limits.
    efficiency = (Σ call latency / concurrency) / wall time — 1.0 means the workers
    never waited for anything but the server.
(b) Rate limit: the same workers against a 600 requests/minute limit per endpoint
    family. Achieved rate / limit (successful requests per minute over the limit) and
    the share of requests answered 429, from the server's ledger.
(b') The same against a server that sends no ``x-ratelimit-*`` headers, so the
    limiter learns from 429s alone (AIMD); ``--skip-blind`` leaves it out.

The fake server runs as a subprocess (``python -m genjournal.testing.fake_openai``) so its
threads do not share the benchmark's interpreter.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from generator.providers.base import (  # noqa: E402
    CallKind,
    ImageRequest,
    ImageResult,
    StyleRequest,
    StyleResult,
)
from generator.providers.openai import OpenAIProvider, OpenAISettings  # noqa: E402
from generator.ratelimit import RateLimiters  # noqa: E402
from generator.retry import RetryError, RetryPolicy, call_with_retries  # noqa: E402
from journal.events import CatalogEntry, Color, Prose, StyleCreatedData  # noqa: E402

#: benchmark (b) also reports the rate once the limiter has had this long to learn
WARMUP_S = 2.0
STYLE = StyleCreatedData(
    subcategory="art-deco",
    name={"en": "Art Deco"},
    approach="Geometric glamour with lacquer and brass",
    color=Color(name="Brass Gold", hex="#b08d57"),
    content={"en": Prose(poetic="Light on brass.", factual="Born in 1920s Paris.")},
    keywords=("geometry", "brass", "lacquer"),
)


@contextmanager
def fake_server(settings: dict[str, object]) -> Iterator[str]:
    """Runs ``python -m genjournal.testing.fake_openai`` and yields its base URL."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "genjournal.testing.fake_openai",
            "--port",
            "0",
            "--rules",
            json.dumps(settings),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url.startswith("http"):
            raise RuntimeError("the fake server did not start")
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def ledger(base_url: str) -> list[dict[str, object]]:
    """Returns the fake server's ledger."""
    root = base_url.removesuffix("/v1")
    with urllib.request.urlopen(f"{root}/_ledger", timeout=10) as reply:
        return json.loads(reply.read())  # type: ignore[no-any-return]


@dataclass
class Tally:
    """Collects what the workers saw."""

    ok: dict[str, int] = field(default_factory=lambda: {"text": 0, "image": 0})
    failed: int = 0
    attempts: int = 0
    latency_ms: int = 0


async def workload(
    base_url: str, *, concurrency: int, calls: int | None, seconds: float | None
) -> tuple[Tally, float, RateLimiters]:
    """Runs the workers until ``calls`` are done or ``seconds`` pass; returns tally, wall time."""
    provider = OpenAIProvider(OpenAISettings(), api_key="sk-benchmark-key-0000", base_url=base_url)
    limiters = RateLimiters.create()
    policy = RetryPolicy(max_attempts=6)
    tally = Tally()
    counter = iter(range(10**9))
    started = time.perf_counter()
    deadline = started + seconds if seconds else None
    entry = CatalogEntry(slug="art-deco", name="Art Deco")

    async def one(i: int) -> None:
        """Makes call number i (even: text, odd: image) through the retry policy."""
        kind: CallKind = "text" if i % 2 == 0 else "image"
        stream = f"style:bench-{i}"
        call: Callable[[], Awaitable[StyleResult | ImageResult]]
        if kind == "text":
            request = StyleRequest(subcategory=entry, languages=("en",), stream=stream)
            call = lambda: provider.style(request)  # noqa: E731
        else:
            image = ImageRequest(
                subcategory=entry, style=STYLE, index=i % 3, stream=stream, step="image:style:0"
            )
            call = lambda: provider.image(image)  # noqa: E731
        try:
            result, log = await call_with_retries(kind, call, policy=policy, limiter=limiters)
        except RetryError as exc:
            tally.failed += 1
            tally.attempts += exc.log.attempts
            return
        tally.ok[kind] += 1
        tally.attempts += log.attempts
        tally.latency_ms += result.call.latency_ms

    async def worker() -> None:
        """Takes calls until the count or the time is up."""
        for i in counter:
            if (calls is not None and i >= calls) or (
                deadline is not None and time.perf_counter() >= deadline
            ):
                return
            await one(i)

    try:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    finally:
        await provider.aclose()
    return tally, time.perf_counter() - started, limiters


def rate_limited_run(args: argparse.Namespace, settings: dict[str, object]) -> None:
    """Runs the workers for ``args.seconds`` against a rate-limited server; prints the figures."""
    with fake_server(settings) as url:
        _, wall, limiters = asyncio.run(
            workload(url, concurrency=args.concurrency, calls=None, seconds=args.seconds)
        )
        entries = ledger(url)
    worst_ratio, worst_share = float("inf"), 0.0
    for family in ("text", "image"):
        mine = [e for e in entries if e["family"] == family]
        stats = limiters.text.stats if family == "text" else limiters.image.stats
        for label, skip_s in (("whole run", 0.0), (f"after {WARMUP_S:g} s", WARMUP_S)):
            start = float(mine[0]["elapsed_s"]) + skip_s  # type: ignore[arg-type]
            span = float(mine[-1]["elapsed_s"]) - start  # type: ignore[arg-type]
            window = [e for e in mine if float(e["elapsed_s"]) >= start]  # type: ignore[arg-type]
            ok = sum(1 for e in window if e["status"] == 200)
            refused = sum(1 for e in window if e["status"] == 429)
            ratio, share = ok / span * 60 / args.rpm, refused / len(window)
            print(
                f"    {family:5} {label:>13}: {ok} ok, {refused} refused (429) of {len(window)}; "
                f"achieved/limit {ratio:.3f}; 429 share {share:.2%}"
            )
            worst_ratio, worst_share = min(worst_ratio, ratio), max(worst_share, share)
        print(
            f"    {family:5} limiter: waited {stats.waited_s:.1f} s over {stats.acquired} "
            f"acquires; {stats.decreases} rate cut(s); {wall:.1f} s run"
        )
    if worst_ratio >= 0.9 and worst_share <= 0.03:
        verdict = "goal met"
    elif worst_ratio >= 0.8 and worst_share <= 0.10:
        verdict = "floor met"
    else:
        verdict = "BELOW FLOOR"
    print(
        f"    worst: achieved/limit {worst_ratio:.3f}, 429 share {worst_share:.2%} ({verdict}; "
        "goal >= 0.9 with <= 3 %, floor 0.8 / 10 %)"
    )


def main() -> int:
    """Runs benchmarks (a), (b) and (b') and prints their figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--calls", type=int, default=400, help="calls in benchmark (a)")
    parser.add_argument("--seconds", type=float, default=30.0, help="duration of benchmark (b)")
    parser.add_argument("--rpm", type=int, default=600, help="the limit in benchmark (b)")
    parser.add_argument(
        "--skip-blind", action="store_true", help="skip (b'), the run without rate-limit headers"
    )
    args = parser.parse_args()
    os.environ.pop("OPENAI_BASE_URL", None)

    latency = {"text": {"latency_ms": 150}, "image": {"latency_ms": 250}}
    with fake_server({"seed": 1, **latency}) as url:
        tally, wall, _ = asyncio.run(
            workload(url, concurrency=args.concurrency, calls=args.calls, seconds=None)
        )
    efficiency = (tally.latency_ms / 1000 / args.concurrency) / wall
    print(
        f"(a) no limit, 150 ms text / 250 ms image, concurrency {args.concurrency}: "
        f"{sum(tally.ok.values())} calls ({tally.failed} failed) in {wall:.2f} s; "
        f"Σ latency {tally.latency_ms / 1000:.1f} s; efficiency {efficiency:.3f}"
    )

    limited = {"latency_ms": 150, "rpm": args.rpm}, {"latency_ms": 250, "rpm": args.rpm}
    print(f"(b) {args.rpm} requests/minute per family, concurrency {args.concurrency}:")
    rate_limited_run(args, {"seed": 2, "text": limited[0], "image": limited[1]})
    if not args.skip_blind:
        print("(b') the same, but the server sends no x-ratelimit headers (429s are all it says):")
        blind = [{**family, "rate_headers": False} for family in limited]
        rate_limited_run(args, {"seed": 3, "text": blind[0], "image": blind[1]})
    return 0


if __name__ == "__main__":
    sys.exit(main())
