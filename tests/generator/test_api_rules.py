"""The real API's rules, through the real `openai` client against the fake server (issue 13).

Billing stops, settings checked before the first call, per-family image defaults, fine-
tuned schemas, the organization-verification refusal, and image prompts that name the
room. Each run here is the real `genjournal run` (a subprocess); each provider call the
real `AsyncOpenAI` client on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from generator.providers.openai import OpenAIProvider
from generator.providers.openai.models import check_image_settings, default_quality, image_family
from genjournal.testing.fake_openai import FakeOpenAI
from journal.errors import ConfigError
from tests.generator.test_run import journal_events, write_plan
from tests.generator.test_run_openai import ROOMS_PLAN, STEPS, run

pytestmark = pytest.mark.slow

MakeProvider = Callable[..., OpenAIProvider]


def last_line(done: subprocess.CompletedProcess[str]) -> str:
    """Returns the last line a run printed on stderr."""
    return done.stderr.strip().splitlines()[-1]


def requests_of(server: FakeOpenAI, family: str) -> list[Any]:
    """Returns the ledger entries of one endpoint family."""
    return [entry for entry in server.ledger() if entry.family == family]


# --- 1. billing errors stop the run ----------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "family", "words"),
    [
        ("billing_hard_limit", "image", "billing"),
        ("billing_not_active", "text", "billing"),
        ("quota", "text", "no credit left"),
    ],
)
def test_a_billing_refusal_stops_the_run_after_one_call(
    tmp_path: Path, fake_openai: FakeOpenAI, fault: str, family: str, words: str
) -> None:
    """`billing_hard_limit_reached` (400), `billing_not_active` (429), quota: exit 2 after one refused call."""
    fake_openai.configure({"rules": [{"match": "", "fault": fault, "family": family}]})
    plan = write_plan(tmp_path, ROOMS_PLAN)
    done = run(fake_openai, tmp_path / "data", plan, "--concurrency", "1")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert words in last_line(done)
    assert "refused our credentials" not in last_line(done)
    refused = [entry for entry in fake_openai.ledger() if entry.status not in (200, None)]
    assert len(refused) == 1  # not retried, and no other step tried after it
    finished = [e for e in journal_events(tmp_path / "data") if e["type"] == "RunFinished"]
    assert finished[-1]["data"]["outcome"] == "aborted"
    assert not [e for e in journal_events(tmp_path / "data") if e["type"].endswith("Failed")]


# --- 2. bad settings are refused before the first call ----------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        ("--image-model", "gpt-image-2", "--image-size", "1000x1000"),
        ("--image-model", "gpt-image-2", "--image-size", "4096x1024"),
        ("--image-model", "gpt-image-2", "--image-size", "3840x960"),
        ("--image-model", "gpt-image-1.5", "--image-size", "1792x1024"),
        ("--image-model", "gpt-image-2", "--image-quality", "hd"),
        ("--image-model", "dall-e-3", "--image-quality", "medium"),
        ("--image-model", "dall-e-3", "--image-size", "1536x1024"),
    ],
)
def test_a_size_or_quality_the_model_refuses_is_exit_2_before_anything(
    tmp_path: Path, fake_openai: FakeOpenAI, options: tuple[str, ...]
) -> None:
    """A size or quality outside the model family's: one line naming it, exit 2, no call, no journal."""
    plan = write_plan(tmp_path, ROOMS_PLAN)
    done = run(fake_openai, tmp_path / "data", plan, *options)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert options[3] in lines[0]
    assert fake_openai.ledger() == []
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("option", ["--text-model", "--image-model"])
def test_an_unknown_model_stops_the_run_at_its_first_refusal(
    tmp_path: Path, fake_openai: FakeOpenAI, option: str
) -> None:
    """404 `model_not_found` is fatal: one request of that kind, exit 2, no failure event per step."""
    plan = write_plan(tmp_path, ROOMS_PLAN)
    done = run(fake_openai, tmp_path / "data", plan, option, "acme-model-9", "--concurrency", "1")
    assert done.returncode == 2, done.stderr
    assert "refuses this run's settings" in last_line(done)
    assert "model_not_found" in last_line(done)
    assert len([e for e in fake_openai.ledger() if e.status == 404]) == 1
    assert not [e for e in journal_events(tmp_path / "data") if e["type"].endswith("Failed")]


