"""The retry policy: attempts, backoff, retry-after, billed attempts, fatal errors and stop."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from generator.providers.base import CallInfo, ErrorKind, ProviderError, StyleRequest, StyleResult
from generator.providers.openai import OpenAIProvider
from generator.ratelimit import RateLimiter, RateLimiters
from generator.retry import (
    AttemptLog,
    FatalProviderError,
    RetryPolicy,
    StepFailed,
    Stopped,
    call_with_retries,
)
from genjournal.testing.fake_openai import FakeOpenAI
from journal.events import CatalogEntry


@dataclass(frozen=True)
class Done:
    """A stand-in result: anything with a ``call``."""

    call: CallInfo


OK = Done(CallInfo(model="m", latency_ms=5, input_tokens=10, output_tokens=20))


def billed_error(kind: ErrorKind = "invalid_output", tokens: int = 7) -> ProviderError:
    """Returns a failure the provider charged for."""
    billed = CallInfo(model="m", latency_ms=5, input_tokens=tokens, output_tokens=tokens)
    return ProviderError(kind, "bad", status=200, billed=billed)


class Script:
    """An attempt function that plays back a list of outcomes, one per call."""

    def __init__(self, *outcomes: Done | ProviderError) -> None:
        self.outcomes = list(outcomes)
        self.calls = 0

    async def __call__(self) -> Done:
        outcome = self.outcomes[min(self.calls, len(self.outcomes) - 1)]
        self.calls += 1
        if isinstance(outcome, ProviderError):
            raise outcome
        return outcome


class Sleeps:
    """A sleep that records how long it was asked to wait and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def run(
    script: Script,
    sleeps: Sleeps | None = None,
    *,
    policy: RetryPolicy | None = None,
    limiter: RateLimiters | None = None,
) -> tuple[Done, AttemptLog]:
    """Runs call_with_retries over a script with a recording sleep and a seeded rng."""
    return asyncio.run(
        call_with_retries(
            "text",
            script,
            policy=policy,
            limiter=limiter,
            sleep=sleeps or Sleeps(),
            rng=random.Random(1),
        )
    )


def test_first_success_makes_one_attempt_and_no_sleep() -> None:
    """A call that succeeds at once is made once and never sleeps."""
    sleeps = Sleeps()
    result, log = run(Script(OK), sleeps)
    assert (result, log.attempts, log.billed, sleeps.delays) == (OK, 1, [], [])


def test_retry_after_is_honoured() -> None:
    """The wait before a retry is never shorter than the server's retry-after."""
    sleeps = Sleeps()
    limited = ProviderError("rate_limited", "slow down", status=429, retry_after_s=5.0)
    _, log = run(Script(limited, limited, OK), sleeps, policy=RetryPolicy(base_delay_s=0.1, max_delay_s=1.0))
    assert log.attempts == 3
    assert sleeps.delays == [5.0, 5.0]


def test_backoff_is_exponential_full_jitter_and_bounded() -> None:
    """Backoff after the n-th failure lies in [0, min(max, base·2^(n-1))]."""
    sleeps = Sleeps()
    policy = RetryPolicy(max_attempts=8, base_delay_s=0.5, max_delay_s=3.0)
    with pytest.raises(StepFailed):
        run(Script(ProviderError("server_error", "boom", status=500)), sleeps, policy=policy)
    assert len(sleeps.delays) == 7
    for n, delay in enumerate(sleeps.delays, start=1):
        assert 0 <= delay <= min(3.0, 0.5 * 2 ** (n - 1))
    rng = random.Random(0)
    assert max(policy.backoff_s(20, rng) for _ in range(200)) > 2.5  # jitter spans the range


def test_attempt_limit_raises_step_failed_with_the_last_error() -> None:
    """A step that keeps failing stops after max_attempts with StepFailed naming the last error."""
    script = Script(ProviderError("connection", "reset"), ProviderError("server_error", "boom", status=500))
    with pytest.raises(StepFailed) as failed:
        run(script, policy=RetryPolicy(max_attempts=3))
    assert script.calls == 3
    assert failed.value.log.attempts == 3
    assert (failed.value.error.kind, failed.value.error.status) == ("server_error", 500)
    assert [e.kind for e in failed.value.log.errors] == [
        "connection",
        "server_error",
        "server_error",
    ]


def test_non_retryable_error_fails_at_once() -> None:
    """A bad request or content filter is not retried."""
    kinds: tuple[ErrorKind, ...] = ("bad_request", "content_filter")
    for kind in kinds:
        script = Script(ProviderError(kind, "no", status=400))
        with pytest.raises(StepFailed):
            run(script)
        assert script.calls == 1


