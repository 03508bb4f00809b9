"""The OpenAI provider: one paid API call per method, every failure classified.

Text goes through Chat Completions structured output
(``chat.completions.with_raw_response.parse`` with a pydantic response model built for
strict mode: every field required, no free-form dicts, languages as an enum), images
through ``images.generate`` returning ``b64_json``. The client is built with
``max_retries=0``: the SDK would retry without an idempotency key, and the retry policy
(``generator.retry``) owns attempts so that no paid call repeats behind the journal.

Every request carries ``X-Genjournal-Step: <stream>/<step>``. Usage is read from the
raw HTTP body *before* the structured output is parsed, so an attempt that was billed
but failed (invalid JSON, refusal, ``finish_reason=length``, content filter) reports
its cost in ``ProviderError.billed``. Every message put in a ``ProviderError`` passes
through ``redact_secrets``.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import hashlib
import json
import re
import struct
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal, NoReturn

import openai
import pydantic
from openai import AsyncOpenAI
from pydantic import BaseModel, ConfigDict, Field

from generator.providers.base import (
    CallInfo,
    ErrorKind,
    ImageRequest,
    ImageResult,
    ProviderError,
    RateLimitInfo,
    RoomRequest,
    RoomResult,
    StyleRequest,
    StyleResult,
)
from generator.redaction import redact_secrets
from generator.settings import (
    DEFAULT_IMAGE_MODEL,
    DEFAULT_IMAGE_QUALITY,
    DEFAULT_IMAGE_SIZE,
    DEFAULT_TEXT_MODEL,
    ProviderSettings,
)
from journal.events import Color, Prose, RoomGeneratedData, StyleCreatedData

STEP_HEADER = "X-Genjournal-Step"


@dataclass(frozen=True)
class OpenAISettings:
    """Holds the OpenAI provider's settings (model defaults come from generator.settings)."""

    text_model: str = DEFAULT_TEXT_MODEL
    image_model: str = DEFAULT_IMAGE_MODEL
    image_size: str | None = DEFAULT_IMAGE_SIZE
    #: None lets the API choose (GPT image models: "auto")
    image_quality: str | None = DEFAULT_IMAGE_QUALITY
    #: seconds one text attempt may take before it counts as a timeout
    text_timeout_s: float = 120.0
    #: seconds one image attempt may take (image models are slow)
    image_timeout_s: float = 300.0
    #: a cap on completion tokens; None leaves it to the model
    max_completion_tokens: int | None = None

    @classmethod
    def from_run(cls, chosen: ProviderSettings, **overrides: Any) -> OpenAISettings:
        """Returns settings from a run's ProviderSettings (None keeps the default)."""
        picked = {
            name: getattr(chosen, name)
            for name in ("text_model", "image_model", "image_size", "image_quality")
            if getattr(chosen, name) is not None
        }
        return cls(**{**picked, **overrides})


# --- prompt templates (their hash is the prompt_version) ---------------------------------

SYSTEM_PROMPT = (
    "You are the editor of an interior-design catalogue. You write precise, evocative and "
    "accurate entries. Answer only with the JSON object the response schema describes; give "
    "every language exactly once."
)

STYLE_PROMPT = """Sub-category: "{name}" (slug: {slug}).
Write this style's catalogue entry in these languages: {languages}.
- approach: one sentence naming the design approach you choose for this style.
- color: the style's one signature colour: an evocative name and its hex value (#RRGGBB).
- localized: for each language, the style's name, a poetic passage (two or three evocative
  sentences) and a factual passage (two or three sentences: origins, forms, materials).
- keywords: three to eight short keywords in English."""

ROOM_PROMPT = """Style: "{style_name}" (sub-category slug: {slug}).
Approach: {approach}
Signature colour: {color_name} ({color_hex})
Room type: "{room_name}" (slug: {room_slug}).
Describe this room in the style, true to its approach and signature colour, in these
languages: {languages}.
- localized: for each language, the room profile's name, a poetic passage and a factual
  passage (layout, furniture, lighting, materials).
- key_pieces: three to eight key furniture or decor pieces.
- materials: two to six materials."""

