"""The OpenAI provider: the real openai client against the fake server on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Literal

import pytest

from generator.providers.base import (
    ImageRequest,
    ProviderError,
    RoomRequest,
    StyleRequest,
)
from generator.providers.openai import OpenAIProvider, OpenAISettings
from generator.providers.openai.headers import parse_duration, parse_rate_limit, parse_retry_after
from genjournal.testing.fake_openai import FakeOpenAI
from journal.events import CatalogEntry, Color, Prose, RoomGeneratedData, StyleCreatedData
from tests.conftest import TEST_API_KEY

ART_DECO = CatalogEntry(slug="art-deco", name="Art Deco")
KITCHEN = CatalogEntry(slug="kitchen", name="Kitchen")
STYLE = StyleCreatedData(
    subcategory="art-deco",
    name={"en": "Art Deco"},
    approach="Geometric glamour in lacquer and brass",
    color=Color(name="Peacock Teal", hex="#1f6f78"),
    content={"en": Prose(poetic="Light on brass.", factual="Born in 1920s Paris.")},
    keywords=("geometry", "brass"),
)
ROOM = RoomGeneratedData(
    room_type="kitchen",
    name={"en": "Art Deco Kitchen"},
    content={"en": Prose(poetic="Chrome at dawn.", factual="Checkerboard floor.")},
    key_pieces=("marble island", "globe pendants"),
    materials=("marble", "chrome"),
)

MakeProvider = Callable[..., OpenAIProvider]


def style_request(languages: tuple[str, ...] = ("en",)) -> StyleRequest:
    """Returns a content request for Art Deco."""
    return StyleRequest(subcategory=ART_DECO, languages=languages, stream="style:art-deco")


def room_request() -> RoomRequest:
    """Returns a kitchen room request for Art Deco."""
    return RoomRequest(
        subcategory=ART_DECO,
        style=STYLE,
        room_type=KITCHEN,
        languages=("en",),
        stream="style:art-deco",
        step="room:kitchen",
    )


def image_request(index: int = 0, room: bool = False) -> ImageRequest:
    """Returns an image request for the style, or for its kitchen."""
    if room:
        return ImageRequest(
            subcategory=ART_DECO,
            style=STYLE,
            index=index,
            stream="style:art-deco",
            step=f"image:room:kitchen:{index}",
            room_type=KITCHEN,
            room=ROOM,
        )
    return ImageRequest(
        subcategory=ART_DECO,
        style=STYLE,
        index=index,
        stream="style:art-deco",
        step=f"image:style:{index}",
    )


async def failure(provider: OpenAIProvider, call: str = "style") -> ProviderError:
    """Makes one call that must fail; returns its ProviderError."""
    async with provider:
        attempt = provider.style(style_request()) if call == "style" else provider.image(image_request())
        with pytest.raises(ProviderError) as caught:
            await attempt
    return caught.value


def test_style_success_gives_validated_content_usage_and_request_id(
    fake_openai: FakeOpenAI,
    make_provider: MakeProvider,
) -> None:
    """A style call returns StyleCreatedData per language, with usage, request id and rate."""

    async def scenario() -> None:
        async with make_provider() as provider:
            result = await provider.style(style_request(("en", "fr")))
        assert set(result.data.name) == set(result.data.content) == {"en", "fr"}
        assert result.data.subcategory == "art-deco"
        assert result.data.color.hex.startswith("#")
        assert result.data.keywords
        assert result.call.input_tokens
        assert result.call.output_tokens
        assert result.call.model == "gpt-5.4-mini"
        [entry] = fake_openai.ledger()
        assert result.call.request_id == entry.request_id
        assert (entry.step, entry.model, entry.billable) == (
            "style:art-deco/content",
            "gpt-5.4-mini",
            True,
        )
        assert (entry.input_tokens, entry.output_tokens) == (
            result.call.input_tokens,
            result.call.output_tokens,
        )
        assert result.call.rate is not None
        assert result.call.rate.limit_requests

    asyncio.run(scenario())


def test_room_prompt_carries_the_style_approach_and_colour(
    fake_openai: FakeOpenAI,
    make_provider: MakeProvider,
) -> None:
    """A room call asks in the style's approach and colour and returns RoomGeneratedData."""
    fake_openai.configure({"extra_models": ["my-text-model"]})

    async def scenario() -> None:
        async with make_provider(text_model="my-text-model") as provider:
            result = await provider.room(room_request())
        assert result.data.room_type == "kitchen"
        assert result.data.key_pieces
        assert result.data.materials
        [entry] = fake_openai.ledger()
        assert STYLE.approach in entry.prompt
        assert "#1f6f78" in entry.prompt
        assert '"Kitchen"' in entry.prompt
        assert (entry.step, entry.model) == ("style:art-deco/room:kitchen", "my-text-model")

    asyncio.run(scenario())


