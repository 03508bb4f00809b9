"""Pacing by the provider's limits (issue 14): calls in flight follow the rate, limits are shared.

Unit tests run the slot count and the limiters on a virtual clock; the last ones run the
real `genjournal run` against the fake server at default flags.
"""

from __future__ import annotations

import asyncio
import math
import os
import subprocess
import sys
from pathlib import Path

import openai
import pytest

from generator.concurrency import INITIAL, MARGIN, SPARE, AdaptiveConcurrency
from generator.providers.base import CallInfo, ProviderError, RateLimitInfo
from generator.ratelimit import RateLimiter, link
from generator.retry import RetryPolicy, call_with_retries
from genjournal.testing.fake_openai import FakeOpenAI
from genjournal.testing.fake_openai.ledger import peak_in_flight
from tests.generator.test_ratelimit import VirtualClock
from tests.generator.test_run import journal_events, write_plan

KEY = "sk-test-pacing-0000000000000000"


def learned(clock: VirtualClock, kind: str = "image", per_minute: int = 120) -> RateLimiter:
    """Returns a limiter that has seen the provider's limit in a reply's headers."""
    limiter = RateLimiter(kind, clock=clock, sleep=clock.sleep)  # type: ignore[arg-type]
    limiter.observe(CallInfo(model="m", latency_ms=1, rate=RateLimitInfo(limit_requests=per_minute)))
    return limiter


def test_calls_in_flight_follow_rate_times_latency() -> None:
    """A known rate of 1.9/s and 6 s calls: rate x latency x margin + spare slots (Little's law)."""
    clock = VirtualClock()
    gate = AdaptiveConcurrency(learned(clock), clock=clock)
    taken = asyncio.run(gate.acquire())
    clock.now += 6.0
    gate.release(taken, latency_s=6.0)
    assert gate.limit == int(120 / 60 * 0.95 * 6.0 * MARGIN + SPARE)


def test_before_any_reply_a_known_rate_alone_paces_the_sends() -> None:
    """Rate known from a 429, no call answered yet: the slot count does not hold sends back."""
    clock = VirtualClock()
    limiter = RateLimiter("image", clock=clock, sleep=clock.sleep)
    gate = AdaptiveConcurrency(limiter, cap=100, clock=clock)
    limiter.observe(ProviderError("rate_limited", "x", status=429, rate=RateLimitInfo(limit_requests=60)))

    async def take(n: int) -> None:
        for _ in range(n):
            await gate.acquire()

    asyncio.run(take(90))
    assert gate.in_flight == 90


def test_with_nothing_known_slots_grow_per_success_until_latency_rises() -> None:
    """Slow start: +1 slot per success; latency at twice its floor cuts the count by a tenth."""
    clock = VirtualClock()
    gate = AdaptiveConcurrency(RateLimiter("text", clock=clock, sleep=clock.sleep), clock=clock)
    for _ in range(10):
        taken = asyncio.run(gate.acquire())
        gate.release(taken, latency_s=1.0)
    assert gate.limit == INITIAL + 10
    for _ in range(40):
        taken = asyncio.run(gate.acquire())
        clock.now += 5.0
        gate.release(taken, latency_s=5.0)  # the server queues
    assert gate.limit < INITIAL + 10


def test_a_hard_cap_is_never_exceeded() -> None:
    """`--concurrency 3`: the fourth call waits until one of three returns."""
    gate = AdaptiveConcurrency(RateLimiter("text"), cap=3)

    async def scenario() -> tuple[int, bool]:
        held = [await gate.acquire() for _ in range(3)]
        fourth = asyncio.ensure_future(gate.acquire())
        await asyncio.sleep(0.05)
        waiting = not fourth.done()
        gate.release(held[0], latency_s=0.01)
        await asyncio.wait_for(fourth, 1.0)
        return gate.stats.peak_in_flight, waiting

    peak, waited = asyncio.run(scenario())
    assert (peak, waited) == (3, True)


def refuse(limiter: RateLimiter, clock: VirtualClock, limit: int | None = None) -> None:
    """Sends one attempt and observes a 429 for it (stating ``limit`` when given)."""
    sent = asyncio.run(limiter.acquire())
    rate = RateLimitInfo(limit_requests=limit, remaining_requests=0) if limit else None
    limiter.observe(
        ProviderError("rate_limited", "x", status=429, retry_after_s=0.1, rate=rate), sent_at=sent
    )


def serve(limiter: RateLimiter, clock: VirtualClock, per_second: float, seconds: float) -> None:
    """Serves calls at a steady rate for a while."""
    for _ in range(int(per_second * seconds)):
        sent = asyncio.run(limiter.acquire())
        clock.now += 1 / per_second
        limiter.observe(CallInfo(model="m", latency_ms=10), sent_at=sent)