def test_auth_error_is_fatal_at_once() -> None:
    """A 401 raises FatalProviderError on the first attempt, so the run can stop."""
    script = Script(ProviderError("auth", "bad key", status=401), OK)
    with pytest.raises(FatalProviderError) as fatal:
        run(script)
    assert script.calls == 1
    assert fatal.value.error.status == 401


def test_billed_failed_attempts_are_logged_and_summed() -> None:
    """Failed attempts the provider charged for are in the log, and usage() adds the success."""
    _, log = run(
        Script(
            billed_error(tokens=3),
            ProviderError("server_error", "x", status=500),
            billed_error(tokens=4),
            OK,
        )
    )
    assert log.attempts == 4
    assert [c.input_tokens for c in log.billed] == [3, 4]
    assert log.usage(OK.call) == {"input_tokens": 17, "output_tokens": 27}
    assert log.usage() == {"input_tokens": 7, "output_tokens": 7}


def test_failed_step_log_counts_what_it_cost() -> None:
    """A step that fails for good still reports every billed attempt."""
    with pytest.raises(StepFailed) as failed:
        run(Script(billed_error("length", 5)), policy=RetryPolicy(max_attempts=3))
    assert failed.value.log.usage() == {"input_tokens": 15, "output_tokens": 15}


def test_refusals_get_fewer_attempts() -> None:
    """A refusal is retried only up to max_refusal_attempts."""
    script = Script(billed_error("refusal"))
    with pytest.raises(StepFailed):
        run(script, policy=RetryPolicy(max_attempts=5, max_refusal_attempts=2))
    assert script.calls == 2


def test_too_long_retry_after_fails_the_step_now() -> None:
    """A retry-after beyond max_retry_after_s fails the step instead of holding a worker."""
    script = Script(ProviderError("rate_limited", "daily cap", status=429, retry_after_s=3600), OK)
    with pytest.raises(StepFailed):
        run(script, policy=RetryPolicy(max_retry_after_s=60))
    assert script.calls == 1


def test_stop_set_before_the_call_makes_no_attempt() -> None:
    """With the stop event already set, no attempt is made and Stopped is raised."""

    async def scenario() -> None:
        stop = asyncio.Event()
        stop.set()
        script = Script(OK)
        with pytest.raises(Stopped) as stopped:
            await call_with_retries("text", script, stop=stop, limiter=RateLimiter("text"))
        assert (script.calls, stopped.value.log.attempts) == (0, 0)

    asyncio.run(scenario())


def test_stop_during_backoff_ends_the_wait_without_another_attempt() -> None:
    """Stop set during a backoff ends the step promptly, with the last error, no new attempt."""

    async def scenario() -> None:
        stop = asyncio.Event()
        script = Script(ProviderError("rate_limited", "wait", status=429, retry_after_s=30), OK)
        asyncio.get_running_loop().call_later(0.05, stop.set)
        started = time.monotonic()
        with pytest.raises(Stopped) as stopped:
            await call_with_retries("text", script, stop=stop)
        assert time.monotonic() - started < 2
        assert script.calls == 1
        assert stopped.value.error is not None
        assert stopped.value.error.kind == "rate_limited"

    asyncio.run(scenario())


def test_limiter_is_acquired_before_and_told_after_every_attempt() -> None:
    """Each attempt goes through the kind's limiter, which learns from a 429 and from a success."""
    limiters = RateLimiters.create()
    limited = ProviderError("rate_limited", "slow", status=429, retry_after_s=0.0)
    _, log = run(Script(limited, OK), limiter=limiters)
    assert log.attempts == 2
    assert limiters.text.stats.acquired == 2
    assert limiters.text.stats.rate_limited == 1
    assert limiters.image.stats.acquired == 0


def test_provider_steps_recover_through_retries_against_the_fake_server(
    fake_openai: FakeOpenAI,
    make_provider: Callable[..., OpenAIProvider],
) -> None:
    """Two injected 500s then a success: attempt 3 succeeds; the ledger shows 3 requests."""
    fake_openai.add_rule("style:japandi/content", "500", times=2)

    async def scenario() -> tuple[StyleResult, AttemptLog]:
        async with make_provider() as provider:
            request = StyleRequest(
                subcategory=CatalogEntry(slug="japandi", name="Japandi"),
                languages=("en",),
                stream="style:japandi",
            )
            return await call_with_retries(
                "text",
                lambda: provider.style(request),
                policy=RetryPolicy(base_delay_s=0.01),
                limiter=RateLimiters.create(),
            )

    result, log = asyncio.run(scenario())
    assert result.data.subcategory == "japandi"
    assert log.attempts == 3
    assert [e.status for e in fake_openai.ledger()] == [500, 500, 200]
