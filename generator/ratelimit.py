"""Adaptive client-side rate limiting: one limiter per call kind (text, image).

A ``RateLimiter`` paces attempts with a GCRA (a token bucket kept as one timestamp)
whose rate is the lowest of what it knows:

* nothing known → **unthrottled**: ``acquire`` returns at once, so a run against a
  server without limits keeps its full concurrency;
* the server's ``x-ratelimit-limit-requests`` (a per-minute limit) times ``headroom``;
* an optional hard cap (``per_minute``: ``--rpm`` / ``--ipm`` on the command line);
* an AIMD rate after a 429: it drops multiplicatively — once per round trip, since only
  a 429 for a request sent *after* the last cut is news — and everyone pauses until the
  reply's retry-after; then each success adds a step, quickly back to the rate that
  drew the 429 and slowly above it, until it reaches the ceiling again.

``remaining == 0`` in a reply's headers pauses everyone until the next request frees
up. The limiter is single-event-loop code: no lock, no await between read and write.

    sent_at = await limiter.acquire()          # before each attempt
    limiter.observe(outcome, sent_at=sent_at)  # after it: the CallInfo or the ProviderError
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from generator.providers.base import CallInfo, CallKind, ProviderError, RateLimitInfo

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


@dataclass
class LimiterStats:
    """Counts what a limiter did, for progress lines and benchmarks."""

    acquired: int = 0
    waited: int = 0
    waited_s: float = 0.0
    rate_limited: int = 0
    decreases: int = 0


class RateLimiter:
    """Paces the attempts of one call kind and adapts to what the server says."""

    def __init__(
        self,
        kind: CallKind | None = None,
        *,
        per_minute: float | None = None,
        headroom: float = 0.95,
        decrease: float = 0.7,
        increase: float = 0.02,
        burst_s: float = 0.05,
        default_pause_s: float = 1.0,
        min_rate: float = 0.05,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if per_minute is not None and per_minute <= 0:
            raise ValueError("per_minute must be positive")
        if not 0 < headroom <= 1 or not 0 < decrease < 1 or increase <= 0:
            raise ValueError("need 0 < headroom <= 1, 0 < decrease < 1 and increase > 0")
        self.kind = kind
        self.cap = per_minute / 60.0 if per_minute else None
        self.headroom = headroom
        self.decrease = decrease
        self.increase = increase
        self.burst_s = burst_s
        self.default_pause_s = default_pause_s
        self.min_rate = min_rate
        self.stats = LimiterStats()
        self._clock = clock
        self._sleep = sleep
        self._learned: float | None = None  # from x-ratelimit-limit-requests, with headroom
        self._aimd: float | None = None  # set by a 429, raised by successes
        self._peak: float | None = None  # the rate that drew the last 429
        self._tat = 0.0  # GCRA: when the next request is due
        self._paused_until = 0.0
        self._last_decrease = float("-inf")
        self._served: deque[float] = deque(maxlen=1024)  # when attempts succeeded

    # --- what the limiter believes

    @property
    def ceiling(self) -> float | None:
        """Returns the highest rate (requests/s) the limiter will allow, or None if unknown."""
        known = [r for r in (self.cap, self._learned) if r is not None]
        return min(known) if known else None

    @property
    def rate(self) -> float | None:
        """Returns the pacing rate now (requests/s), or None when unthrottled."""
        known = [r for r in (self.ceiling, self._aimd) if r is not None]
        return min(known) if known else None

    @property
    def paused_for(self) -> float:
        """Returns how many seconds everyone still waits after a 429 or an empty bucket."""
        return max(0.0, self._paused_until - self._clock())

    # --- the two calls

    async def acquire(self) -> float:
        """Waits until this attempt may go out; returns the time it went (for ``observe``)."""
        waited = 0.0
        while True:
            now = self._clock()
            if now < self._paused_until:
                waited += self._paused_until - now
                await self._sleep(self._paused_until - now)
                continue
            rate = self.rate
            if rate is None:
                break
            interval = 1.0 / rate
            # Allow a burst of `burst_s` worth of requests; at low rates, one at a time.
            tolerance = max(0.0, rate * self.burst_s - 1.0) * interval
            due = max(self._tat, now)
            self._tat = due + interval
            wait = due - tolerance - now
            if wait <= 0:
                break
            waited += wait
            await self._sleep(wait)
            if self._clock() >= self._paused_until:
                break
            # A 429 paused everyone while this one waited: queue again behind the pause.
        self.stats.acquired += 1
        if waited > 0:
            self.stats.waited += 1
            self.stats.waited_s += waited
        return self._clock()

    def observe(self, outcome: CallInfo | ProviderError, *, sent_at: float | None = None) -> None:
        """Learns from an attempt's outcome: its rate-limit headers, a 429, a success."""
        now = self._clock()
        self._learn(outcome.rate, now)
        if isinstance(outcome, ProviderError):
            if outcome.kind == "rate_limited":
                self._on_429(outcome, now, sent_at)
            return
        self._served.append(now)
        if self._aimd is not None:
            # Additive increase: quick back to 90 % of the rate that drew the last 429,
            # then a slow probe above it, so the sawtooth touches the limit rarely.
            peak = self._peak or self._aimd
            step = self.increase * peak
            self._aimd += step if self._aimd < 0.9 * peak else step / 10
            if self.ceiling is not None and self._aimd >= self.ceiling:
                self._aimd = None

    # --- adaptation

    def _learn(self, info: RateLimitInfo | None, now: float) -> None:
        if info is None:
            return
        if info.limit_requests:
            # OpenAI's request limits are per minute.
            self._learned = info.limit_requests / 60.0 * self.headroom
        if info.remaining_requests == 0:
            per_request = 60.0 / info.limit_requests if info.limit_requests else self.default_pause_s
            reset = info.reset_requests_s if info.reset_requests_s is not None else per_request
            self._pause(now + min(reset, per_request))
        if info.remaining_tokens == 0 and info.reset_tokens_s:
            self._pause(now + min(info.reset_tokens_s, 60.0))

    def _on_429(self, error: ProviderError, now: float, sent_at: float | None) -> None:
        self.stats.rate_limited += 1
        wait = error.retry_after_s if error.retry_after_s is not None else self.default_pause_s
        self._pause(now + wait)
        # Only a request sent after the last cut says the cut was not enough; without a
        # send time, treat 429s within one default pause as one signal.
        stale = (
            sent_at < self._last_decrease
            if sent_at is not None
            else now - self._last_decrease < self.default_pause_s
        )
        if stale:
            return
        self._last_decrease = now
        # While we were being refused, what the server did serve approximates its limit.
        estimates = [r for r in (self.rate, _rate_of(self._served, now)) if r]
        current = min(estimates) if estimates else self.min_rate
        self._peak = current
        self._aimd = max(self.min_rate, current * self.decrease)
        self.stats.decreases += 1

    def _pause(self, until: float) -> None:
        if until > self._paused_until:
            self._paused_until = until
            # Whoever waits re-queues behind the pause; slots already promised stay
            # promised, so two requests never share one.
            self._tat = max(self._tat, until)


def _rate_of(stamps: deque[float], now: float, window_s: float = 2.0) -> float | None:
    """Returns events per second over the last ``window_s`` (None with too few events)."""
    recent = [t for t in stamps if now - t <= window_s]
    if len(recent) < 3:
        return None
    return (len(recent) - 1) / max(recent[-1] - recent[0], 1e-3)


@dataclass
class RateLimiters:
    """Holds one limiter per call kind."""

    text: RateLimiter
    image: RateLimiter

    @classmethod
    def create(
        cls,
        *,
        rpm: float | None = None,
        ipm: float | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> RateLimiters:
        """Returns a text limiter capped at ``rpm`` and an image limiter capped at ``ipm``."""
        return cls(
            RateLimiter("text", per_minute=rpm, clock=clock, sleep=sleep),
            RateLimiter("image", per_minute=ipm, clock=clock, sleep=sleep),
        )

    def for_kind(self, kind: CallKind) -> RateLimiter:
        """Returns the limiter of a call kind."""
        return self.text if kind == "text" else self.image
