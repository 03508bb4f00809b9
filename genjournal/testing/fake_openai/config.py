"""What the fake can be told: endpoint families, faults, rules, and the record of one request."""

from __future__ import annotations

import math
import random
import time
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal

STEP_HEADER = "X-Genjournal-Step"
#: every fault a request can be given; the per-family probabilities use these names
FAULTS: tuple[str, ...] = (
    "429", "500", "drop", "hang", "malformed", "schema", "refusal", "length", "content_filter",
    "quota", "billing_hard_limit", "billing_not_active", "unverified",
)  # fmt: skip
TEXT_ONLY = frozenset({"schema", "refusal", "length"})
#: outcomes the real API bills: the model ran, whatever it produced
BILLABLE_OUTCOMES = frozenset({"ok", "malformed", "schema", "refusal", "length", "content_filter", "timeout"})
#: what the headers claim when no rate limit is configured (reported, not enforced)
NOMINAL_RPM = 10_000
Family = Literal["text", "image"]
FAMILIES: tuple[Family, ...] = ("text", "image")

#: the organization the fake's messages name
ORGANIZATION = "org-fake000000000000000000"


# --- configuration -------------------------------------------------------------------


@dataclass
class EndpointConfig:
    """Describes how one endpoint family (text or image) behaves."""

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    #: log-normal spread of the latency (sigma of its log; 0: none). The mean stays
    #: ``latency_ms``: real calls are mostly near it with a long slow tail.
    latency_sigma: float = 0.0
    #: enforced requests per minute; None reports a nominal limit and never refuses
    rpm: int | None = None
    #: enforced tokens per minute (input + output of each text call, charged when it is
    #: answered); None: no token limit, none reported
    tpm: int | None = None
    #: fault name -> probability per request
    faults: dict[str, float] = field(default_factory=dict)
    #: what an injected 429 asks the client to wait
    retry_after_s: float = 1.0
    #: which retry headers a 429 carries: "both", "ms", "s" or "none"
    retry_after_header: str = "both"
    #: whether replies carry x-ratelimit-* headers (False: a client learns only from 429s)
    rate_headers: bool = True

    def __post_init__(self) -> None:
        unknown = set(self.faults) - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown fault(s) {sorted(unknown)}; known: {', '.join(FAULTS)}")
        if any(not 0.0 <= p <= 1.0 for p in self.faults.values()) or sum(self.faults.values()) > 1.0:
            raise ValueError("fault probabilities must be in [0, 1] and sum to at most 1")
        if self.retry_after_header not in ("both", "ms", "s", "none"):
            raise ValueError("retry_after_header must be both, ms, s or none")
        if self.rpm is not None and self.rpm <= 0:
            raise ValueError("rpm must be positive")
        if self.tpm is not None and self.tpm <= 0:
            raise ValueError("tpm must be positive")
        if self.latency_sigma < 0:
            raise ValueError("latency_sigma must be at least 0")

    @classmethod
    def from_dict(cls, data: dict[str, Any], base: EndpointConfig | None = None) -> EndpointConfig:
        """Returns a config from JSON-shaped data, on top of ``base`` when given."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown endpoint setting(s) {sorted(unknown)}")
        return replace(base or cls(), **data)


@dataclass
class Rule:
    """Forces a fault on requests whose step header or prompt contains ``match``."""

    match: str
    fault: str
    family: Family | None = None
    probability: float = 1.0
    #: how many more times the rule may fire; None is forever
    times: int | None = None

    def __post_init__(self) -> None:
        if self.fault not in FAULTS:
            raise ValueError(f"unknown fault {self.fault!r}; known: {', '.join(FAULTS)}")
        if self.times is not None and self.times < 0:
            raise ValueError("times must be at least 0")


@dataclass
class Request:
    family: Family
    model: str | None
    step: str | None
    prompt: str
    rng: random.Random
    request_id: str
    params: tuple[str, ...] = ()
    usage_in: int | None = None
    usage_out: int | None = None
    images: int | None = None
    arrived: float = field(default_factory=time.time)


def tokens(text: str) -> int:
    # About four characters a token, like OpenAI's rule of thumb; deterministic.
    return max(1, math.ceil(len(text) / 4))


def as_dict(config: EndpointConfig | dict[str, Any] | None) -> dict[str, Any]:
    if config is None:
        return {}
    return asdict(config) if isinstance(config, EndpointConfig) else dict(config)
