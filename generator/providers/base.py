"""The provider port: one paid call per method, one attempt per call.

A provider turns a request into a typed result (``StyleCreatedData``,
``RoomGeneratedData`` or PNG bytes) plus a ``CallInfo`` saying what the call cost and
how long it took; or it raises ``ProviderError`` classifying what went wrong. It never
retries on its own: the retry policy (``generator.retry``) owns attempts, backoff and
rate adaptation for every provider alike, so that a paid call is never repeated
behind the journal's back.

Every request names its ``stream`` and ``step`` (the journal's idempotency key), so a
provider can tag the call (the OpenAI provider sends ``X-Genjournal-Step:
<stream>/<step>``, which a test server's ledger records) and an offline provider can
derive a different, deterministic result for every step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from journal.events import CatalogEntry, RoomGeneratedData, StyleCreatedData

CallKind = Literal["text", "image"]

ErrorKind = Literal[
    "rate_limited",  # 429: back off (honour retry-after), then retry
    "server_error",  # 5xx: retry
    "connection",  # dropped / refused / reset connection: retry
    "timeout",  # no answer in time: retry (the call may have been billed)
    "invalid_output",  # structured output did not validate: retry (it was billed)
    "refusal",  # the model refused: retry a little, then record (it was billed)
    "length",  # finish_reason=length: retry, then record (it was billed)
    "content_filter",  # the provider's filter blocked it: record, do not retry
    "bad_request",  # 400/404/422: our request is wrong; record, do not retry
    "auth",  # 401/403: the key is refused; fatal for the whole run
    "quota",  # insufficient_quota: no credit left; fatal for the whole run
    "billing",  # billing_hard_limit_reached, billing_not_active: fatal for the whole run
    "settings",  # model_not_found, a size/quality/model the API refuses: fatal for the run
    "model_access",  # 403 "organization must be verified" for one model: stops its call kind
    "unknown",
]

#: error kinds that stop the whole run instead of failing one step (whatever the status)
FATAL_KINDS: frozenset[str] = frozenset({"auth", "quota", "billing", "settings", "model_access"})
#: fatal kinds that stop only the calls of their kind (text or image); the others go on
FAMILY_FATAL_KINDS: frozenset[str] = frozenset({"model_access"})
#: error kinds worth another attempt within the per-step attempt limit
RETRYABLE_KINDS: frozenset[str] = frozenset(
    {
        "rate_limited",
        "server_error",
        "connection",
        "timeout",
        "invalid_output",
        "refusal",
        "length",
        "unknown",
    }
)


@dataclass(frozen=True)
class RateLimitInfo:
    """What a response's ``x-ratelimit-*`` headers said (None where absent)."""

    limit_requests: int | None = None
    remaining_requests: int | None = None
    reset_requests_s: float | None = None
    limit_tokens: int | None = None
    remaining_tokens: int | None = None
    reset_tokens_s: float | None = None


@dataclass(frozen=True)
class CallInfo:
    """What one attempt cost and took; usage fields are None when not applicable."""

    model: str
    latency_ms: int
    request_id: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    images: int | None = None
    image_size: str | None = None
    image_quality: str | None = None
    rate: RateLimitInfo | None = None
    #: the part of ``input_tokens`` that were image tokens (GPT image usage details)
    input_image_tokens: int | None = None
    #: the part of ``output_tokens`` that were text tokens (GPT image usage details)
    output_text_tokens: int | None = None
    #: where ``request_id`` was read (a header's name, or ``body.id``)
    request_id_source: str | None = None
    #: retries a gateway made upstream behind this attempt, where it says so
    gateway_retries: int | None = None


@dataclass(frozen=True)
class StyleRequest:
    """Asks for a style's content: approach, colour, names and hybrid prose."""

    subcategory: CatalogEntry
    languages: tuple[str, ...]
    stream: str
    step: str = "content"
    #: which generation of the step this asks for (> 1: a regeneration; the answer must differ)
    generation: int = 1


@dataclass(frozen=True)
class RoomRequest:
    """Asks for one room profile of a style, in the style's approach and colour."""

    subcategory: CatalogEntry
    style: StyleCreatedData
    room_type: CatalogEntry
    languages: tuple[str, ...]
    stream: str
    step: str
    generation: int = 1


@dataclass(frozen=True)
class ImageRequest:
    """Asks for one image of a style (room None) or of one of its rooms."""

    subcategory: CatalogEntry
    style: StyleCreatedData
    index: int
    stream: str
    step: str
    room_type: CatalogEntry | None = None
    room: RoomGeneratedData | None = None
    generation: int = 1


@dataclass(frozen=True)
class StyleResult:
    """A style's content and what producing it cost."""

    data: StyleCreatedData
    call: CallInfo


@dataclass(frozen=True)
class RoomResult:
    """A room profile and what producing it cost."""

    data: RoomGeneratedData
    call: CallInfo


@dataclass(frozen=True)
class ImageResult:
    """A PNG image, its size in pixels, the prompt, and what producing it cost."""

    png: bytes
    width: int | None
    height: int | None
    prompt: str
    call: CallInfo


@dataclass
class ProviderError(Exception):
    """Classifies a failed attempt; ``billed`` carries usage when the provider charged it.

    ``message`` must already be safe to store and print: no API key, no credentials.
    """

    kind: ErrorKind
    message: str
    status: int | None = None
    retry_after_s: float | None = None
    billed: CallInfo | None = None
    rate: RateLimitInfo | None = field(default=None)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    @property
    def fatal(self) -> bool:
        """Tells whether this error must stop the run (or, ``family_only``, its call kind)."""
        return self.kind in FATAL_KINDS

    @property
    def family_only(self) -> bool:
        """Tells whether a fatal error stops only the calls of its kind (text or image)."""
        return self.kind in FAMILY_FATAL_KINDS

    @property
    def retryable(self) -> bool:
        """Tells whether another attempt could succeed."""
        return self.kind in RETRYABLE_KINDS

    def __str__(self) -> str:
        status = f" (HTTP {self.status})" if self.status else ""
        return f"{self.kind}{status}: {self.message}"


class Provider(Protocol):
    """Generates content and images; one attempt per call, no hidden retries."""

    #: "openai", "offline", …
    name: str
    #: whether calls cost money (paid providers get StepStarted audit records)
    billable: bool
    text_model: str | None
    image_model: str | None
    image_size: str | None
    image_quality: str | None

    def prompt_version(self, kind: Literal["style", "room", "image"]) -> str:
        """Returns a short hash of the prompt template used for this kind of call."""
        ...

    async def style(self, request: StyleRequest) -> StyleResult:
        """Generates a style's content (one attempt)."""
        ...

    async def room(self, request: RoomRequest) -> RoomResult:
        """Generates one room profile (one attempt)."""
        ...

    async def image(self, request: ImageRequest) -> ImageResult:
        """Generates one image (one attempt)."""
        ...

    async def aclose(self) -> None:
        """Releases network resources."""
        ...