def test_both_families_refused_under_their_own_limits_share_one_limit() -> None:
    """Text and image 429s within seconds, each under its own stated limit: a shared limiter paces both."""
    clock = VirtualClock()
    text, image = (
        RateLimiter("text", clock=clock, sleep=clock.sleep),
        RateLimiter("image", clock=clock, sleep=clock.sleep),
    )
    link(text, image)
    serve(text, clock, 1.0, 20)
    serve(image, clock, 1.0, 20)
    refuse(text, clock, limit=150)  # the key-level limit, stated in both refusals
    clock.now += 2.0
    refuse(image, clock, limit=150)
    assert text.shared is not None and text.shared is image.shared
    assert text.shared.ceiling == pytest.approx(150 / 60 * 0.95)


def test_a_family_at_its_own_limit_does_not_share() -> None:
    """429s on both families, but each was served at its own limit: their limits stay separate."""
    clock = VirtualClock()
    text = learned(clock, "text", per_minute=60)
    image = learned(clock, "image", per_minute=60)
    link(text, image)
    serve(text, clock, 0.95, 30)
    serve(image, clock, 0.95, 30)
    refuse(text, clock)
    refuse(image, clock)
    assert text.shared is None and image.shared is None


def test_a_429s_stated_limit_outranks_headers_reporting_another() -> None:
    """Headers say 10,000/min, the refusal says "Limit 150": the limiter paces at 150."""
    clock = VirtualClock()
    limiter = learned(clock, "text", per_minute=10_000)
    refuse(limiter, clock, limit=150)
    limiter.observe(CallInfo(model="m", latency_ms=1, rate=RateLimitInfo(limit_requests=10_000)))
    assert limiter.ceiling == pytest.approx(150 / 60 * 0.95)


def test_a_tokens_per_minute_limit_paces_calls_by_the_tokens_they_use() -> None:
    """6,000 tokens/min and ~500 tokens a call: about 11 calls a minute, whatever the request limit."""
    clock = VirtualClock()
    limiter = RateLimiter("text", clock=clock, sleep=clock.sleep)
    for _ in range(5):
        limiter.observe(
            CallInfo(
                model="m",
                latency_ms=1,
                input_tokens=300,
                output_tokens=200,
                rate=RateLimitInfo(limit_requests=5_000, limit_tokens=6_000),
            )
        )
    assert limiter.ceiling == pytest.approx(6_000 * 0.95 / 60 / 500)


def test_a_429_stating_a_token_limit_is_learned_as_one() -> None:
    """ "… on tokens per min (TPM): Limit 3000 …": the token limit is what paces, not the requests."""
    clock = VirtualClock()
    limiter = learned(clock, "text", per_minute=5_000)
    limiter.observe(CallInfo(model="m", latency_ms=1, input_tokens=100, output_tokens=100))
    sent = asyncio.run(limiter.acquire())
    stated = RateLimitInfo(limit_tokens=3_000, remaining_tokens=0)
    limiter.observe(
        ProviderError("rate_limited", "TPM", status=429, retry_after_s=0.1, rate=stated), sent_at=sent
    )
    assert limiter.ceiling == pytest.approx(3_000 * 0.95 / 60 / 200)


def test_rate_limited_attempts_do_not_use_up_the_steps_attempts() -> None:
    """Six 429s and then an answer, with --max-attempts 2: a 429 costs a pause, not an attempt."""
    calls = 0

    async def attempt() -> object:
        nonlocal calls
        calls += 1
        if calls <= 6:
            raise ProviderError("rate_limited", "slow", status=429, retry_after_s=0.0)

        class Result:
            call = CallInfo(model="m", latency_ms=1)

        return Result()

    async def no_sleep(_: float) -> None:
        return None

    _, log = asyncio.run(
        call_with_retries("text", attempt, policy=RetryPolicy(max_attempts=2), sleep=no_sleep)  # type: ignore[arg-type]
    )
    assert log.attempts == 7


# --- the fake server can reproduce it ---------------------------------------------------------


def test_the_fake_spreads_latency_log_normally_around_its_mean() -> None:
    """`latency_sigma`: latencies keep their mean and gain a long slow tail."""
    with FakeOpenAI(text={"latency_ms": 50, "latency_sigma": 0.5}) as server:
        client = openai.OpenAI(api_key=KEY, base_url=server.base_url, max_retries=0)
        for i in range(40):
            client.chat.completions.create(
                model="gpt-5.4-mini", messages=[{"role": "user", "content": f"q{i}"}]
            )
        took = [e.time - e.arrived for e in server.ledger() if e.arrived is not None]
    mean = sum(took) / len(took)
    assert 0.03 < mean < 0.09
    assert max(took) > 1.5 * mean  # the tail


