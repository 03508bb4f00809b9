"""What went wrong with a call: SDK exceptions and HTTP error replies as ``ProviderError`` kinds.

The kind decides what the run does (``generator.providers.base``): retry, fail the
step, or stop the run. Every message passes through ``redact_secrets`` with the client's
own key, so no error can carry it into an event or a log.
"""

from __future__ import annotations

import openai
import pydantic

from generator.providers.base import CallInfo, ErrorKind, ProviderError
from generator.providers.openai.headers import parse_rate_limit, parse_retry_after
from journal.redaction import redact_secrets

# Status codes whose meaning does not depend on the body.
_STATUS_KINDS: dict[int, ErrorKind] = {
    400: "bad_request",
    404: "bad_request",
    413: "bad_request",
    422: "bad_request",
    401: "auth",
    403: "auth",
    408: "timeout",
    409: "server_error",
    429: "rate_limited",
}
_CONTENT_FILTER_CODES = frozenset({"content_policy_violation", "moderation_blocked", "content_filter"})


def call_error(exc: openai.OpenAIError, secret: str | None = None) -> ProviderError:
    """Classifies an SDK exception raised before any reply was read."""
    if isinstance(exc, openai.APITimeoutError):
        return ProviderError("timeout", "no reply in time (the call may have been billed)")
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__
        detail = f": {type(cause).__name__}: {cause}" if cause is not None else ""
        return ProviderError("connection", _redact(f"connection failed{detail}", secret))
    if isinstance(exc, openai.APIStatusError):
        return status_error(exc, secret)
    return ProviderError("unknown", _redact(f"{type(exc).__name__}: {exc}", secret))


def status_error(exc: openai.APIStatusError, secret: str | None = None) -> ProviderError:
    """Classifies an HTTP error reply; none of these is billed."""
    status = exc.status_code
    headers = exc.response.headers
    kind: ErrorKind = _STATUS_KINDS.get(status, "server_error" if status >= 500 else "unknown")
    message = exc.message
    if status == 429 and exc.code == "insufficient_quota":
        # No credit left: every further call fails the same way, so stop the run.
        kind, message = "auth", f"insufficient quota: {message}"
    elif status == 400 and exc.code in _CONTENT_FILTER_CODES:
        kind = "content_filter"
    if exc.request_id:
        message = f"{message} (request {exc.request_id})"
    retry_after = parse_retry_after(headers) if kind in ("rate_limited", "server_error") else None
    return ProviderError(
        kind,
        _redact(message, secret),
        status=status,
        retry_after_s=retry_after,
        rate=parse_rate_limit(headers),
    )


def invalid_output(exc: pydantic.ValidationError, call: CallInfo, secret: str | None = None) -> ProviderError:
    """Describes structured output that did not validate (without echoing the input); it was billed."""
    errors = exc.errors()
    where = ".".join(str(part) for part in errors[0]["loc"]) if errors else ""
    detail = errors[0]["msg"] if errors else "invalid"
    message = (
        f"structured output does not validate ({exc.error_count()} error(s)); {where or 'reply'}: {detail}"
    )
    return ProviderError("invalid_output", _redact(message, secret), status=200, billed=call)


def _redact(text: str, secret: str | None) -> str:
    return redact_secrets(text, secrets=(secret,))
