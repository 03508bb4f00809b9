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
import json
import os
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal, NoReturn
from urllib.parse import urlsplit

import openai
import pydantic
from openai import AsyncOpenAI
from openai.lib._pydantic import to_strict_json_schema  # the SDK's own strict-schema builder
from pydantic import BaseModel

from generator.png import png_size
from generator.prompts import SHIPPED_PROMPTS, Prompts, with_article
from generator.providers.base import (
    CallInfo,
    ImageRequest,
    ImageResult,
    ProviderError,
    RoomRequest,
    RoomResult,
    StyleRequest,
    StyleResult,
)
from generator.providers.openai.errors import call_error, invalid_output
from generator.providers.openai.gateway import (
    Gateway,
    GatewayWarning,
    detect_from_model_list,
    detect_gateway,
    gateway_retries,
    request_id,
)
from generator.providers.openai.headers import parse_rate_limit
from generator.providers.openai.models import (
    check_image_settings,
    default_quality,
    for_fine_tuned,
    image_family,
    is_fine_tuned,
)
from generator.providers.openai.schemas import response_models
from generator.settings import (
    DEFAULT_IMAGE_MODEL,
    DEFAULT_IMAGE_SIZE,
    DEFAULT_TEXT_MODEL,
    ProviderSettings,
)
from journal.errors import ConfigError
from journal.events import Color, Prose, RoomGeneratedData, StyleCreatedData
from journal.redaction import redact_secrets, redact_url

STEP_HEADER = "X-Genjournal-Step"
CHAT_ENDPOINT = "/v1/chat/completions"
IMAGE_ENDPOINT = "/v1/images/generations"


@dataclass(frozen=True)
class BuiltRequest:
    """One step's API request: what the live call sends and a batch input line carries."""

    endpoint: str
    body: dict[str, Any]
    #: the user (text) or image prompt in the body
    prompt: str


#: OpenAI's own API host: no gateway between us and it
OPENAI_HOST = "api.openai.com"


@dataclass(frozen=True)
class OpenAISettings:
    """Holds the OpenAI provider's settings (model defaults come from generator.settings)."""

    text_model: str = DEFAULT_TEXT_MODEL
    image_model: str = DEFAULT_IMAGE_MODEL
    image_size: str | None = DEFAULT_IMAGE_SIZE
    #: None: the model family's default (``models.DEFAULT_QUALITY``), or none sent at all
    #: for a model of no known family
    image_quality: str | None = None
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


def _primary(values: Mapping[str, str]) -> str:
    # Image prompts are written in English when the style has it, else its first language.
    return values.get("en") or next(iter(values.values()), "")


