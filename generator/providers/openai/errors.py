"""What went wrong with a call: SDK exceptions and HTTP error replies as ``ProviderError`` kinds.

The kind decides what the run does (``generator.providers.base``): retry, fail the
step, or stop the run. Every message passes through ``redact_secrets`` with the client's
own key, so no error can carry it into an event or a log.
"""

from __future__ import annotations

import re
from dataclasses import replace

import openai
import pydantic

from generator.providers.base import CallInfo, ErrorKind, ProviderError, RateLimitInfo
from generator.providers.openai.gateway import request_id
from generator.providers.openai.headers import (
    parse_limit_hint,
    parse_rate_limit,
    parse_retry_after,
    parse_retry_hint,
)
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
_QUOTA_CODES = frozenset({"insufficient_quota"})
_BILLING_CODES = frozenset({"billing_hard_limit_reached", "billing_not_active", "account_deactivated"})
_AUTH_CODES = frozenset({"invalid_api_key", "invalid_organization", "invalid_project"})
#: a refused value of one of these parameters is wrong for every call of the run
_SETTING_PARAMS = frozenset({"model", "size", "quality", "response_format", "output_format"})
_SETTING_CODES = frozenset(
    {"invalid_value", "unknown_parameter", "unsupported_value", "unsupported_parameter"}
)
# Gateways (LiteLLM) rewrite ``code`` to the HTTP status and keep only the message, so the
# fatal kinds are recognised by their message too.
_QUOTA_TEXT = re.compile(r"exceeded your current quota|insufficient[_ ]quota", re.IGNORECASE)
_BILLING_TEXT = re.compile(
    r"billing[_ ]hard[_ ]limit|billing[_ ]not[_ ]active|billing hard limit has been reached"
    r"|account is not active|check your billing details",
    re.IGNORECASE,
)
_VERIFY_TEXT = re.compile(r"organization must be verified|verify (?:your )?organization", re.IGNORECASE)
_MODEL_TEXT = re.compile(r"model [`'\"]?[^\s`'\"]+[`'\"]? does not exist|model_not_found", re.IGNORECASE)
#: LiteLLM's refusal of a model it does not route (a 400 with code "400")
_GATEWAY_MODEL_TEXT = re.compile(r"invalid model name passed in model=", re.IGNORECASE)
#: the SDK's word for a reset connection, alone or as a gateway wraps it
#: ("litellm.InternalServerError: … OpenAIException - Connection error.")
_CONNECTION_TEXT = re.compile(r"(?:^|- |APIConnectionError: )connection error\.?(?:$|\s)", re.IGNORECASE)


def classify(status: int, code: object, err_type: object, message: str, param: object = None) -> ErrorKind:
    """Returns what an HTTP error reply means, from its status, code, type, message and param.

    The fatal kinds come first and match whatever the status (``billing_not_active``
    arrives as a 429, ``billing_hard_limit_reached`` as a 400): retrying them only
    repeats the refusal, and failing each step one by one costs hours.
    """
    code = str(code) if code is not None else ""
    err_type = str(err_type) if err_type is not None else ""
    if code in _QUOTA_CODES or err_type in _QUOTA_CODES or _QUOTA_TEXT.search(message):
        return "quota"
    if code in _BILLING_CODES or err_type in _BILLING_CODES or _BILLING_TEXT.search(message):
        return "billing"
    if status == 403 and _VERIFY_TEXT.search(message):
        return "model_access"
    if status in (401, 403) or code in _AUTH_CODES:
        return "auth"
    if code == "model_not_found" or (status == 404 and _MODEL_TEXT.search(message)):
        return "settings"
    if status in (400, 404) and _GATEWAY_MODEL_TEXT.search(message):
        return "settings"
    if status == 400 and code in _SETTING_CODES and param in _SETTING_PARAMS:
        return "settings"
    if status in (400, 403) and code in _CONTENT_FILTER_CODES:
        return "content_filter"
    if status >= 500 and _CONNECTION_TEXT.search(message.strip()):
        return "connection"  # a gateway's word for an upstream reset: a transport fault
    return _STATUS_KINDS.get(status, "server_error" if status >= 500 else "unknown")


_KIND_NOTES: dict[str, str] = {
    "quota": "no credit left",
    "billing": "billing refused the call",
    "settings": "the API refuses this run's settings",
    "model_access": "this organization may not use the model yet",
}


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
    body = exc.body if isinstance(exc.body, dict) else {}
    # One line: a gateway wraps the upstream's message in its own, across blank lines.
    message = " ".join(str(body.get("message") or exc.message).split())
    kind = classify(status, exc.code, exc.type, message, exc.param)
    if kind in _KIND_NOTES:
        label = exc.code or exc.type or status
        message = f"{_KIND_NOTES[kind]} ({label}): {message}"
    found_id, _ = request_id(headers, exc.body if isinstance(exc.body, dict) else {})
    if found_id:
        message = f"{message} (request {found_id})"
    retry_after = parse_retry_after(headers) if kind in ("rate_limited", "server_error") else None
    rate = parse_rate_limit(headers)
    if kind == "rate_limited":
        # Image 429s may carry no headers at all: their text still says how long, and the limit.
        retry_after = retry_after if retry_after is not None else parse_retry_hint(message)
        # The limit the refusal states wins over the headers' (a gateway's key-level limit
        # refuses us while the upstream's headers still report the upstream's).
        rate = with_stated_limit(rate, parse_limit_hint(message))
    return ProviderError(
        kind,
        _redact(message, secret),
        status=status,
        retry_after_s=retry_after,
        rate=rate,
    )


def with_stated_limit(rate: RateLimitInfo | None, stated: RateLimitInfo | None) -> RateLimitInfo | None:
    """Returns the headers' limits with a 429's stated limit put in where it is lower (or missing)."""
    if stated is None:
        return rate
    if rate is None:
        return stated
    if stated.limit_requests and (rate.limit_requests is None or stated.limit_requests < rate.limit_requests):
        rate = replace(rate, limit_requests=stated.limit_requests, remaining_requests=0)
    if stated.limit_tokens and (rate.limit_tokens is None or stated.limit_tokens < rate.limit_tokens):
        rate = replace(rate, limit_tokens=stated.limit_tokens, remaining_tokens=0)
    return rate


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
