"""How many calls of one family may be in flight: as many as its rate limit can use.

A fixed pool of N calls caps throughput at N ÷ latency whatever the provider allows: at
30 s an image call, 4 in flight is 8 images a minute against a limit of hundreds. So the
number of calls in flight follows the limit instead (Little's law: in flight = rate ×
time in flight), per call family, up to a hard cap:

* **a rate is known** (the provider's ``x-ratelimit-*`` headers, a 429's text, a 429
  itself, or ``--rpm``/``--ipm``): the limit is that rate × the observed time a step
  holds its slot, with a margin, so that the rate limiter — not the slot count — is what
  paces the calls;
* **no rate is known and none was hit**: slow start, as TCP's — one more slot per
  success, so the limit doubles each round trip — until the cap, or until latency rises
  (the server queues: the Vegas/Gradient signal) or transport errors appear, which cut
  it by a tenth per round trip.

``cap`` is ``--concurrency`` when the user gave one (a hard cap), else
``--max-concurrency`` (a safety bound on sockets and memory). The class is single-event-
loop code: no lock, no await between a read and its write.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from dataclasses import dataclass

from generator.ratelimit import Clock, RateLimiter

#: the slot count a family starts with before anything is known: wide, because a 429 costs
#: nothing and states the limit (so at most this many unbilled refusals teach it), while a
#: narrow start costs a round trip — tens of seconds for image calls — per doubling
INITIAL = 64
#: the default safety cap on calls in flight per family (``--max-concurrency``)
DEFAULT_MAX = 256
#: slots beyond rate × time in flight: the spread of latencies, and a slot or two to spare
MARGIN = 1.3
SPARE = 2
#: latency this many times its recent minimum means the server is queueing
QUEUEING = 2.0
#: how often a waiting call re-evaluates the limit (seconds)
RECHECK_S = 0.25


@dataclass
class ConcurrencyStats:
    """What a family's slots did, for progress lines and ``RunFinished``."""

    peak_in_flight: int = 0
    peak_limit: int = 0


class AdaptiveConcurrency:
    """Admits calls of one family while fewer than its adaptive limit are in flight."""

    def __init__(
        self,
        limiter: RateLimiter,
        *,
        cap: int = DEFAULT_MAX,
        initial: int = INITIAL,
        clock: Clock = time.monotonic,
    ) -> None:
        if cap < 1 or initial < 1:
            raise ValueError("cap and initial must be at least 1")
        self.limiter = limiter
        self.cap = cap
        self._limit = float(min(initial, cap))
        self.in_flight = 0
        self.stats = ConcurrencyStats(peak_limit=int(self._limit))
        self._clock = clock
        self._changed = asyncio.Event()
        self._queue = asyncio.Lock()  # waiters, first come first served
        self._latencies: deque[float] = deque(maxlen=256)  # recent provider latencies
        self._latency_ewma: float | None = None
        self._last_cut = float("-inf")

    @property
    def limit(self) -> int:
        """Returns how many calls may be in flight now."""
        return max(1, min(self.cap, int(self._limit)))

    async def acquire(self) -> float:
        """Waits for a slot; returns when it was taken (for ``release``).

        Waiters queue in order (a fair lock): only the first one watches for a free slot,
        so hundreds of waiting steps cost one wake-up per release or recheck, not one each.
        """
        async with self._queue:
            while True:
                self._follow_rate(self._clock())
                if self.in_flight < self.limit:
                    break
                self._changed.clear()
                # Re-evaluated now and then: a call still out raises the latency estimate.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), RECHECK_S)
            self.in_flight += 1
        now = self._clock()
        self.stats.peak_in_flight = max(self.stats.peak_in_flight, self.in_flight)
        return now

    def release(
        self,
        taken_at: float,
        *,
        latency_s: float | None = None,
        ok: bool = True,
        transport_error: bool = False,
    ) -> None:
        """Frees a slot and adapts the limit to what the step saw.

        ``latency_s`` is the provider's own time for the answering call (None: none
        answered); ``transport_error`` says the step ended in timeouts or server errors.
        """
        now = self._clock()
        self.in_flight = max(0, self.in_flight - 1)
        if ok and latency_s is not None:
            self._latencies.append(latency_s)
            self._latency_ewma = (
                latency_s if self._latency_ewma is None else 0.9 * self._latency_ewma + 0.1 * latency_s
            )
        if self._follow_rate(now):
            pass
        elif transport_error:
            self._cut(now, 0.9)
        elif ok and latency_s is not None:
            queueing = self._latency_ewma is not None and self._latency_ewma > QUEUEING * min(self._latencies)
            if len(self._latencies) >= 8 and queueing:
                self._cut(now, 0.9)
            else:
                self._limit = min(float(self.cap), self._limit + 1.0)  # slow start: +1 per success
        self.stats.peak_limit = max(self.stats.peak_limit, self.limit)
        self._changed.set()

    def _follow_rate(self, now: float) -> bool:
        """Sets the limit from the rate limiter's rate when one is known; tells whether it did.

        Little's law on the provider's latency (not on the time a step waits for the rate
        limiter, which would feed back on itself): the latency seen so far, or — before
        the first reply, or while a slow one is out — the age of the oldest call in
        flight, whichever is longer. The margin covers the spread: the rate limiter, not
        the slot count, paces the calls.
        """
        rate = self.limiter.rate
        if rate is None:
            return False
        if self._latency_ewma is None:
            # No call has answered yet: the rate limiter alone paces the sends.
            self._limit = float(self.cap)
            return True
        # The oldest call out counts as well (a slow tail, a stall): measured from when it
        # was *sent*, after the rate limiter let it go, so time spent waiting for the rate
        # limiter does not feed back into the estimate.
        latency = max(self._latency_ewma, self.limiter.oldest_out_s(now))
        self._limit = min(float(self.cap), max(1.0, rate * latency * MARGIN + SPARE))
        self.stats.peak_limit = max(self.stats.peak_limit, self.limit)
        return True

    def _cut(self, now: float, factor: float) -> None:
        # Once per round trip: the replies of calls sent before the last cut are old news.
        if now - self._last_cut < (self._latency_ewma or 0.0):
            return
        self._last_cut = now
        self._limit = max(1.0, math.floor(self._limit * factor))