# --- the provider --------------------------------------------------------------------------------


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
        prompts: Prompts = SHIPPED_PROMPTS,
    ) -> None:
        settings = settings or OpenAISettings()
        #: the templates in force (the shipped ones, or a user's file over them)
        self.prompts = prompts
        if settings.image_quality is None:
            settings = replace(settings, image_quality=default_quality(settings.image_model))
        # Refused before anything is written: a size the model does not take would fail
        # every image step, one paid-for attempt at a time.
        check_image_settings(settings.image_model, settings.image_size, settings.image_quality)
        self.settings = settings
        self.text_model: str | None = self.settings.text_model
        self.image_model: str | None = self.settings.image_model
        self.image_size: str | None = self.settings.image_size
        self.image_quality: str | None = self.settings.image_quality
        self._secret = api_key
        if client is None:
            wanted = base_url if base_url is not None else os.environ.get("OPENAI_BASE_URL")
            if wanted:
                check_base_url(wanted)
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
            except ValueError as exc:  # the HTTP library's own URL check, stricter than urlsplit's
                shown = redact_url(str(wanted))
                raise ConfigError(
                    f"OPENAI_BASE_URL {shown} is not a usable URL: {self._redact(str(exc))}"
                ) from None
            check_base_url(str(client.base_url))
        self._client = client
        #: the gateway the replies came through (None: none recognised)
        self.gateway: Gateway | None = None

    def prompt_version(self, kind: Literal["style", "room", "image"]) -> str:
        """Returns a short hash of the prompt template used for this kind of call."""
        return self.prompts.version(kind)

    # --- text

    # --- one step's request and reply: shared by the live call and the Batch API

    def build_request(self, request: StyleRequest | RoomRequest | ImageRequest) -> BuiltRequest:
        """Returns the request a step sends: its endpoint and JSON body (live and batch alike)."""
        if isinstance(request, StyleRequest):
            return self._chat_request(self.style_prompt(request), self._model_type(request))
        if isinstance(request, RoomRequest):
            return self._chat_request(self.room_prompt(request), self._model_type(request))
        return self._image_request(self.image_prompt(request))

    def parse_reply(
        self,
        request: StyleRequest | RoomRequest | ImageRequest,
        body: Mapping[str, Any],
        *,
        headers: Mapping[str, str] | None = None,
        latency_ms: int = 0,
        prompt: str | None = None,
    ) -> StyleResult | RoomResult | ImageResult:
        """Turns a 200 reply's JSON body into the step's result (live and batch alike).

        Raises ``ProviderError`` (``billed`` set when the reply carried usage) when the
        body is not a usable answer.
        """
        headers = headers or {}
        if isinstance(request, ImageRequest):
            return self._parse_image(body, headers, latency_ms, prompt or self.image_prompt(request))
        parsed, call = self._parse_chat(body, headers, latency_ms, self._model_type(request))
        if isinstance(request, StyleRequest):
            return self._style_result(request, parsed, call)
        return self._room_result(request, parsed, call)

    def _model_type(self, request: StyleRequest | RoomRequest) -> type[BaseModel]:
        return response_models(request.languages)[0 if isinstance(request, StyleRequest) else 1]

    def style_prompt(self, request: StyleRequest) -> str:
        """Returns the user prompt of a style's content call."""
        entry = request.subcategory
        return self.prompts.style.format(
            name=entry.name, slug=entry.slug, languages=", ".join(request.languages)
        )

    def room_prompt(self, request: RoomRequest) -> str:
        """Returns the user prompt of a room profile call."""
        style = request.style
        return self.prompts.room.format(
            style_name=_primary(style.name) or request.subcategory.name,
            slug=request.subcategory.slug,
            approach=style.approach,
            color_name=style.color.name,
            color_hex=style.color.hex,
            room_name=request.room_type.name,
            room_slug=request.room_type.slug,
            languages=", ".join(request.languages),
        )

    # --- text

    async def style(self, request: StyleRequest) -> StyleResult:
        """Generates a style's content (one attempt)."""
        result = await self._live(request)
        assert isinstance(result, StyleResult)
        return result

    async def room(self, request: RoomRequest) -> RoomResult:
        """Generates one room profile (one attempt)."""
        result = await self._live(request)
        assert isinstance(result, RoomResult)
        return result

    def _style_result(self, request: StyleRequest, parsed: Any, call: CallInfo) -> StyleResult:
        entry = request.subcategory
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

    def _room_result(self, request: RoomRequest, parsed: Any, call: CallInfo) -> RoomResult:
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

    def _chat_request(self, prompt: str, model_type: type[BaseModel]) -> BuiltRequest:
        """Returns one structured-output chat request (the body the SDK's ``parse`` would send)."""
        settings = self.settings
        if is_fine_tuned(settings.text_model):
            # Fine-tunes refuse pattern/minItems/maxItems in a strict schema; the reply is
            # still validated against the full model (and invalid output retried).
            schema = for_fine_tuned(to_strict_json_schema(model_type))
        else:
            schema = to_strict_json_schema(model_type)
        body: dict[str, Any] = {
            "model": settings.text_model,
            "messages": [
                {"role": "system", "content": self.prompts.system},
                {"role": "user", "content": prompt},
            ],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": model_type.__name__, "schema": schema, "strict": True},
            },
        }
        if settings.max_completion_tokens is not None:
            body["max_completion_tokens"] = settings.max_completion_tokens
        return BuiltRequest(CHAT_ENDPOINT, body, prompt)

    async def _live(
        self, request: StyleRequest | RoomRequest | ImageRequest
    ) -> StyleResult | RoomResult | ImageResult:
        """Sends a step's request once and parses the reply (one attempt)."""
        built = self.build_request(request)
        image = built.endpoint == IMAGE_ENDPOINT
        timeout = self.settings.image_timeout_s if image else self.settings.text_timeout_s
        started = time.perf_counter()
        try:
            api = (
                self._client.images.with_raw_response.generate
                if image
                else self._client.chat.completions.with_raw_response.create
            )
            raw = await api(
                **built.body,
                extra_headers={STEP_HEADER: f"{request.stream}/{request.step}"},
                timeout=timeout,
            )
        except openai.OpenAIError as exc:
            self._raise_call_error(exc)
        except Exception as exc:
            # A step's failure must stay the step's: anything the transport raises past the
            # SDK (a port out of range, a malformed URL) is a failed attempt, not a crash.
            raise ProviderError(
                "connection", self._redact(f"connection failed: {type(exc).__name__}: {exc}")
            ) from exc
        latency = _ms_since(started)
        body = _json_body(raw.http_response.content)
        return self.parse_reply(request, body, headers=raw.headers, latency_ms=latency, prompt=built.prompt)

    def _parse_chat(
        self, body: Mapping[str, Any], headers: Mapping[str, str], latency: int, model_type: type[BaseModel]
    ) -> tuple[Any, CallInfo]:
        """Reads a chat reply: usage first (a reply that fails to parse was still billed), then the object."""
        settings = self.settings
        usage = _mapping(body.get("usage"))
        found_id, id_source = self._seen(headers, body)
        call = CallInfo(
            # The setting, not the reply's snapshot name: costs group and price by it.
            model=settings.text_model,
            latency_ms=latency,
            request_id=found_id,
            request_id_source=id_source,
            gateway_retries=gateway_retries(headers),
            input_tokens=_opt_int(usage.get("prompt_tokens")),
            output_tokens=_opt_int(usage.get("completion_tokens")),
            rate=parse_rate_limit(headers),
        )
        choices = body.get("choices")
        if not isinstance(choices, list):
            raise ProviderError(
                "invalid_output",
                "unreadable reply: no choices list",
                status=200,
                billed=call if usage else None,
            )
        if not choices:
            raise ProviderError("invalid_output", "the reply has no choices", status=200, billed=call)
        choice = _mapping(choices[0])
        finish = choice.get("finish_reason")
        if finish == "length":
            raise ProviderError(
                "length", "the reply hit the token limit (finish_reason=length)", status=200, billed=call
            )
        if finish == "content_filter":
            raise ProviderError(
                "content_filter", "the provider's content filter stopped the reply", status=200, billed=call
            )
        message = _mapping(choice.get("message"))
        refusal = message.get("refusal")
        if isinstance(refusal, str) and refusal:
            raise ProviderError(
                "refusal", self._redact(f"the model refused: {refusal[:300]}"), status=200, billed=call
            )
        content = message.get("content")
        if not isinstance(content, str) or not content:
            raise ProviderError(
                "invalid_output", "the reply has no structured content", status=200, billed=call
            )
        try:
            parsed = model_type.model_validate_json(content)
        except pydantic.ValidationError as exc:
            raise self._invalid(exc, call) from exc
        return parsed, call

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
            "view": self.prompts.image_views[request.index % len(self.prompts.image_views)],
        }
        if request.room_type is None:
            factual = _primary({k: v.factual for k, v in style.content.items()})
            return self.prompts.style_image.format(
                **common,
                keywords=", ".join(style.keywords) or "calm",
                factual=factual[:400],
            )
        room = request.room
        title = _primary(room.name) if room else ""
        return self.prompts.room_image.format(
            **common,
            room_type=with_article(request.room_type.name),
            profile_title=f' (the room profile "{title}")' if title else "",
            key_pieces=", ".join(room.key_pieces) if room and room.key_pieces else "as the style suggests",
            materials=", ".join(room.materials) if room and room.materials else "as the style suggests",
        )

    async def image(self, request: ImageRequest) -> ImageResult:
        """Generates one image (one attempt)."""
        result = await self._live(request)
        assert isinstance(result, ImageResult)
        return result

    def _image_request(self, prompt: str) -> BuiltRequest:
        settings = self.settings
        body: dict[str, Any] = {"model": settings.image_model, "prompt": prompt, "n": 1}
        if settings.image_size:
            body["size"] = settings.image_size
        if settings.image_quality:
            body["quality"] = settings.image_quality
        if (image_family(settings.image_model) or "").startswith("dall-e"):
            # DALL·E answers with URLs unless asked; GPT image models reject the parameter.
            body["response_format"] = "b64_json"
        return BuiltRequest(IMAGE_ENDPOINT, body, prompt)

    def _parse_image(
        self, body: Mapping[str, Any], headers: Mapping[str, str], latency: int, prompt: str
    ) -> ImageResult:
        settings = self.settings
        usage = _mapping(body.get("usage"))
        raw_data = body.get("data")
        data: list[Any] = raw_data if isinstance(raw_data, list) else []
        found_id, id_source = self._seen(headers, body)
        call = CallInfo(
            model=settings.image_model,
            latency_ms=latency,
            request_id=found_id,
            request_id_source=id_source,
            gateway_retries=gateway_retries(headers),
            input_tokens=_opt_int(usage.get("input_tokens")),
            output_tokens=_opt_int(usage.get("output_tokens")),
            # GPT image models price input image tokens and output text tokens apart.
            input_image_tokens=_opt_int(_mapping(usage.get("input_tokens_details")).get("image_tokens")),
            output_text_tokens=_opt_int(_mapping(usage.get("output_tokens_details")).get("text_tokens")),
            images=len(data) or None,
            image_size=str(body.get("size") or settings.image_size or "") or None,
            image_quality=str(body.get("quality") or settings.image_quality or "") or None,
            rate=parse_rate_limit(headers),
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
        try:
            size = png_size(png)
        except ValueError:
            size = None
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

    # --- what replies say about the path they came by

    def _seen(self, headers: Mapping[str, str], body: Mapping[str, Any]) -> tuple[str | None, str | None]:
        """Notes a gateway the reply names; returns its request id and where it was read."""
        self._note_gateway(headers)
        return request_id(headers, body)

    def _note_gateway(self, headers: Mapping[str, str], found: Gateway | None = None) -> None:
        if self.gateway is not None:
            return
        found = found or detect_gateway(headers)
        if found is not None:
            self.gateway = found
            warnings.warn(found.warning(), GatewayWarning, stacklevel=2)

    async def probe(self) -> Gateway | None:
        """Asks the server which models it serves (free), to recognise a gateway before the run.

        Only for a base URL other than OpenAI's own; a probe that fails says nothing (the
        replies of the run's calls are read for a gateway too).
        """
        if urlsplit(str(self._client.base_url)).hostname == OPENAI_HOST:
            return None
        try:
            raw = await self._client.models.with_raw_response.list(timeout=10.0)
        except openai.APIStatusError as exc:
            self._note_gateway(exc.response.headers)
        except Exception:  # a probe never fails the run
            return self.gateway
        else:
            body = _json_body(raw.http_response.content)
            self._note_gateway(raw.headers, detect_from_model_list(raw.headers, body))
        return self.gateway

    # --- error mapping

    def _redact(self, text: str) -> str:
        return redact_secrets(text, secrets=(self._secret,))

    def _invalid(self, exc: pydantic.ValidationError, call: CallInfo) -> ProviderError:
        return invalid_output(exc, call, self._secret)

    def _raise_call_error(self, exc: openai.OpenAIError) -> NoReturn:
        if isinstance(exc, openai.APIStatusError):
            self._note_gateway(exc.response.headers)
        raise call_error(exc, self._secret) from exc


def check_base_url(url: str) -> None:
    """Refuses an API base URL no request could reach (``ConfigError``, before anything is written)."""
    shown = redact_url(url)
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError when out of 0..65535
    except ValueError as exc:
        raise ConfigError(f"OPENAI_BASE_URL {shown} is not a usable URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"OPENAI_BASE_URL {shown} is not a usable URL: it needs http(s)://HOST[:PORT]/…")
    if port == 0:
        raise ConfigError(f"OPENAI_BASE_URL {shown} is not a usable URL: port 0")


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
