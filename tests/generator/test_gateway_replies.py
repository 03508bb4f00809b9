"""What a LiteLLM proxy really answers, read by the provider as it reads OpenAI (issue 17).

``tests/fixtures/gateway/litellm.json`` holds replies a real LiteLLM proxy (1.108.7)
sent in front of the fake server (``scripts/record_gateway_replies.py`` records them).
A small server on 127.0.0.1 replays each one to the real ``openai`` client inside the
real provider, and the tests check what the provider makes of it: the request id and
where it was found, the error kind (retry / fail the step / stop the run), the wait it
asks for, and that the gateway is recognised.
"""

from __future__ import annotations

import asyncio
import json
import threading
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from generator.providers.base import ImageRequest, ProviderError, StyleRequest
from generator.providers.openai import OpenAIProvider
from generator.providers.openai.errors import classify
from generator.providers.openai.gateway import (
    LITELLM,
    GatewayWarning,
    detect_from_model_list,
    detect_gateway,
    request_id,
)
from generator.providers.openai.provider import OpenAISettings
from genjournal.testing import samples
from journal.events import CatalogEntry

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "gateway" / "litellm.json"
SCENARIOS: dict[str, dict[str, Any]] = json.loads(FIXTURE.read_text(encoding="utf-8"))["scenarios"]


class _Replay(BaseHTTPRequestHandler):
    """Answers every request with the one recorded reply the server holds."""

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        reply = self.server.reply  # type: ignore[attr-defined]
        body = json.dumps(reply["body"]).encode()
        self.send_response(reply["status"])
        for name, value in reply["headers"].items():
            if name not in ("connection", "content-type"):
                self.send_header(name, value)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = _answer
    do_POST = _answer

    def log_message(self, format: str, *args: Any) -> None:
        """Keeps the test output quiet."""


@pytest.fixture
def replay() -> Iterator[ThreadingHTTPServer]:
    """A server on 127.0.0.1 answering with ``server.reply``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Replay)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def call(server: ThreadingHTTPServer, scenario: str) -> tuple[ProviderError, OpenAIProvider]:
    """Sends the scenario's kind of request through the provider; returns what it raised."""
    server.reply = SCENARIOS[scenario]  # type: ignore[attr-defined]
    base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    provider = OpenAIProvider(
        OpenAISettings(image_model="gpt-image-2", image_size="1024x1024", image_quality="low"),
        api_key="sk-test-gateway",
        base_url=base_url,
    )
    style = CatalogEntry(slug="art-deco", name="Art Deco")

    async def attempt() -> ProviderError:
        try:
            if scenario.startswith("image_"):
                await provider.image(
                    ImageRequest(
                        subcategory=style,
                        style=samples.style_created("art-deco").data,
                        index=0,
                        stream="style:art-deco",
                        step="image:style:0",
                    )
                )
            else:
                await provider.style(
                    StyleRequest(subcategory=style, languages=("en",), stream="style:art-deco")
                )
        except ProviderError as exc:
            return exc
        finally:
            await provider.aclose()
        raise AssertionError(f"{scenario}: the recorded reply was accepted")

    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        return asyncio.run(attempt()), provider


@pytest.mark.parametrize(
    ("scenario", "kind"),
    [
        ("chat_429", "rate_limited"),
        ("image_429", "rate_limited"),
        ("chat_no_deployments", "rate_limited"),
        ("chat_500", "server_error"),
        ("image_500", "server_error"),
        ("chat_drop", "connection"),
        ("image_drop", "connection"),
        ("chat_quota", "quota"),
        ("image_quota", "quota"),
        ("chat_billing_not_active", "billing"),
        ("image_billing_not_active", "billing"),
        ("chat_billing_hard_limit", "billing"),
        ("image_billing_hard_limit", "billing"),
        ("chat_unverified", "model_access"),
        ("image_unverified", "model_access"),
        ("chat_unknown_model", "settings"),
    ],
)
def test_a_gateway_error_is_classified_as_the_upstream_error_it_wraps(
    replay: ThreadingHTTPServer, scenario: str, kind: str
) -> None:
    """LiteLLM rewrites `code` to the status and wraps the message: the kind is still the upstream's."""
    error, provider = call(replay, scenario)
    assert error.kind == kind, error.message
    assert "\n" not in error.message  # the gateway's two-paragraph text, as one line
    assert "sk-test-gateway" not in error.message
    assert provider.gateway == LITELLM