def test_a_model_of_no_known_family_is_not_guessed_at(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    """An unknown image model with any size is let through: the server's refusal decides."""
    fake_openai.configure({"extra_models": ["acme-image-1"]})
    plan = write_plan(tmp_path, ROOMS_PLAN)
    done = run(
        fake_openai, tmp_path / "data", plan, "--image-model", "acme-image-1", "--image-size", "640x480"
    )
    assert done.returncode == 0, done.stderr
    assert len(requests_of(fake_openai, "image")) == 2 * (1 + 6)


def test_the_provider_table_and_the_fakes_agree_on_every_documented_option() -> None:
    """For every family, the provider's checks accept exactly what the fake (written from the spec) accepts."""
    from genjournal.testing.fake_openai.errors import Reply
    from genjournal.testing.fake_openai.models import check_image_options

    sizes = ["auto", "1024x1024", "1536x1024", "1024x1536", "256x256", "512x512", "1792x1024",
             "1024x1792", "1536x864", "3840x2160", "3840x1280", "3840x1264", "4096x1024", "1000x1000",
             "2160x3840", "640x480"]  # fmt: skip
    qualities = ["low", "medium", "high", "auto", "standard", "hd"]
    for model in ("gpt-image-2", "gpt-image-1.5", "gpt-image-1-mini", "dall-e-3", "dall-e-2"):
        for size in sizes:
            for quality in qualities:
                try:
                    check_image_options(model, size, quality)
                    fake_ok = True
                except Reply:
                    fake_ok = False
                try:
                    check_image_settings(model, size, quality)
                    ours_ok = True
                except ConfigError:
                    ours_ok = False
                assert ours_ok == fake_ok, (model, size, quality)


# --- 3. DALL·E gets its own default quality ------------------------------------------------------


def test_each_family_gets_a_quality_it_accepts_by_default(
    fake_openai: FakeOpenAI, make_provider: MakeProvider
) -> None:
    """With no --image-quality, DALL·E 3 is sent `standard` (the fake refuses `medium`), GPT image `medium`."""
    from tests.generator.test_openai_provider import image_request

    fake_openai.configure({"extra_models": ["dall-e-3"]})

    async def one(model: str, size: str) -> str | None:
        async with make_provider(image_model=model, image_size=size) as provider:
            result = await provider.image(image_request())
        assert result.png.startswith(b"\x89PNG")
        return provider.image_quality

    assert asyncio.run(one("dall-e-3", "1024x1024")) == "standard"
    assert asyncio.run(one("gpt-image-2", "1024x1024")) == "medium"
    assert [entry.status for entry in fake_openai.ledger()] == [200, 200]
    assert default_quality("openai/dall-e-3") == "standard"
    assert image_family("acme-image") is None and default_quality("acme-image") is None


# --- 4. fine-tuned models get a schema they accept ---------------------------------------------


def test_a_fine_tuned_text_model_is_sent_a_schema_without_pattern_and_item_counts(
    fake_openai: FakeOpenAI, make_provider: MakeProvider
) -> None:
    """`ft:` models refuse pattern/minItems/maxItems; they are left out, and the reply still validates."""
    from tests.generator.test_openai_provider import style_request

    model = "ft:gpt-5.4-mini:acme::a1b2c3"

    async def scenario() -> Any:
        async with make_provider(text_model=model) as provider:
            return await provider.style(style_request())

    result = asyncio.run(scenario())
    assert result.data.color.hex.startswith("#")
    assert [(entry.model, entry.status) for entry in fake_openai.ledger()] == [(model, 200)]


def test_the_fake_refuses_pattern_for_a_fine_tuned_model(fake_openai: FakeOpenAI) -> None:
    """The same strict schema with `pattern` is a 400 for an `ft:` model and accepted for its base."""
    from genjournal.testing.fake_openai.errors import Reply
    from genjournal.testing.fake_openai.schema import response_schema

    schema = {
        "type": "object",
        "properties": {"hex": {"type": "string", "pattern": "^#[0-9a-f]{6}$"}},
        "required": ["hex"],
        "additionalProperties": False,
    }
    fmt = {"type": "json_schema", "json_schema": {"name": "c", "schema": schema, "strict": True}}
    assert response_schema(fmt)[0] == schema
    with pytest.raises(Reply, match="'pattern' is not permitted for fine-tuned models"):
        response_schema(fmt, fine_tuned=True)


# --- 5. a 403 on the image model stops image steps only --------------------------------------------


def test_an_unverified_organization_stops_image_steps_while_text_steps_finish(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    """403 "organization must be verified" on images: every text step done, images stop, exit 1."""
    fake_openai.configure({"rules": [{"match": "", "fault": "unverified", "family": "image"}]})
    plan = write_plan(tmp_path, ROOMS_PLAN)
    done = run(fake_openai, tmp_path / "data", plan, "--concurrency", "1")
    assert done.returncode == 1, done.stderr
    line = last_line(done)
    assert "image steps stopped" in line
    assert "gpt-image-2" in line
    assert "refused our credentials" not in line
    events = journal_events(tmp_path / "data")
    texts = [e for e in events if e["type"] in ("StyleCreated", "RoomGenerated")]
    assert len(texts) == 2 * (1 + 6)
    assert len(requests_of(fake_openai, "image")) == 1
    assert not [e for e in events if e["type"] == "ImageFailed"]
    assert STEPS - len(texts) == 2 * (1 + 6)  # the image steps stay pending for the next run


# --- 7. the room image prompt names the room type ------------------------------------------------------


def test_a_room_image_prompt_names_the_room_type_and_the_style(
    fake_openai: FakeOpenAI, make_provider: MakeProvider
) -> None:
    """ "… of a kitchen in the Art Deco style (the room profile "…")", not "of a The Gilded Salon"."""
    from tests.generator.test_openai_provider import image_request

    async def scenario() -> str:
        async with make_provider() as provider:
            request = image_request(room=True)
            return provider.image_prompt(request)

    prompt = asyncio.run(scenario())
    assert "interior photograph of a kitchen in the Art Deco style" in prompt
    assert "of a The" not in prompt