def test_image_success_returns_a_png_and_sends_no_response_format(
    fake_openai: FakeOpenAI,
    make_provider: MakeProvider,
) -> None:
    """A GPT image call returns a PNG, its size, cost and request id; no response_format."""

    async def scenario() -> None:
        async with make_provider(image_size="1536x1024", image_quality="high") as provider:
            styled = await provider.image(image_request(0))
            roomed = await provider.image(image_request(1, room=True))
        assert styled.png.startswith(b"\x89PNG")
        assert styled.png != roomed.png
        assert (styled.width, styled.height) == (64, 43)
        call = styled.call
        assert (call.images, call.image_size, call.image_quality, call.model) == (
            1,
            "1536x1024",
            "high",
            "gpt-image-2",
        )
        assert call.output_tokens
        assert call.request_id
        assert "marble island" in roomed.prompt
        assert "#1f6f78" in styled.prompt
        entries = fake_openai.ledger()
        assert [e.step for e in entries] == [
            "style:art-deco/image:style:0",
            "style:art-deco/image:room:kitchen:1",
        ]
        assert all("response_format" not in e.params for e in entries)

    asyncio.run(scenario())


def test_dalle_models_are_asked_for_b64_json(fake_openai: FakeOpenAI, make_provider: MakeProvider) -> None:
    """DALL·E models get response_format=b64_json, since they default to URLs."""

    fake_openai.configure({"extra_models": ["dall-e-3"]})  # retired, but its rules still hold

    async def scenario() -> None:
        async with make_provider(image_model="dall-e-3") as provider:
            result = await provider.image(image_request())
        assert result.png.startswith(b"\x89PNG")
        assert result.call.input_tokens is None  # DALL·E bills per image, not per token
        assert "response_format" in fake_openai.ledger()[0].params

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("fault", "kind", "status", "billed"),
    [
        ("429", "rate_limited", 429, False),
        ("500", "server_error", 500, False),
        ("drop", "connection", None, False),
        ("malformed", "invalid_output", 200, True),
        ("schema", "invalid_output", 200, True),
        ("refusal", "refusal", 200, True),
        ("length", "length", 200, True),
        ("content_filter", "content_filter", 200, True),
        ("quota", "quota", 429, False),
    ],
)
def test_text_faults_map_to_error_kinds(
    fake_openai: FakeOpenAI,
    make_provider: MakeProvider,
    fault: str,
    kind: str,
    status: int | None,
    billed: bool,
) -> None:
    """Every text fault becomes the right ProviderError kind, with usage when billed."""
    fake_openai.add_rule("", fault)
    error = asyncio.run(failure(make_provider()))
    assert (error.kind, error.status, error.billed is not None) == (kind, status, billed)
    [entry] = fake_openai.ledger()
    assert entry.billable == billed
    if billed:
        assert error.billed is not None
        assert (error.billed.input_tokens, error.billed.output_tokens) == (
            entry.input_tokens,
            entry.output_tokens,
        )
        assert error.billed.request_id == entry.request_id


@pytest.mark.parametrize(
    ("fault", "kind", "status", "billed"),
    [
        ("malformed", "invalid_output", 200, True),
        ("content_filter", "content_filter", 400, False),
        ("500", "server_error", 500, False),
        ("drop", "connection", None, False),
    ],
)
def test_image_faults_map_to_error_kinds(
    fake_openai: FakeOpenAI,
    make_provider: MakeProvider,
    fault: str,
    kind: str,
    status: int | None,
    billed: bool,
) -> None:
    """Every image fault becomes the right ProviderError kind; garbage bytes are billed."""
    fake_openai.add_rule("", fault)
    error = asyncio.run(failure(make_provider(), "image"))
    assert (error.kind, error.status, error.billed is not None) == (kind, status, billed)
    if billed:
        assert error.billed is not None
        assert error.billed.images == 1


