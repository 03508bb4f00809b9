"""Gateways between us and OpenAI: what their replies look like, and what they hide.

Many teams call OpenAI through a gateway (a LiteLLM proxy, Portkey, an in-house proxy)
that holds the real key and enforces budgets and limits. Such a gateway keeps the API's
shapes but renames what we read: LiteLLM forwards the upstream's headers with an
``llm_provider-`` prefix (or as ``request-id``), drops them on image replies, and names
each call ``x-litellm-call-id``. It also retries on its own, so one of our attempts may
be several upstream calls — each possibly billed — which we cannot see. Nothing here
needs a flag: a gateway is recognised from its reply headers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: where a reply's request id is read, in order: OpenAI's own header, a gateway's
#: forwarded copies of it, then the gateway's own call id
REQUEST_ID_HEADERS = (
    "x-request-id",
    "llm_provider-x-request-id",
    "request-id",
    "llm_provider-request-id",
    "x-litellm-call-id",
    "x-portkey-trace-id",
)


class GatewayWarning(UserWarning):
    """Calls go through a gateway that may retry (and bill) behind the journal."""


#: the source recorded when the id comes from the reply body
BODY_ID = "body.id"


def request_id(headers: Mapping[str, str], body: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """Returns a reply's request id and where it was read (a header's name, or ``body.id``)."""
    for name in REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return value[:200], name
    found = body.get("id")
    if isinstance(found, str) and found:
        return found[:200], BODY_ID
    return None, None


#: LiteLLM's count of the retries it made behind one of our attempts
RETRIES_HEADER = "x-litellm-attempted-retries"


def gateway_retries(headers: Mapping[str, str]) -> int | None:
    """Returns how many times a gateway retried upstream behind this reply (None: not said)."""
    value = headers.get(RETRIES_HEADER)
    try:
        return max(0, int(value)) if value is not None else None
    except ValueError:
        return None


@dataclass(frozen=True)
class Gateway:
    """A gateway recognised from its replies, and how to stop it retrying behind our back."""

    name: str
    #: the settings that turn the gateway's own retries off
    no_retries: str

    def warning(self) -> str:
        """Returns the one line a run prints when it sees this gateway."""
        return (
            f"calls go through a {self.name} gateway, which retries failed calls by itself: "
            "attempts it retries are not journaled and may be billed; "
            f"to keep every paid call in the journal, set {self.no_retries}"
        )


LITELLM = Gateway(
    name="LiteLLM",
    no_retries="router_settings.num_retries: 0 and litellm_settings.num_retries: 0 in its config",
)
PORTKEY = Gateway(name="Portkey", no_retries='"retry": {"attempts": 0} in its config')
#: the header prefixes that name each gateway
_SIGNATURES: tuple[tuple[str, Gateway], ...] = (
    ("x-litellm-", LITELLM),
    ("llm_provider-", LITELLM),
    ("x-portkey-", PORTKEY),
)


#: fields LiteLLM adds to each entry of ``GET /models`` (OpenAI's Model has id, object,
#: created and owned_by); its model list carries no header of its own
_LITELLM_MODEL_FIELDS = frozenset({"mode", "max_input_tokens", "max_output_tokens"})


def detect_gateway(headers: Mapping[str, str]) -> Gateway | None:
    """Returns the gateway whose headers a reply carries, or None (OpenAI, or unknown)."""
    for name in headers:
        lowered = name.lower()
        for prefix, gateway in _SIGNATURES:
            if lowered.startswith(prefix):
                return gateway
    return None


def detect_from_model_list(headers: Mapping[str, str], body: Any) -> Gateway | None:
    """Returns the gateway a ``GET /models`` reply shows, by its headers or its entries' fields."""
    found = detect_gateway(headers)
    if found is not None:
        return found
    entries = body.get("data") if isinstance(body, Mapping) else None
    first = entries[0] if isinstance(entries, list) and entries else None
    if isinstance(first, Mapping) and _LITELLM_MODEL_FIELDS & set(first):
        return LITELLM
    return None
