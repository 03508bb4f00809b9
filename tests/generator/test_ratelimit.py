"""The adaptive rate limiter: unthrottled by default, learns from headers and 429s, converges."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import pytest

from generator.providers.base import CallInfo, ProviderError, RateLimitInfo, StyleRequest
from generator.providers.openai import OpenAIProvider
from generator.ratelimit import RateLimiter, RateLimiters
from generator.retry import RetryError, RetryPolicy, call_with_retries
from genjournal.testing.fake_openai import FakeOpenAI
from journal.events import CatalogEntry


class VirtualClock:
    """A clock that only moves when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def limiter(clock: VirtualClock, **options: float) -> RateLimiter:
    """Returns a text limiter on the virtual clock."""
    return RateLimiter("text", clock=clock, sleep=clock.sleep, **options)


def success(limit: int | None = None, remaining: int | None = None, reset: float | None = None) -> CallInfo:
    """Returns a successful call whose headers said this."""
    rate = RateLimitInfo(limit_requests=limit, remaining_requests=remaining, reset_requests_s=reset)
    return CallInfo(model="m", latency_ms=1, rate=rate)


def test_unthrottled_until_something_is_known() -> None:
    """With no limit known, acquire never waits, so concurrency is not throttled."""
    clock = VirtualClock()
    pacer = limiter(clock)

    async def scenario() -> None:
        for _ in range(100):
            await pacer.acquire()
            pacer.observe(CallInfo(model="m", latency_ms=1))

    asyncio.run(scenario())
    assert (pacer.rate, clock.slept, pacer.stats.acquired) == (None, [], 100)


def test_hard_cap_spaces_requests() -> None:
    """An rpm cap of 600 lets one request out every 100 ms."""
    clock = VirtualClock()
    pacer = limiter(clock, per_minute=600)

    async def scenario() -> None:
        for _ in range(11):
            await pacer.acquire()

    asyncio.run(scenario())
    assert clock.now - 1000.0 == pytest.approx(1.0)
    assert pacer.rate == pytest.approx(10.0)


def test_headers_set_the_rate_below_the_limit() -> None:
    """x-ratelimit-limit-requests sets the pace to the limit less headroom; a cap still wins."""
    clock = VirtualClock()
    pacer = limiter(clock)
    pacer.observe(success(limit=1200))
    assert pacer.rate == pytest.approx(20 * 0.95)
    capped = limiter(clock, per_minute=300)
    capped.observe(success(limit=1200))
    assert capped.rate == pytest.approx(5.0)


def test_a_429_at_a_known_limit_pauses_everyone_and_cuts_gently_then_recovers() -> None:
    """Limit known: a 429 pauses everyone and cuts a tenth once per burst, never below half; successes restore it."""
    clock = VirtualClock()
    pacer = limiter(clock, increase=0.1)
    pacer.observe(success(limit=600))
    ceiling = pacer.rate
    assert ceiling == pytest.approx(9.5)
    assert ceiling is not None
    limited = ProviderError("rate_limited", "slow", status=429, retry_after_s=2.0)
    pacer.observe(limited)
    pacer.observe(limited)  # the same burst: no second cut
    assert pacer.paused_for == pytest.approx(2.0)
    assert pacer.rate == pytest.approx(ceiling * 0.9)
    assert pacer.stats.decreases == 1
    for _ in range(20):  # 429s for requests sent after each cut: each is news
        clock.now += 1.0
        pacer.observe(limited, sent_at=clock.now - 0.1)
    assert pacer.rate == pytest.approx(ceiling * 0.5)  # compounded, but never below half

    async def first() -> None:
        await pacer.acquire()

    asyncio.run(first())
    assert clock.now >= 1022.0
    rates: list[float] = []
    for _ in range(20):
        pacer.observe(success(limit=600))
        rates.append(pacer.rate or 0.0)
    assert rates == sorted(rates)
    assert pacer.rate == pytest.approx(ceiling)


def test_one_early_429_with_nothing_known_keeps_the_rate_that_was_in_flight() -> None:
    """Multi-second calls, no headers: the first 429's rate comes from the calls in flight, not a 2 s count."""
    clock = VirtualClock()
    pacer = limiter(clock)

    async def send(n: int) -> list[float]:
        return [await pacer.acquire() for _ in range(n)]

    sent = asyncio.run(send(16))  # 16 image calls out at once, none answered yet
    clock.now += 6.0
    for stamp in sent[:3]:
        pacer.observe(CallInfo(model="m", latency_ms=6000), sent_at=stamp)
    pacer.observe(ProviderError("rate_limited", "slow", status=429), sent_at=sent[3])
    # 12 still out after ~6 s each: ~2 calls a second were being sent, not 0.05.
    assert pacer.rate is not None
    assert pacer.rate > 1.0


