"""What OpenAI's replies say about rate limits: their headers, and the text of a 429.

Headers are read as OpenAI sends them and as a gateway forwards them (LiteLLM prefixes
the upstream's with ``llm_provider-``). A 429 may carry neither ``retry-after`` nor
``x-ratelimit-*`` (image replies often do not): its message still says "… on images per
min (IPM): Limit 5, Used 5, Requested 1. Please try again in 12s.", which
``parse_limit_hint`` and ``parse_retry_hint`` read.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Mapping
from datetime import UTC, datetime

from generator.providers.base import RateLimitInfo

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def parse_duration(text: str | None) -> float | None:
    """Returns seconds from an OpenAI reset value (``1s``, ``6m0s``, ``120ms``, ``0.5``)."""
    if not text:
        return None
    text = text.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    return sum(float(number) * scale[unit] for number, unit in parts)


#: the prefix LiteLLM puts before the headers it forwards from the provider
GATEWAY_PREFIX = "llm_provider-"
_RETRY_HINT = re.compile(r"(?i)try again in ((?:\d+(?:\.\d+)?(?:ms|h|m|s))+)\b")
#: a gateway's wording: "Try again in 30 seconds" (LiteLLM's cooldown)
_RETRY_WORDS = re.compile(r"(?i)try again in (\d+(?:\.\d+)?) ?(milliseconds?|seconds?|minutes?)\b")
_LIMIT_HINT = re.compile(
    r"(?i)on (requests|images|tokens) per (min|day) \((RPM|IPM|TPM|RPD|TPD|IPD)\): Limit (\d+)"
)


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Returns a header as the provider sent it, or as a gateway forwarded it."""
    value = headers.get(name)
    return value if value is not None else headers.get(GATEWAY_PREFIX + name)


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = header(headers, name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def parse_rate_limit(headers: Mapping[str, str]) -> RateLimitInfo | None:
    """Returns what the ``x-ratelimit-*`` headers say, or None when there are none."""
    info = RateLimitInfo(
        limit_requests=_int_header(headers, "x-ratelimit-limit-requests"),
        remaining_requests=_int_header(headers, "x-ratelimit-remaining-requests"),
        reset_requests_s=parse_duration(header(headers, "x-ratelimit-reset-requests")),
        limit_tokens=_int_header(headers, "x-ratelimit-limit-tokens"),
        remaining_tokens=_int_header(headers, "x-ratelimit-remaining-tokens"),
        reset_tokens_s=parse_duration(header(headers, "x-ratelimit-reset-tokens")),
    )
    return None if info == RateLimitInfo() else info


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Returns the wait a reply asks for: ``retry-after-ms``, else ``retry-after`` (s or date)."""
    millis = header(headers, "retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = header(headers, "retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def parse_retry_hint(message: str) -> float | None:
    """Returns the wait a 429's text asks for ("Please try again in 120ms"), or None."""
    found = _RETRY_HINT.search(message)
    if found:
        return parse_duration(found.group(1))
    words = _RETRY_WORDS.search(message)
    if words is None:
        return None
    unit = words.group(2).lower()
    scale = 0.001 if unit.startswith("milli") else 60.0 if unit.startswith("min") else 1.0
    return float(words.group(1)) * scale


def parse_limit_hint(message: str) -> RateLimitInfo | None:
    """Returns the per-minute limit a 429's text states ("… (IPM): Limit 5, …"), or None.

    Requests and images per minute are the call family's request limit (one image per
    call); tokens per minute its token limit. Daily limits are not pacing limits.
    """
    found = _LIMIT_HINT.search(message)
    if found is None or found.group(2).lower() != "min":
        return None
    limit = int(found.group(4))
    if found.group(1).lower() == "tokens":
        return RateLimitInfo(limit_tokens=limit, remaining_tokens=0)
    return RateLimitInfo(limit_requests=limit, remaining_requests=0)
