"""The retry policy every paid call runs under: attempts, backoff, rate limits, stop.

``call_with_retries`` makes one attempt at a time through a provider method, waiting
on the kind's ``RateLimiter`` before each and telling it how each went. Between
attempts it sleeps an exponential backoff with full jitter, never less than the
server's retry-after. It ends in one of four ways:

    (result, AttemptLog)             the step succeeded (possibly after failed attempts)
    RetryError                       carries the AttemptLog: what was tried and billed
    ├── StepFailed(error, log)       attempts used up, or an error not worth retrying
    ├── FatalProviderError(error, log)  an error that stops the whole run (auth)
    └── Stopped(log, error)          the stop event was set before the next attempt

``AttemptLog.billed`` lists the ``CallInfo`` of every failed attempt the provider
charged for (invalid output, refusal, length…), so a success event's meta can count
what the failed tries cost, and a failure event what the whole step cost.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from generator.providers.base import CallInfo, CallKind, ErrorKind, ProviderError
from generator.ratelimit import RateLimiter, RateLimiters


class _HasCall(Protocol):
    @property
    def call(self) -> CallInfo:
        """Returns what the attempt cost."""
        ...


T = TypeVar("T", bound=_HasCall)
R = TypeVar("R")


@dataclass(frozen=True)
class RetryPolicy:
    """Says how often and how patiently a step's paid call is retried within one run."""

    max_attempts: int = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    #: a model that refused once usually refuses again: fewer tries, less money
    max_refusal_attempts: int = 2
    #: a retry-after longer than this fails the step now instead of holding a worker
    max_retry_after_s: float = 120.0
    #: attempts a 429 may add beyond ``max_attempts``: a refusal for pace is not billed
    #: and says nothing about the step, so it costs a pause, not the step's attempts
    rate_limited_extra: int = 20

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.max_refusal_attempts < 1:
            raise ValueError("attempt limits must be at least 1")
        if self.base_delay_s < 0 or self.max_delay_s < self.base_delay_s:
            raise ValueError("need 0 <= base_delay_s <= max_delay_s")

    def attempts_for(self, kind: ErrorKind) -> int:
        """Returns how many attempts a step may make when its attempts fail this way."""
        if kind == "refusal":
            return min(self.max_attempts, self.max_refusal_attempts)
        if kind == "rate_limited":
            return self.max_attempts + self.rate_limited_extra
        return self.max_attempts

    def backoff_s(self, failures: int, rng: random.Random) -> float:
        """Returns a full-jitter exponential backoff after this many failed attempts."""
        ceiling = min(self.max_delay_s, self.base_delay_s * 2 ** max(0, failures - 1))
        return rng.uniform(0.0, ceiling)

    def delay_s(self, error: ProviderError, failures: int, rng: random.Random) -> float:
        """Returns the wait before the next attempt: the backoff, never below retry-after."""
        return max(self.backoff_s(failures, rng), error.retry_after_s or 0.0)


@dataclass
class AttemptLog:
    """Records the attempts of one step: how many, how each failed, what was billed."""

    attempts: int = 0
    errors: list[ProviderError] = field(default_factory=list)
    #: the CallInfo of every failed attempt that the provider charged for
    billed: list[CallInfo] = field(default_factory=list)
    #: seconds spent backing off between attempts (rate-limiter waits not included)
    backoff_s: float = 0.0

    def record(self, error: ProviderError) -> None:
        """Adds a failed attempt."""
        self.errors.append(error)
        if error.billed is not None:
            self.billed.append(error.billed)

    def usage(self, final: CallInfo | None = None) -> dict[str, int]:
        """Returns the summed usage of the billed failures and ``final``; absent keys mean none."""
        totals: dict[str, int] = {}
        for call in [*self.billed, *([final] if final is not None else [])]:
            for key in ("input_tokens", "output_tokens", "images"):
                value = getattr(call, key)
                if value is not None:
                    totals[key] = totals.get(key, 0) + value
        return totals


class RetryError(Exception):
    """Roots the ways a retried call ends without a result; carries the attempt log."""

    def __init__(self, message: str, log: AttemptLog) -> None:
        super().__init__(message)
        self.log = log


class StepFailed(RetryError):
    """Reports a step whose attempts are used up or whose error is not worth retrying."""

    def __init__(self, error: ProviderError, log: AttemptLog) -> None:
        super().__init__(f"step failed after {log.attempts} attempt(s): {error}", log)
        self.error = error


class FatalProviderError(RetryError):
    """Reports an error that must stop the whole run (bad key, no quota)."""

    def __init__(self, error: ProviderError, log: AttemptLog) -> None:
        super().__init__(f"fatal provider error: {error}", log)
        self.error = error


class Stopped(RetryError):
    """Reports that the run is stopping, so the step's next attempt was not made."""

    def __init__(self, log: AttemptLog, error: ProviderError | None = None) -> None:
        super().__init__(f"stopped after {log.attempts} attempt(s)", log)
        self.error = error


class StopRequested(Exception):
    """Signals that the stop event won the race."""


async def unless_stopped(awaitable: Awaitable[R], stop: asyncio.Event | None) -> R:
    """Returns what ``awaitable`` returns; raises StopRequested if ``stop`` is set first."""
    if stop is None:
        return await awaitable
    if stop.is_set():
        if asyncio.iscoroutine(awaitable):
            awaitable.close()
        raise StopRequested
    work = asyncio.ensure_future(awaitable)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({work, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (work, stopper):
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    if work.cancelled():
        raise StopRequested
    return work.result()  # re-raises what the limiter or the sleep raised


async def call_with_retries(
    kind: CallKind,
    attempt: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy | None = None,
    limiter: RateLimiter | RateLimiters | None = None,
    stop: asyncio.Event | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    rng: random.Random | None = None,
) -> tuple[T, AttemptLog]:
    """Runs ``attempt`` until it succeeds or the policy gives up; returns the result and the log."""
    policy = policy or RetryPolicy()
    rng = rng or random.Random()
    pacer = limiter.for_kind(kind) if isinstance(limiter, RateLimiters) else limiter
    log = AttemptLog()
    last: ProviderError | None = None
    while True:
        if stop is not None and stop.is_set():
            raise Stopped(log, last)
        try:
            sent_at = await unless_stopped(pacer.acquire(), stop) if pacer is not None else None
        except StopRequested:
            raise Stopped(log, last) from None
        log.attempts += 1
        try:
            result = await attempt()
        except ProviderError as error:
            log.record(error)
            if pacer is not None:
                pacer.observe(error, sent_at=sent_at)
            last = error
            if error.fatal:
                raise FatalProviderError(error, log) from error
            if not error.retryable or log.attempts >= policy.attempts_for(error.kind):
                raise StepFailed(error, log) from error
            if (error.retry_after_s or 0.0) > policy.max_retry_after_s:
                raise StepFailed(error, log) from error
            delay = policy.delay_s(error, log.attempts, rng)
            log.backoff_s += delay
            try:
                await unless_stopped(sleep(delay), stop)
            except StopRequested:
                raise Stopped(log, last) from error
            continue
        except BaseException:
            # No outcome to learn from (a journal write failed, a cancel): the slot is free.
            if pacer is not None:
                pacer.forget(sent_at)
            raise
        if pacer is not None:
            pacer.observe(result.call, sent_at=sent_at)
        return result, log