@pytest.mark.parametrize(("header", "expected"), [("both", 0.25), ("ms", 0.25), ("s", 1.0), ("none", 0.25)])
def test_rate_limited_error_carries_the_servers_retry_after(
    fake_openai: FakeOpenAI,
    make_provider: MakeProvider,
    header: str,
    expected: float | None,
) -> None:
    """A 429 reports retry-after-ms, else retry-after in seconds, else the wait its text states."""
    fake_openai.set_endpoint("text", faults={"429": 1.0}, retry_after_s=0.25, retry_after_header=header)
    error = asyncio.run(failure(make_provider()))
    assert (error.kind, error.retry_after_s) == ("rate_limited", expected)


def test_timeout_is_classified_as_timeout(fake_openai: FakeOpenAI, make_provider: MakeProvider) -> None:
    """A reply that never comes within the timeout is a `timeout` error."""
    fake_openai.configure({"hang_s": 2.0})
    fake_openai.add_rule("", "hang")
    error = asyncio.run(failure(make_provider(text_timeout_s=0.3)))
    assert error.kind == "timeout"


def test_bad_key_is_auth_and_never_appears_in_the_message(
    fake_openai: FakeOpenAI, make_provider: MakeProvider
) -> None:
    """A 401 is a fatal `auth` error holding neither the key nor its masked echo."""
    fake_openai.configure({"bad_keys": [TEST_API_KEY]})
    error = asyncio.run(failure(make_provider()))
    assert (error.kind, error.status, error.fatal) == ("auth", 401, True)
    assert "Incorrect API key" in error.message
    assert TEST_API_KEY not in str(error)
    assert TEST_API_KEY[-4:] not in str(error)
    assert TEST_API_KEY[:8] not in str(error)


def test_key_and_base_url_come_from_the_sdk_environment(
    fake_openai: FakeOpenAI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without arguments the provider uses OPENAI_API_KEY/OPENAI_BASE_URL and redacts the key."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env-abcdefghijklmnop")
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    fake_openai.configure({"bad_keys": ["sk-from-env-abcdefghijklmnop"]})
    error = asyncio.run(failure(OpenAIProvider()))
    assert error.kind == "auth"
    assert "abcdefghijklmnop"[-4:] not in error.message
    assert len(fake_openai.ledger()) == 1


def test_missing_key_is_an_auth_error() -> None:
    """Building the provider without an API key fails with an `auth` ProviderError."""
    with pytest.raises(ProviderError) as caught:
        OpenAIProvider()
    assert caught.value.kind == "auth"


def test_prompt_version_hashes_each_template() -> None:
    """prompt_version is a short stable hash, different for style, room and image."""
    kinds: tuple[Literal["style", "room", "image"], ...] = ("style", "room", "image")
    one = OpenAIProvider(api_key="sk-unused-0000000000", base_url="http://127.0.0.1:9/v1")
    other = OpenAIProvider(
        OpenAISettings(text_model="x"),
        api_key="sk-unused-0000000000",
        base_url="http://127.0.0.1:9/v1",
    )
    versions = [one.prompt_version(kind) for kind in kinds]
    assert len(set(versions)) == 3
    assert all(len(v) == 12 for v in versions)
    assert versions == [other.prompt_version(kind) for kind in kinds]  # models are not templates

    async def close() -> None:
        await one.aclose()
        await other.aclose()

    asyncio.run(close())


def test_header_parsers_read_openai_formats() -> None:
    """Reset durations, retry-after (ms, seconds, HTTP date) and x-ratelimit headers parse."""
    assert [parse_duration(t) for t in ("120ms", "1s", "1.5s", "6m0s", "1h2m3s", "2", "soon")] == [
        0.12,
        1.0,
        1.5,
        360.0,
        3723.0,
        2.0,
        None,
    ]
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "1"}) == 0.25
    assert parse_retry_after({"retry-after": "3"}) == 3.0
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 < (parse_retry_after({"retry-after": later}) or 0) <= 30
    info = parse_rate_limit(
        {
            "x-ratelimit-limit-requests": "600",
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": "100ms",
        }
    )
    assert info is not None
    assert (
        info.limit_requests,
        info.remaining_requests,
        info.reset_requests_s,
    ) == (600, 0, 0.1)
    assert parse_rate_limit({}) is None


def test_settings_follow_the_run_choices_and_shared_defaults() -> None:
    """OpenAISettings takes a run's chosen models and keeps the shared defaults otherwise."""
    from generator.settings import DEFAULT_IMAGE_MODEL, ProviderSettings

    settings = OpenAISettings.from_run(ProviderSettings(text_model="gpt-x"), text_timeout_s=5)
    assert (settings.text_model, settings.image_model, settings.text_timeout_s) == (
        "gpt-x",
        DEFAULT_IMAGE_MODEL,
        5,
    )