STYLE_IMAGE_PROMPT = (
    "Photorealistic interior photograph in the {style_name} style. Approach: {approach}. "
    "Signature colour {color_name} ({color_hex}) leads the palette. Mood: {keywords}. "
    "{factual} View {number}: {view}. No people, no text."
)

ROOM_IMAGE_PROMPT = (
    "Photorealistic photograph of a {room_name} in the {style_name} style. Approach: {approach}. "
    "Signature colour {color_name} ({color_hex}). Key pieces: {key_pieces}. Materials: "
    "{materials}. View {number}: {view}. No people, no text."
)

#: one framing per image index, so the images of one subject differ by design
IMAGE_VIEWS = (
    "wide establishing shot at eye level",
    "close detail of materials and textures",
    "corner vignette in soft morning daylight",
    "evening mood with the lamps lit",
    "view from the doorway, showing the layout",
    "overhead view of the arrangement",
)

_TEMPLATES: dict[str, str] = {
    "style": SYSTEM_PROMPT + "\n" + STYLE_PROMPT,
    "room": SYSTEM_PROMPT + "\n" + ROOM_PROMPT,
    "image": STYLE_IMAGE_PROMPT + "\n" + ROOM_IMAGE_PROMPT + "\n" + "\n".join(IMAGE_VIEWS),
}


# --- response models (strict structured output) --------------------------------------------

HEX_COLOUR = r"^#[0-9A-Fa-f]{6}$"


class _Strict(BaseModel):
    # extra="forbid" gives additionalProperties: false, which strict mode requires.
    model_config = ConfigDict(extra="forbid")


class ColourOut(_Strict):
    """The signature colour as the model writes it."""

    name: str = Field(description="an evocative colour name")
    hex: str = Field(pattern=HEX_COLOUR, description="the colour as #RRGGBB")


@lru_cache(maxsize=32)
def response_models(languages: tuple[str, ...]) -> tuple[type[BaseModel], type[BaseModel]]:
    """Returns the (style, room) response models whose language field is an enum of these."""
    # An enum keeps the model from inventing languages; list length pins one item each.
    lang = Literal[languages]  # type: ignore[valid-type]
    count = len(languages)
    localized = pydantic.create_model(
        "LocalizedText",
        __base__=_Strict,
        language=(lang, Field(description="language tag")),
        name=(str, Field(description="the name in this language")),
        poetic=(str, Field(description="an evocative passage")),
        factual=(str, Field(description="a factual passage")),
    )
    items = (list[localized], Field(min_length=count, max_length=count))
    style = pydantic.create_model(
        "StyleContent",
        __base__=_Strict,
        approach=(str, Field(description="the design approach, one sentence")),
        color=(ColourOut, ...),
        localized=items,
        keywords=(list[str], Field(min_length=3, max_length=8)),
    )
    room = pydantic.create_model(
        "RoomProfile",
        __base__=_Strict,
        localized=items,
        key_pieces=(list[str], Field(min_length=3, max_length=8)),
        materials=(list[str], Field(min_length=2, max_length=6)),
    )
    return style, room


# --- header parsing ----------------------------------------------------------------------------

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


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def parse_rate_limit(headers: Mapping[str, str]) -> RateLimitInfo | None:
    """Returns what the ``x-ratelimit-*`` headers say, or None when there are none."""
    info = RateLimitInfo(
        limit_requests=_int_header(headers, "x-ratelimit-limit-requests"),
        remaining_requests=_int_header(headers, "x-ratelimit-remaining-requests"),
        reset_requests_s=parse_duration(headers.get("x-ratelimit-reset-requests")),
        limit_tokens=_int_header(headers, "x-ratelimit-limit-tokens"),
        remaining_tokens=_int_header(headers, "x-ratelimit-remaining-tokens"),
        reset_tokens_s=parse_duration(headers.get("x-ratelimit-reset-tokens")),
    )
    return None if info == RateLimitInfo() else info


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Returns the wait a reply asks for: ``retry-after-ms``, else ``retry-after`` (s or date)."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
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


def png_size(data: bytes) -> tuple[int, int] | None:
    """Returns a PNG's (width, height) from its header, or None when it is not a PNG."""
    if len(data) < 24 or data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def _primary(values: Mapping[str, str]) -> str:
    # Image prompts are written in English when the style has it, else its first language.
    return values.get("en") or next(iter(values.values()), "")