@pytest.mark.parametrize(
    ("scenario", "wait_s", "limit"),
    [("chat_429", 1.0, 10000), ("image_429", 1.0, 10000), ("chat_no_deployments", 30.0, None)],
)
def test_a_gateway_429_says_how_long_to_wait(
    replay: ThreadingHTTPServer, scenario: str, wait_s: float, limit: int | None
) -> None:
    """The wait comes from `llm_provider-retry-after(-ms)`, `retry-after`, or the text; the limit from the text."""
    error, _ = call(replay, scenario)
    assert error.retry_after_s == pytest.approx(wait_s)
    if limit is None:
        assert error.rate is None or error.rate.limit_requests is None
    else:
        assert error.rate is not None and error.rate.limit_requests == limit


@pytest.mark.parametrize(
    ("scenario", "source"),
    [("chat_ok", "llm_provider-x-request-id"), ("image_ok", "x-litellm-call-id")],
)
def test_a_paid_reply_through_the_gateway_keeps_a_request_id(
    replay: ThreadingHTTPServer, scenario: str, source: str
) -> None:
    """Chat replies carry the upstream id under a prefixed name; image replies only the gateway's call id."""
    error, _ = call(replay, scenario)
    # The recorded bodies are not the job's structured output (or a whole PNG): the
    # attempt fails as billed, and the billed call carries the id.
    assert error.billed is not None
    recorded = SCENARIOS[scenario]["headers"][source]
    assert error.billed.request_id == recorded
    assert error.billed.request_id_source == source


def test_the_gateway_reports_its_own_retries_of_an_answered_call(replay: ThreadingHTTPServer) -> None:
    """`x-litellm-attempted-retries` is read into the call (0 here: the call succeeded first time)."""
    error, _ = call(replay, "chat_ok")
    assert error.billed is not None and error.billed.gateway_retries == 0


def test_every_recorded_reply_names_the_gateway_and_has_a_request_id() -> None:
    """Every LiteLLM reply (errors included) carries `x-litellm-call-id`: recognised, and an id found."""
    for name, reply in SCENARIOS.items():
        if name == "models":
            continue
        assert detect_gateway(reply["headers"]) == LITELLM, name
        found, source = request_id(reply["headers"], reply["body"])
        assert found and source, name


def test_the_proxy_retried_hidden_upstream_calls_the_warning_is_about() -> None:
    """At default settings LiteLLM sent 3 upstream requests per failed chat call and 9 per image call."""
    upstream = {name: reply["upstream_requests"] for name, reply in SCENARIOS.items()}
    assert upstream["chat_500"] == 3
    assert upstream["image_500"] == 9
    assert upstream["chat_ok"] == 1


def test_a_gateway_is_warned_about_once(replay: ThreadingHTTPServer) -> None:
    """Two replies through the gateway: one GatewayWarning naming the settings that stop its retries."""
    replay.reply = SCENARIOS["chat_500"]  # type: ignore[attr-defined]
    provider = OpenAIProvider(api_key="sk-test", base_url=f"http://127.0.0.1:{replay.server_address[1]}/v1")
    style = CatalogEntry(slug="art-deco", name="Art Deco")

    async def twice() -> None:
        for _ in range(2):
            with pytest.raises(ProviderError):
                await provider.style(
                    StyleRequest(subcategory=style, languages=("en",), stream="style:art-deco")
                )
        await provider.aclose()

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        asyncio.run(twice())
    gateway = [w for w in seen if issubclass(w.category, GatewayWarning)]
    assert len(gateway) == 1
    assert "router_settings.num_retries: 0" in str(gateway[0].message)
    assert "litellm_settings.num_retries: 0" in str(gateway[0].message)


def test_classify_reads_the_message_when_the_code_is_only_a_status() -> None:
    """A code of "429" with OpenAI's quota text is quota; with rate-limit text it is a rate limit."""
    quota = SCENARIOS["chat_quota"]["body"]["error"]
    assert quota["code"] == "429"
    assert classify(429, quota["code"], quota["type"], quota["message"]) == "quota"
    limited = SCENARIOS["chat_429"]["body"]["error"]
    assert classify(429, limited["code"], limited["type"], limited["message"]) == "rate_limited"


def test_the_model_list_probe_recognises_litellm_by_its_entries() -> None:
    """LiteLLM's `GET /models` carries no header of its own; its entries' extra fields name it."""
    reply = SCENARIOS["models"]
    assert detect_gateway(reply["headers"]) is None
    assert detect_from_model_list(reply["headers"], reply["body"]) == LITELLM
    openai_shaped = {
        "object": "list",
        "data": [{"id": "gpt-5.4-mini", "object": "model", "created": 1, "owned_by": "openai"}],
    }
    assert detect_from_model_list({}, openai_shaped) is None
