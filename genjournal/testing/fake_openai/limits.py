"""Rate limits: token buckets and OpenAI's duration format for reset and retry hints."""

from __future__ import annotations

import math
import time


class Bucket:
    """A requests-per-minute token bucket holding ``burst_s`` seconds' worth of requests."""

    def __init__(self, rpm: int, burst_s: float, *, enforce: bool) -> None:
        self.rpm = rpm
        self.rate = rpm / 60.0
        self.capacity = max(1.0, self.rate * burst_s)
        self.tokens = self.capacity
        self.enforce = enforce
        self.stamp = time.monotonic()

    def take(self, amount: float = 1.0) -> tuple[bool, int, float, float]:
        """Takes ``amount`` tokens; returns (admitted, remaining, reset_s, retry_after_s)."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        needed = min(amount, self.capacity)  # a request larger than the bucket waits for a full one
        if self.tokens >= needed or not self.enforce:
            self.tokens = max(0.0, self.tokens - amount)
            admitted, wait = True, 0.0
        else:
            admitted, wait = False, (needed - self.tokens) / self.rate
        reset = (self.capacity - self.tokens) / self.rate
        return admitted, int(self.tokens), reset, wait


def go_duration(seconds: float) -> str:
    """Formats seconds the way OpenAI's reset headers do: ``120ms``, ``1.5s``, ``6m0s``."""
    if seconds <= 0:
        return "0s"
    if seconds < 1:
        return f"{max(1, round(seconds * 1000))}ms"
    if seconds < 60:
        return f"{round(seconds, 3):g}s"
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(int(minutes), 60)
    head = f"{hours}h" if hours else ""
    return f"{head}{minutes}m{round(secs, 3):g}s"


def retry_headers(seconds: float, which: str) -> dict[str, str]:
    headers: dict[str, str] = {}
    if which in ("both", "ms"):
        headers["retry-after-ms"] = str(max(1, math.ceil(seconds * 1000)))
    if which in ("both", "s"):
        headers["retry-after"] = str(max(1, math.ceil(seconds)))
    return headers