# --- the provider --------------------------------------------------------------------------------

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


class OpenAIProvider:
    """Generates styles, rooms and images through the OpenAI API (or any compatible server)."""

    name = "openai"
    billable = True

    def __init__(
        self,
        settings: OpenAISettings | None = None,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        client: AsyncOpenAI | None = None,
    ) -> None:
        self.settings = settings or OpenAISettings()
        self.text_model: str | None = self.settings.text_model
        self.image_model: str | None = self.settings.image_model
        self.image_size: str | None = self.settings.image_size
        self.image_quality: str | None = self.settings.image_quality
        self._secret = api_key
        if client is None:
            try:
                # No SDK retries: they would repeat a paid call without an idempotency key.
                client = AsyncOpenAI(
                    api_key=api_key,
                    base_url=base_url,
                    max_retries=0,
                    timeout=self.settings.text_timeout_s,
                )
            except openai.OpenAIError as exc:
                raise ProviderError("auth", self._redact(f"cannot build the OpenAI client: {exc}")) from exc
        self._client = client

    def prompt_version(self, kind: Literal["style", "room", "image"]) -> str:
        """Returns a short hash of the prompt template used for this kind of call."""
        return hashlib.sha256(_TEMPLATES[kind].encode()).hexdigest()[:12]

    # --- text

    async def style(self, request: StyleRequest) -> StyleResult:
        """Generates a style's content (one attempt)."""
        entry = request.subcategory
        prompt = STYLE_PROMPT.format(name=entry.name, slug=entry.slug, languages=", ".join(request.languages))
        model_type = response_models(request.languages)[0]
        parsed, call = await self._structured(prompt, model_type, f"{request.stream}/{request.step}")
        by_lang = self._by_language(parsed, request.languages, call)
        try:
            data = StyleCreatedData(
                subcategory=entry.slug,
                name={lang: item.name.strip() for lang, item in by_lang.items()},
                approach=parsed.approach.strip(),
                color=Color(name=parsed.color.name.strip(), hex=parsed.color.hex),
                content={
                    lang: Prose(poetic=i.poetic.strip(), factual=i.factual.strip())
                    for lang, i in by_lang.items()
                },
                keywords=tuple(k.strip() for k in parsed.keywords if k.strip()),
            )
        except pydantic.ValidationError as exc:
            raise self._invalid(exc, call) from exc
        self._require_text(
            call,
            data.approach,
            data.color.name,
            *data.name.values(),
            *(t for p in data.content.values() for t in (p.poetic, p.factual)),
        )
        return StyleResult(data=data, call=call)

    async def room(self, request: RoomRequest) -> RoomResult:
        """Generates one room profile (one attempt)."""
        style = request.style
        prompt = ROOM_PROMPT.format(
            style_name=_primary(style.name) or request.subcategory.name,
            slug=request.subcategory.slug,
            approach=style.approach,
            color_name=style.color.name,
            color_hex=style.color.hex,
            room_name=request.room_type.name,
            room_slug=request.room_type.slug,
            languages=", ".join(request.languages),
        )
        model_type = response_models(request.languages)[1]
        parsed, call = await self._structured(prompt, model_type, f"{request.stream}/{request.step}")
        by_lang = self._by_language(parsed, request.languages, call)
        try:
            data = RoomGeneratedData(
                room_type=request.room_type.slug,
                name={lang: item.name.strip() for lang, item in by_lang.items()},
                content={
                    lang: Prose(poetic=i.poetic.strip(), factual=i.factual.strip())
                    for lang, i in by_lang.items()
                },
                key_pieces=tuple(p.strip() for p in parsed.key_pieces if p.strip()),
                materials=tuple(m.strip() for m in parsed.materials if m.strip()),
            )
        except pydantic.ValidationError as exc:
            raise self._invalid(exc, call) from exc
        self._require_text(
            call,
            *data.name.values(),
            *(t for p in data.content.values() for t in (p.poetic, p.factual)),
        )
        return RoomResult(data=data, call=call)

    async def _structured(self, prompt: str, model_type: type[BaseModel], step: str) -> tuple[Any, CallInfo]:
        """Sends one structured-output request; returns the parsed object and its cost."""
        settings = self.settings
        extra: dict[str, Any] = {}
        if settings.max_completion_tokens is not None:
            extra["max_completion_tokens"] = settings.max_completion_tokens
        started = time.perf_counter()
        try:
            raw = await self._client.chat.completions.with_raw_response.parse(
                model=settings.text_model,
                messages=[
                    {"role": "system", "content": SYSTEM_PROMPT},
                    {"role": "user", "content": prompt},
                ],
                response_format=model_type,
                extra_headers={STEP_HEADER: step},
                timeout=settings.text_timeout_s,
                **extra,
            )
        except openai.OpenAIError as exc:
            self._raise_call_error(exc)
        latency = _ms_since(started)
        # Usage comes from the raw body first: a reply that fails to parse was still billed.
        body = _json_body(raw.http_response.content)
        usage = _mapping(body.get("usage"))
        call = CallInfo(
            # The setting, not the reply's snapshot name: costs group and price by it.
            model=settings.text_model,
            latency_ms=latency,
            request_id=raw.request_id,
            input_tokens=_opt_int(usage.get("prompt_tokens")),
            output_tokens=_opt_int(usage.get("completion_tokens")),
            rate=parse_rate_limit(raw.headers),
        )
        try:
            completion = raw.parse()
        except openai.LengthFinishReasonError as exc:
            raise ProviderError(
                "length",
                "the reply hit the token limit (finish_reason=length)",
                status=200,
                billed=call,
            ) from exc
        except openai.ContentFilterFinishReasonError as exc:
            raise ProviderError(
                "content_filter",
                "the provider's content filter stopped the reply",
                status=200,
                billed=call,
            ) from exc
        except pydantic.ValidationError as exc:
            raise self._invalid(exc, call) from exc
        except (openai.APIResponseValidationError, ValueError) as exc:
            raise ProviderError(
                "invalid_output",
                self._redact(f"unreadable reply: {exc}"),
                status=200,
                billed=call if usage else None,
            ) from exc
        if not completion.choices:
            raise ProviderError("invalid_output", "the reply has no choices", status=200, billed=call)
        message = completion.choices[0].message
        if message.refusal:
            raise ProviderError(
                "refusal",
                self._redact(f"the model refused: {message.refusal[:300]}"),
                status=200,
                billed=call,
            )
        if message.parsed is None:
            raise ProviderError(
                "invalid_output", "the reply has no structured content", status=200, billed=call
            )
        return message.parsed, call

    def _by_language(self, parsed: Any, languages: tuple[str, ...], call: CallInfo) -> dict[str, Any]:
        """Keys the localized items by language; every language exactly once."""
        items = {item.language: item for item in parsed.localized}
        if len(items) != len(parsed.localized) or set(items) != set(languages):
            got = ", ".join(sorted(item.language for item in parsed.localized))
            raise ProviderError(
                "invalid_output",
                f"expected one text per language {list(languages)}, got [{got}]",
                status=200,
                billed=call,
            )
        return {lang: items[lang] for lang in languages}

    @staticmethod
    def _require_text(call: CallInfo, *texts: str) -> None:
        if not all(texts):
            raise ProviderError(
                "invalid_output", "the reply has an empty name or passage", status=200, billed=call
            )

    # --- images

    def image_prompt(self, request: ImageRequest) -> str:
        """Returns the prompt for one image of a style or of one of its rooms."""
        style = request.style
        common = {
            "style_name": _primary(style.name) or request.subcategory.name,
            "approach": style.approach.rstrip(". "),
            "color_name": style.color.name,
            "color_hex": style.color.hex,
            "number": request.index + 1,
            "view": IMAGE_VIEWS[request.index % len(IMAGE_VIEWS)],
        }
        if request.room_type is None:
            factual = _primary({k: v.factual for k, v in style.content.items()})
            return STYLE_IMAGE_PROMPT.format(
                **common,
                keywords=", ".join(style.keywords) or "calm",
                factual=factual[:400],
            )
        room = request.room
        return ROOM_IMAGE_PROMPT.format(
            **common,
            room_name=(_primary(room.name) if room else "") or request.room_type.name,
            key_pieces=", ".join(room.key_pieces) if room and room.key_pieces else "as the style suggests",
            materials=", ".join(room.materials) if room and room.materials else "as the style suggests",
        )

    async def image(self, request: ImageRequest) -> ImageResult:
        """Generates one image (one attempt)."""
        settings = self.settings
        prompt = self.image_prompt(request)
        kwargs: dict[str, Any] = {}
        if settings.image_size:
            kwargs["size"] = settings.image_size
        if settings.image_quality:
            kwargs["quality"] = settings.image_quality
        if settings.image_model.startswith("dall-e"):
            # DALL·E answers with URLs unless asked; GPT image models reject the parameter.
            kwargs["response_format"] = "b64_json"
        started = time.perf_counter()
        try:
            raw = await self._client.images.with_raw_response.generate(
                model=settings.image_model,
                prompt=prompt,
                n=1,
                extra_headers={STEP_HEADER: f"{request.stream}/{request.step}"},
                timeout=settings.image_timeout_s,
                **kwargs,
            )
        except openai.OpenAIError as exc:
            self._raise_call_error(exc)
        latency = _ms_since(started)
        body = _json_body(raw.http_response.content)
        usage = _mapping(body.get("usage"))
        raw_data = body.get("data")
        data: list[Any] = raw_data if isinstance(raw_data, list) else []
        call = CallInfo(
            model=settings.image_model,
            latency_ms=latency,
            request_id=raw.request_id,
            input_tokens=_opt_int(usage.get("input_tokens")),
            output_tokens=_opt_int(usage.get("output_tokens")),
            images=len(data) or None,
            image_size=str(body.get("size") or settings.image_size or "") or None,
            image_quality=str(body.get("quality") or settings.image_quality or "") or None,
            rate=parse_rate_limit(raw.headers),
        )
        first = data[0] if data and isinstance(data[0], dict) else {}
        encoded = first.get("b64_json")
        if not isinstance(encoded, str):
            raise ProviderError(
                "invalid_output",
                "the reply carries no b64_json image",
                status=200,
                billed=call if data else None,
            )
        try:
            png = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ProviderError(
                "invalid_output", "the image is not valid base64", status=200, billed=call
            ) from exc
        size = png_size(png)
        if size is None:
            raise ProviderError("invalid_output", "the image is not a PNG", status=200, billed=call)
        return ImageResult(png=png, width=size[0], height=size[1], prompt=prompt, call=call)

    async def aclose(self) -> None:
        """Releases network resources."""
        await self._client.close()

    async def __aenter__(self) -> OpenAIProvider:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # --- error mapping

    def _redact(self, text: str) -> str:
        return redact_secrets(text, secrets=(self._secret,))

    def _invalid(self, exc: pydantic.ValidationError, call: CallInfo) -> ProviderError:
        """Describes structured output that did not validate (without echoing the input)."""
        errors = exc.errors()
        where = ".".join(str(part) for part in errors[0]["loc"]) if errors else ""
        detail = errors[0]["msg"] if errors else "invalid"
        message = (
            f"structured output does not validate ({exc.error_count()} error(s)); "
            f"{where or 'reply'}: {detail}"
        )
        return ProviderError("invalid_output", self._redact(message), status=200, billed=call)

    def _raise_call_error(self, exc: openai.OpenAIError) -> NoReturn:
        """Translates an SDK exception raised before any reply was read into a ProviderError."""
        if isinstance(exc, openai.APITimeoutError):
            raise ProviderError("timeout", "no reply in time (the call may have been billed)") from exc
        if isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__
            detail = f": {type(cause).__name__}: {cause}" if cause is not None else ""
            raise ProviderError("connection", self._redact(f"connection failed{detail}")) from exc
        if isinstance(exc, openai.APIStatusError):
            raise self._status_error(exc) from exc
        raise ProviderError("unknown", self._redact(f"{type(exc).__name__}: {exc}")) from exc

    def _status_error(self, exc: openai.APIStatusError) -> ProviderError:
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
            self._redact(message),
            status=status,
            retry_after_s=retry_after,
            rate=parse_rate_limit(headers),
        )


def _ms_since(started: float) -> int:
    return max(0, round((time.perf_counter() - started) * 1000))


def _opt_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _json_body(content: bytes) -> dict[str, Any]:
    try:
        body = json.loads(content)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