def test_without_headers_a_429_sets_a_rate_from_what_was_served() -> None:
    """With no headers, the first 429 sets the pace from the rate the server was serving."""
    clock = VirtualClock()
    pacer = limiter(clock)

    async def scenario() -> None:
        for _ in range(20):
            await pacer.acquire()
            clock.now += 0.05  # 20 requests a second
            pacer.observe(CallInfo(model="m", latency_ms=50))

    asyncio.run(scenario())
    pacer.observe(ProviderError("rate_limited", "slow", status=429, retry_after_s=None))
    assert pacer.paused_for == pytest.approx(pacer.default_pause_s)
    assert pacer.rate is not None
    assert 0.5 * 20 < pacer.rate < 20


def test_empty_bucket_in_headers_pauses_until_the_next_slot() -> None:
    """remaining=0 pauses everyone for one request's share of the window, at most the reset."""
    clock = VirtualClock()
    pacer = limiter(clock)
    pacer.observe(success(limit=600, remaining=0, reset=0.9))
    assert pacer.paused_for == pytest.approx(0.1)
    pacer2 = limiter(clock)
    pacer2.observe(success(limit=60, remaining=0, reset=0.25))
    assert pacer2.paused_for == pytest.approx(0.25)


async def drive(server: FakeOpenAI, seconds: float, concurrency: int = 8) -> RateLimiters:
    """Runs text calls at the given concurrency through retries and limiters for a while."""
    limiters = RateLimiters.create()
    provider = OpenAIProvider(api_key="sk-test-limiter-000000000", base_url=server.base_url)
    deadline = time.monotonic() + seconds
    request = StyleRequest(
        subcategory=CatalogEntry(slug="loft", name="Loft"), languages=("en",), stream="style:loft"
    )

    async def worker() -> None:
        while time.monotonic() < deadline:
            with contextlib.suppress(RetryError):
                await call_with_retries(
                    "text",
                    lambda: provider.style(request),
                    policy=RetryPolicy(max_attempts=10),
                    limiter=limiters,
                )

    async with provider:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return limiters


def measure(server: FakeOpenAI, rpm: int, skip_s: float) -> tuple[float, float]:
    """Returns the achieved rate / limit and the share of 429s once ``skip_s`` have passed."""
    entries = server.ledger()
    start = entries[0].elapsed_s + skip_s
    steady = [e for e in entries if e.elapsed_s >= start]
    ok = sum(1 for e in steady if e.status == 200)
    limited = sum(1 for e in steady if e.status == 429)
    return ok / (entries[-1].elapsed_s - start) * 60 / rpm, limited / len(steady)


@pytest.mark.timeout(30)
def test_converges_near_the_servers_limit_with_few_429s() -> None:
    """Against 1,200 rpm at concurrency 8 the limiter holds >= 0.8 of it with <= 10 % 429s."""
    with FakeOpenAI(seed=1, text={"rpm": 1200, "latency_ms": 10}) as server:
        limiters = asyncio.run(drive(server, 2.0))
        ratio, share = measure(server, 1200, skip_s=0.5)
    assert 0.8 <= ratio <= 1.05, ratio
    assert share <= 0.10, share
    assert limiters.text.ceiling == pytest.approx(20 * 0.95)


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_converges_from_429s_alone_when_the_server_sends_no_headers() -> None:
    """Without rate headers, AIMD on 429s alone settles near the limit with few 429s."""
    # The first seconds are discovery: the unthrottled start and the cuts down to the limit.
    # The bar is below the benchmark's (0.8; it measures 0.99 on a quiet machine) because
    # this runs beside the rest of the suite on two shared cores; a broken AIMD lands far
    # lower or far above the 429 share.
    with FakeOpenAI(seed=2, text={"rpm": 1200, "latency_ms": 10, "rate_headers": False}) as server:
        limiters = asyncio.run(drive(server, 9.0))
        ratio, share = measure(server, 1200, skip_s=2.0)
    assert 0.7 <= ratio <= 1.05, ratio
    assert share <= 0.10, share
    assert limiters.text.stats.decreases >= 1


def test_limiters_split_text_and_image(make_provider: Callable[..., OpenAIProvider]) -> None:
    """RateLimiters holds separate text and image limiters with their own caps."""
    limiters = RateLimiters.create(rpm=600, ipm=60)
    assert limiters.for_kind("text").rate == pytest.approx(10.0)
    assert limiters.for_kind("image").rate == pytest.approx(1.0)
