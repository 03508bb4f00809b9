"""Adaptive client-side rate limiting: one limiter per call kind (text, image).

A ``RateLimiter`` paces attempts with a GCRA (a token bucket kept as one timestamp)
whose rate is the lowest of what it knows:

* nothing known → **unthrottled**: ``acquire`` returns at once, so a run against a
  server without limits keeps its full concurrency;
* the server's ``x-ratelimit-limit-requests`` (a per-minute limit) times ``headroom``;
* an optional hard cap (``per_minute``: ``--rpm`` / ``--ipm`` on the command line);
* an AIMD rate after a 429: it drops multiplicatively — once per round trip, since only
  a 429 for a request sent *after* the last cut is news — and everyone pauses until the
  reply's retry-after; then each success adds a step (a share of the known limit),
  quickly back to the rate that drew the 429 and slowly above it, until it reaches the
  ceiling again. With a limit known (headers, or a 429's "Limit N") a cut never goes
  below half of it; with none, the rate that drew the 429 is estimated from what the
  server served over a window long enough for slow calls (60 s), or from the calls in
  flight ÷ their latency, whichever is higher — never from a 2-second count, which
  multi-second image calls leave empty;
* a **shared** limit: when both families are refused while each is under its own
  learned limit (one key-level limit, as gateways and proxies enforce), a shared
  limiter, learned the same way, paces both together (``link``).

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
from typing import Literal

from generator.providers.base import CallInfo, CallKind, ProviderError, RateLimitInfo

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


#: the longest the first waiter sleeps before it reads the rate again (seconds)
RECHECK_S = 0.5
#: how long a window of served calls estimates a rate over (long enough for image calls)
SERVED_WINDOW_S = 60.0
#: the cut after a 429 when the limit is known (repeated 429s compound it, to half the limit)
KNOWN_DECREASE = 0.9
#: two families refused within this many seconds of each other may share one limit
SHARED_WINDOW_S = 10.0


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
        kind: CallKind | Literal["shared"] | None = None,
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
        self._stated: float | None = None  # the lowest limit a 429 stated, with headroom
        self._token_limit: float | None = None  # tokens/s from x-ratelimit-limit-tokens, with headroom
        self._stated_tokens: float | None = None  # tokens/s a 429 stated, with headroom
        self._tokens_per_call: float | None = None  # EWMA of input + output tokens per answered call
        self._aimd: float | None = None  # set by a 429, raised by successes
        self._peak: float | None = None  # the rate that drew the last 429
        self._tat = 0.0  # GCRA: when the next request is due
        self._queue = asyncio.Lock()  # waiters, first come first served
        self._paused_until = 0.0
        self._last_decrease = float("-inf")
        self._served: deque[float] = deque(maxlen=4096)  # when attempts succeeded
        self._first_acquire: float | None = None
        self.outstanding = 0  # attempts sent and not yet observed
        self._sent: list[float] = []  # when each of them was sent, oldest first
        self._latency_s: float | None = None  # EWMA, from acquire to observe
        self._last_429 = float("-inf")
        #: the limiter shared with the other families, once a shared limit is detected
        self.shared: RateLimiter | None = None
        self._group: _Group | None = None

    # --- what the limiter believes

    @property
    def ceiling(self) -> float | None:
        """Returns the highest rate (requests/s) the limiter will allow, or None if unknown.

        The lowest of the cap, the headers' limit and the limit a 429 stated: a refusal's
        own "Limit N" outranks headers that report someone else's limit (a gateway's).
        """
        known = [r for r in (self.cap, self._learned, self._stated, self.token_ceiling) if r is not None]
        return min(known) if known else None

    @property
    def token_ceiling(self) -> float | None:
        """Returns the call rate a tokens-per-minute limit allows at the tokens calls use, or None.

        The limit is the lower of the headers' and a 429's stated one; a call's tokens are
        estimated from the calls answered so far (input + output, a moving average).
        """
        limits = [r for r in (self._token_limit, self._stated_tokens) if r is not None]
        if not limits or not self._tokens_per_call:
            return None
        return min(limits) / self._tokens_per_call

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
        """Waits until this attempt may go out; returns the time it went (for ``observe``).

        Waiters queue in order (a fair lock); only the first one sleeps on the clock, and
        it re-reads the rate each time it wakes, so a rate that rose or a pause that was
        set while it slept takes effect at once. No slot is promised ahead of time: a
        queue of promises made at an old, slower rate would keep that rate long after
        the limiter learned better.
        """
        waited = await self._pace()
        if self.shared is not None:
            waited += await self.shared._pace()
        self.stats.acquired += 1
        if waited > 0:
            self.stats.waited += 1
            self.stats.waited_s += waited
        now = self._clock()
        if self._first_acquire is None:
            self._first_acquire = now
        self.outstanding += 1
        self._sent.append(now)
        return now

    async def _pace(self) -> float:
        """Waits for this limiter's next slot; returns how long it waited."""
        waited = 0.0
        async with self._queue:
            while True:
                now = self._clock()
                if now < self._paused_until:
                    wait = self._paused_until - now
                    waited += wait
                    await self._sleep(wait)
                    continue
                rate = self.rate
                if rate is None:
                    break
                interval = 1.0 / rate
                # Allow a burst of `burst_s` worth of requests; at low rates, one at a time.
                tolerance = max(0.0, rate * self.burst_s - 1.0) * interval
                due = max(self._tat, now)
                wait = due - tolerance - now
                if wait <= 0:
                    self._tat = due + interval
                    break
                wait = min(wait, RECHECK_S)
                waited += wait
                await self._sleep(wait)
        return waited

    def forget(self, sent_at: float | None = None) -> None:
        """Notes that an acquired attempt ended without an outcome to observe."""
        self.outstanding = max(0, self.outstanding - 1)
        self._unsend(sent_at)

    def _unsend(self, sent_at: float | None) -> None:
        if sent_at is None:
            return
        try:
            self._sent.remove(sent_at)
        except ValueError:
            pass

    def oldest_out_s(self, now: float | None = None) -> float:
        """Returns how long the oldest attempt sent and not yet answered has been out (0: none)."""
        if not self._sent:
            return 0.0
        now = self._clock() if now is None else now
        return max(0.0, now - self._sent[0])

    @property
    def latency_s(self) -> float | None:
        """Returns the recent time from sending an attempt to its outcome (EWMA), or None."""
        return self._latency_s

    def observe(self, outcome: CallInfo | ProviderError, *, sent_at: float | None = None) -> None:
        """Learns from an attempt's outcome: its rate-limit headers, a 429, a success."""
        now = self._clock()
        self.outstanding = max(0, self.outstanding - 1)
        self._unsend(sent_at)
        if sent_at is not None:
            took = max(0.0, now - sent_at)
            self._latency_s = took if self._latency_s is None else 0.9 * self._latency_s + 0.1 * took
        self._learn(outcome.rate, now)
        if self.shared is not None:
            self.shared._observe_shared(outcome, now, sent_at)
        if isinstance(outcome, ProviderError):
            if outcome.kind == "rate_limited":
                self._on_429(outcome, now, sent_at)
                if self._group is not None:
                    self._group.refused(self, now)
            return
        self._served.append(now)
        if outcome.input_tokens is not None or outcome.output_tokens is not None:
            used = float((outcome.input_tokens or 0) + (outcome.output_tokens or 0))
            self._tokens_per_call = (
                used if self._tokens_per_call is None else 0.9 * self._tokens_per_call + 0.1 * used
            )
        self._grow()

    def _observe_shared(self, outcome: CallInfo | ProviderError, now: float, sent_at: float | None) -> None:
        """Learns, as the shared limiter, from a member's outcome (never its own headers)."""
        if isinstance(outcome, ProviderError):
            if outcome.kind == "rate_limited":
                self._on_429(outcome, now, sent_at)
            return
        self._served.append(now)
        self._grow()

    def _grow(self) -> None:
        if self._aimd is None:
            return
        # Additive increase, a share of the known limit (or of the rate that drew the
        # last 429): quick back to 90 % of that rate, then a slow probe above it, so the
        # sawtooth touches the limit rarely.
        ceiling = self.ceiling
        if ceiling is not None:
            # The limit is known: straight back to it, a share of it per success.
            self._aimd += self.increase * ceiling
            if self._aimd >= ceiling:
                self._aimd = None
            return
        peak = self._peak or self._aimd
        step = self.increase * peak
        self._aimd += step if self._aimd < 0.9 * peak else step / 10

    # --- adaptation

    def _learn(self, info: RateLimitInfo | None, now: float) -> None:
        if info is None:
            return
        if info.limit_requests:
            # OpenAI's request limits are per minute.
            self._learned = info.limit_requests / 60.0 * self.headroom
        if info.limit_tokens:
            self._token_limit = info.limit_tokens / 60.0 * self.headroom
        if info.remaining_requests == 0:
            per_request = 60.0 / info.limit_requests if info.limit_requests else self.default_pause_s
            reset = info.reset_requests_s if info.reset_requests_s is not None else per_request
            self._pause(now + min(reset, per_request))
        if info.remaining_tokens == 0 and info.reset_tokens_s:
            self._pause(now + min(info.reset_tokens_s, 60.0))

    def _on_429(self, error: ProviderError, now: float, sent_at: float | None) -> None:
        self.stats.rate_limited += 1
        if error.rate is not None and error.rate.limit_requests:
            stated = error.rate.limit_requests / 60.0 * self.headroom
            self._stated = stated if self._stated is None else min(self._stated, stated)
        if error.rate is not None and error.rate.limit_tokens:
            tokens = error.rate.limit_tokens / 60.0 * self.headroom
            self._stated_tokens = tokens if self._stated_tokens is None else min(self._stated_tokens, tokens)
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
        ceiling = self.ceiling
        if ceiling is not None:
            # The limit is known (headers, the 429's own text, or a cap): this was a burst
            # above it. Back off, but never below half of it.
            current = min(self.rate or ceiling, ceiling)
            self._peak = current
            self._aimd = max(0.5 * ceiling, self.min_rate, current * KNOWN_DECREASE)
        else:
            # Nothing known: what drew the 429 is what we were sending — the calls served
            # over a long window, or the calls in flight ÷ their latency.
            estimates = [r for r in (self._aimd, self.offered_rate(now)) if r]
            current = min(estimates) if estimates else self.min_rate
            self._peak = current
            self._aimd = max(self.min_rate, current * self.decrease)
        self.stats.decreases += 1

    def offered_rate(self, now: float | None = None) -> float | None:
        """Returns the rate this family was sending at, from what was served and what is in flight."""
        now = self._clock() if now is None else now
        estimates = [r for r in (self.served_rate(now),) if r]
        if self._latency_s and self.outstanding:
            estimates.append((self.outstanding + 1) / max(self._latency_s, 1e-3))
        return max(estimates) if estimates else None

    def served_rate(self, now: float | None = None) -> float | None:
        """Returns successes per second over the last minute (since the first call, if sooner)."""
        now = self._clock() if now is None else now
        if self._first_acquire is None:
            return None
        window = min(SERVED_WINDOW_S, max(now - self._first_acquire, 1e-3))
        recent = sum(1 for t in self._served if now - t <= window)
        return recent / window if recent >= 3 else None

    def _pause(self, until: float) -> None:
        if until > self._paused_until:
            self._paused_until = until
            # Whoever waits re-queues behind the pause; slots already promised stay
            # promised, so two requests never share one.
            self._tat = max(self._tat, until)