def test_the_fake_enforces_a_shared_key_level_limit_with_the_real_text() -> None:
    """`shared_rpm`: text and image requests draw on one limit; the refusal words it as OpenAI does."""
    with FakeOpenAI(shared_rpm=60, burst_s=1.0) as server:
        client = openai.OpenAI(api_key=KEY, base_url=server.base_url, max_retries=0)
        client.chat.completions.create(model="gpt-5.4-mini", messages=[{"role": "user", "content": "a"}])
        with pytest.raises(openai.RateLimitError) as refused:
            client.images.generate(model="gpt-image-2", prompt="a chair", size="1024x1024")
    assert "on requests per min (RPM): Limit 60" in str(refused.value)


def test_the_fake_enforces_tokens_per_minute_with_the_real_text() -> None:
    """`tpm`: text calls past the token budget are refused "on tokens per min (TPM)", with token headers."""
    with FakeOpenAI(text={"tpm": 1_000}) as server:
        client = openai.OpenAI(api_key=KEY, base_url=server.base_url, max_retries=0)
        first = client.chat.completions.with_raw_response.create(
            model="gpt-5.4-mini", messages=[{"role": "user", "content": "a"}]
        )
        assert first.headers["x-ratelimit-limit-tokens"] == "1000"
        refused: list[str] = []
        for i in range(40):
            try:
                client.chat.completions.create(
                    model="gpt-5.4-mini", messages=[{"role": "user", "content": "b" * 400 + str(i)}]
                )
            except openai.RateLimitError as exc:
                refused.append(str(exc))
                break
    assert refused and "on tokens per min (TPM): Limit 1000" in refused[0]


# --- the real command ---------------------------------------------------------------------------

IMAGES_PLAN = """
languages = ["en"]
images_per_style = 2
images_per_room = 2

[[subcategories]]
slug = "art-deco"
name = "Art Deco"

[[subcategories]]
slug = "japandi"
name = "Japandi"
""" + "".join(f'\n[[room_types]]\nslug = "room-{i}"\nname = "Room {i}"\n' for i in range(4))


def peak_of(server: FakeOpenAI, family: str) -> int:
    """Returns the most requests of one family the server held at once."""
    return peak_in_flight(e for e in server.ledger() if e.family == family)


def genjournal_run(server: FakeOpenAI, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """Runs the images plan against the fake server with the given flags."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "GENJOURNAL_"))}
    env.update({"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": server.base_url})
    plan = write_plan(tmp_path, IMAGES_PLAN)
    argv = [sys.executable, "-m", "genjournal", "run", "--provider", "openai", "--plan", str(plan)]
    argv += ["--data-dir", str(tmp_path / "data"), *extra]
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env)


@pytest.mark.slow
def test_at_default_flags_a_run_keeps_as_many_image_calls_in_flight_as_the_limit_allows(
    tmp_path: Path,
) -> None:
    """3 s image calls at 120 images/min: ~7 in flight (rate x latency), where the old fixed 4 held it to 80/min."""
    image = {"latency_ms": 3000, "latency_sigma": 0.2, "rpm": 120}
    with FakeOpenAI(seed=3, text={"latency_ms": 300, "rpm": 600}, image=image) as server:
        done = genjournal_run(server, tmp_path)
        assert done.returncode == 0, done.stderr
        peak = peak_of(server, "image")
        refused = sum(1 for e in server.ledger() if e.status == 429)
        total = len(server.ledger())
    assert peak >= 6  # 2/s x 3 s; the old fixed pool allowed 4
    assert refused <= max(2, math.ceil(0.1 * total))
    finished = [e for e in journal_events(tmp_path / "data") if e["type"] == "RunFinished"][-1]
    pacing = finished["data"]["pacing"]
    assert pacing["image"]["limit_per_min"] == pytest.approx(120 * 0.95, rel=0.01)
    assert pacing["image"]["peak_in_flight"] >= 6
    shown = subprocess.run(
        [
            sys.executable,
            "-m",
            "genjournal",
            "history",
            "--type",
            "RunFinished",
            "--data-dir",
            str(tmp_path / "data"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert "completed — text" in shown.stdout and "image" in shown.stdout  # what the pacing learned


@pytest.mark.slow
def test_concurrency_is_a_hard_cap_when_given(tmp_path: Path) -> None:
    """`--concurrency 2`: never more than two calls of a family at the server."""
    with FakeOpenAI(seed=4, text={"latency_ms": 100}, image={"latency_ms": 300}) as server:
        done = genjournal_run(server, tmp_path, "--concurrency", "2")
        assert done.returncode == 0, done.stderr
        assert peak_of(server, "image") <= 2
        assert peak_of(server, "text") <= 2