def pace_of(limiter: RateLimiter) -> dict[str, float | int | None]:
    """Returns what a limiter learned and did, per minute, for RunFinished and progress lines."""

    def per_min(rate: float | None) -> float | None:
        return None if rate is None else round(rate * 60, 1)

    return {
        "limit_per_min": per_min(limiter.ceiling),
        "rate_per_min": per_min(limiter.rate),
        "rate_limited": limiter.stats.rate_limited,
        "waited_s": round(limiter.stats.waited_s, 1),
    }


def link(*members: RateLimiter) -> None:
    """Lets these families' limiters detect a limit they share, and pace together under it."""
    group = _Group(list(members))
    for member in members:
        member._group = group


class _Group:
    """Families that may share one limit: detects it, then paces them together."""

    def __init__(self, members: list[RateLimiter]) -> None:
        self.members = members

    def refused(self, member: RateLimiter, now: float) -> None:
        """Notes a 429; when every family was refused lately under its own limit, shares one."""
        member._last_429 = now
        if any(m.shared is not None for m in self.members):
            return
        for m in self.members:
            if now - m._last_429 > SHARED_WINDOW_S:
                return
            served, ceiling = m.served_rate(now), m.ceiling
            if ceiling is not None and served is not None and served >= 0.8 * ceiling:
                return  # this one is at its own limit: its 429s are its own
        first = self.members[0]
        shared = RateLimiter("shared", clock=first._clock, sleep=first._sleep)
        offered = [m.offered_rate(now) or 0.0 for m in self.members]
        total = sum(offered) or first.min_rate
        ceilings = {m.ceiling for m in self.members}
        if len(ceilings) == 1 and None not in ceilings:
            # Every family learned the same limit (the 429s' text names the shared one).
            shared._learned = ceilings.pop()
        shared._first_acquire = min((m._first_acquire or now) for m in self.members)
        shared._served = deque(sorted(t for m in self.members for t in m._served), maxlen=4096)
        shared._peak = total
        shared._aimd = max(shared.min_rate, total * shared.decrease)
        shared._last_decrease = now
        shared._pause(max(m._paused_until for m in self.members))
        shared.stats.decreases = 1
        for m in self.members:
            m.shared = shared


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
        """Returns a text limiter capped at ``rpm`` and an image limiter capped at ``ipm``, linked."""
        limiters = cls(
            RateLimiter("text", per_minute=rpm, clock=clock, sleep=sleep),
            RateLimiter("image", per_minute=ipm, clock=clock, sleep=sleep),
        )
        link(limiters.text, limiters.image)
        return limiters

    def for_kind(self, kind: CallKind) -> RateLimiter:
        """Returns the limiter of a call kind."""
        return self.text if kind == "text" else self.image
