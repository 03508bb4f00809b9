"""The fake OpenAI server: honest replies, real PNGs, faults, rate limits and its ledger."""

from __future__ import annotations

import base64
import http.client
import json
import re
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zlib
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field

from genjournal.testing.fake_openai import FakeOpenAI, SchemaFaker, go_duration, strict_schema_problem
from tests.conftest import TEST_API_KEY

ROOT = Path(__file__).resolve().parents[3]


def post(
    server: FakeOpenAI,
    path: str,
    body: dict[str, Any],
    *,
    key: str | None = TEST_API_KEY,
    step: str | None = None,
) -> tuple[int, dict[str, str], Any]:
    """Posts JSON to the server with urllib; returns status, headers and the decoded body."""
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    if step is not None:
        headers["X-Genjournal-Step"] = step
    request = urllib.request.Request(server.url + path, json.dumps(body).encode(), headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as reply:
            return reply.status, dict(reply.headers), json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def chat_body(
    schema: dict[str, Any], prompt: str = 'Style "Art Deco"', name: str = "Answer"
) -> dict[str, Any]:
    """Returns a strict structured-output chat request."""
    return {
        "model": "gpt-5.4-mini",
        "messages": [{"role": "user", "content": prompt}],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": name, "schema": schema, "strict": True},
        },
    }


def strict_schema(model: type[BaseModel]) -> dict[str, Any]:
    """Returns the schema the openai SDK would send for a model."""
    from openai.lib._pydantic import to_strict_json_schema

    return to_strict_json_schema(model)


class Swatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    hex: str = Field(pattern=r"^#[0-9a-fA-F]{6}$")


class Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    language: Literal["en", "fr", "de"]
    title: str
    score: int = Field(ge=1, le=5)


class Catalogue(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(pattern=r"^[A-Z]{3}-\d{4}$")
    swatch: Swatch
    entries: list[Entry] = Field(min_length=3, max_length=3)
    materials: list[str]
    note: str | None
    ratio: float
    active: bool


def decode_png(data: bytes) -> tuple[int, int, bytes]:
    """Decodes an 8-bit RGB PNG (checking every CRC); returns width, height and raw rows."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, width, height, idat = 8, 0, 0, b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, chunk = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + chunk)
        if kind == b"IHDR":
            width, height = struct.unpack(">II", chunk[:8])
            assert chunk[8:10] == b"\x08\x02"
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw = zlib.decompress(idat)
    assert len(raw) == height * (1 + 3 * width)
    return width, height, raw


def test_chat_reply_validates_against_the_schema_sent() -> None:
    """A structured reply validates against the request's schema ($defs, enums, patterns)."""
    with FakeOpenAI(seed=3) as server:
        status, headers, body = post(server, "/v1/chat/completions", chat_body(strict_schema(Catalogue)))
    assert status == 200
    message = body["choices"][0]["message"]
    parsed = Catalogue.model_validate_json(message["content"])
    assert [e.language for e in parsed.entries] == ["en", "fr", "de"]
    assert re.fullmatch(r"#[0-9a-fA-F]{6}", parsed.swatch.hex)
    assert (
        body["usage"]["total_tokens"] == body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"]
    )
    assert body["id"].startswith("chatcmpl-")
    assert headers["x-request-id"].startswith("req_")
    assert headers["x-ratelimit-limit-requests"].isdigit()


def test_schema_faker_uses_the_prompt_phrases() -> None:
    """Generated names come from the prompt's quoted phrases, so text reads plausibly."""
    import random

    value = SchemaFaker(strict_schema(Swatch), random.Random(1), 'Room "Japandi Kitchen"').generate()
    assert Swatch.model_validate(value)
    text = SchemaFaker(
        {"type": "object", "properties": {"name": {"type": "string"}}},
        random.Random(1),
        'Style "Japandi"',
    ).generate()
    assert text == {"name": "Japandi"}


def test_non_strict_schema_is_refused_like_the_real_api() -> None:
    """A strict schema without additionalProperties false or with optional keys gets a 400."""
    loose = {"type": "object", "properties": {"a": {"type": "string"}}, "required": []}
    assert "additionalProperties" in (strict_schema_problem(loose) or "")
    assert "Missing 'a'" in (strict_schema_problem({**loose, "additionalProperties": False}) or "")
    with FakeOpenAI() as server:
        status, _, body = post(server, "/v1/chat/completions", chat_body(loose))
    assert status == 400
    assert body["error"]["code"] == "invalid_json_schema"


def test_images_are_real_distinct_pngs_honouring_n_and_size() -> None:
    """Each image is a valid PNG shaped like the requested size; no two share pixels."""
    with FakeOpenAI(seed=1, image_px=48) as server:
        body = {
            "model": "gpt-image-2",
            "prompt": "A calm room in #336699",
            "n": 2,
            "size": "1536x1024",
        }
        status, _, first = post(server, "/v1/images/generations", body)
        _, _, second = post(server, "/v1/images/generations", body)
    assert status == 200
    assert len(first["data"]) == 2
    pngs = [base64.b64decode(d["b64_json"]) for d in first["data"] + second["data"]]
    assert len(set(pngs)) == 4
    width, height, raw = decode_png(pngs[0])
    assert (width, height) == (48, 32)
    assert bytes((0x33, 0x66, 0x99)) in raw  # the prompt's colour is painted
    assert first["usage"]["output_tokens"] > 0
    assert first["size"] == "1536x1024"


def test_response_format_is_refused_for_gpt_image_models_only() -> None:
    """GPT image models reject response_format with a 400; DALL·E models accept it."""
    with FakeOpenAI(extra_models=["dall-e-3"]) as server:  # retired, served here for its rules
        status, _, body = post(
            server,
            "/v1/images/generations",
            {"model": "gpt-image-2", "prompt": "x", "response_format": "b64_json"},
        )
        dalle, _, reply = post(
            server,
            "/v1/images/generations",
            {"model": "dall-e-3", "prompt": "x", "response_format": "b64_json"},
        )
    assert (status, body["error"]["param"]) == (400, "response_format")
    assert dalle == 200
    assert "usage" not in reply


def test_rate_limit_mode_refuses_past_the_limit_with_openai_headers() -> None:
    """Past the limit the server answers 429 with retry-after and accurate x-ratelimit headers."""
    with FakeOpenAI(text={"rpm": 120}) as server:  # 2 per second, a burst of 2
        replies = [post(server, "/v1/chat/completions", chat_body(strict_schema(Swatch))) for _ in range(3)]
    (s1, h1, _), (s2, h2, _), (s3, h3, b3) = replies
    assert (s1, s2, s3) == (200, 200, 429)
    assert h1["x-ratelimit-limit-requests"] == "120"
    assert (h1["x-ratelimit-remaining-requests"], h2["x-ratelimit-remaining-requests"]) == (
        "1",
        "0",
    )
    assert re.fullmatch(r"\d+ms|\d+(\.\d+)?s", h2["x-ratelimit-reset-requests"])
    assert 0 < int(h3["retry-after-ms"]) <= 500
    assert h3["retry-after"] == "1"
    assert b3["error"]["code"] == "rate_limit_exceeded"


def test_go_duration_matches_openai_reset_format() -> None:
    """Reset durations read like OpenAI's: 120ms, 1s, 1.5s, 6m0s."""
    assert [go_duration(s) for s in (0, 0.12, 1, 1.5, 360, 3725)] == [
        "0s",
        "120ms",
        "1s",
        "1.5s",
        "6m0s",
        "1h2m5s",
    ]


def test_rules_match_step_header_or_prompt_and_can_expire() -> None:
    """A rule forces its fault on matching requests only, for as many times as it is given."""
    schema = strict_schema(Swatch)
    with FakeOpenAI(rules=[{"match": "living-room", "fault": "500"}]) as server:
        server.add_rule("Wabi", "429", times=1)
        hit = post(server, "/v1/chat/completions", chat_body(schema), step="style:a/room:living-room")[0]
        miss = post(server, "/v1/chat/completions", chat_body(schema), step="style:a/room:kitchen")[0]
        once = [
            post(server, "/v1/chat/completions", chat_body(schema, 'Style "Wabi Sabi"'))[0] for _ in range(2)
        ]
        steps = [e.step for e in server.ledger()]
    assert (hit, miss, once) == (500, 200, [429, 200])
    assert steps[:2] == ["style:a/room:living-room", "style:a/room:kitchen"]


def test_outage_drops_every_connection_for_its_window() -> None:
    """An outage drops every API connection (control endpoints stay up), then heals."""
    with FakeOpenAI() as server:
        server.outage(0.3)
        with pytest.raises((http.client.RemoteDisconnected, ConnectionError, urllib.error.URLError)):
            post(server, "/v1/images/generations", {"model": "gpt-image-2", "prompt": "x"})
        with urllib.request.urlopen(server.url + "/_health", timeout=5) as reply:
            assert json.loads(reply.read())["status"] == "ok"
        time.sleep(0.35)
        assert post(server, "/v1/images/generations", {"model": "gpt-image-2", "prompt": "x"})[0] == 200
        outcomes = [(e.outcome, e.billable) for e in server.ledger()]
    assert outcomes == [("dropped", False), ("ok", True)]


def test_bad_key_gets_401_echoing_a_masked_key() -> None:
    """A configured bad key is refused with the real API's message, which shows a masked key."""
    with FakeOpenAI(bad_keys=[TEST_API_KEY]) as server:
        status, _, body = post(server, "/v1/images/generations", {"model": "gpt-image-2", "prompt": "x"})
        missing = post(server, "/v1/images/generations", {"model": "gpt-image-2", "prompt": "x"}, key=None)[0]
    assert (status, missing) == (401, 401)
    message = body["error"]["message"]
    assert TEST_API_KEY not in message
    assert "sk-" in message
    assert TEST_API_KEY[-4:] in message


def test_ledger_marks_billable_outcomes_over_http() -> None:
    """GET /_ledger lists every request; only replies the API would charge are billable."""
    schema = strict_schema(Swatch)
    with FakeOpenAI() as server:
        for fault in ("refusal", "500", "length", "malformed"):
            server.add_rule("", fault, times=1)
            post(server, "/v1/chat/completions", chat_body(schema), step=f"s/{fault}")
        urllib.request.urlopen(
            urllib.request.Request(
                server.url + "/_faults",
                json.dumps({"text": {"latency_ms": 1}}).encode(),
                method="POST",
            ),
            timeout=5,
        )
        with urllib.request.urlopen(server.url + "/_ledger", timeout=5) as reply:
            entries = json.loads(reply.read())
        latency = server.endpoints["text"].latency_ms
    summary = [(e["step"], e["status"], e["outcome"], e["billable"]) for e in entries]
    assert summary == [
        ("s/refusal", 200, "refusal", True),
        ("s/500", 500, "500", False),
        ("s/length", 200, "length", True),
        ("s/malformed", 200, "malformed", True),
    ]
    assert all(e["output_tokens"] for e in entries if e["billable"])
    assert latency == 1


def test_same_seed_gives_the_same_replies_and_faults() -> None:
    """Two servers with one seed answer the same requests identically, faults included."""

    def session(seed: int) -> list[tuple[int, str | None]]:
        with FakeOpenAI(seed=seed, text={"faults": {"500": 0.3, "refusal": 0.2}}) as server:
            out = []
            for i in range(12):
                status, _, body = post(
                    server, "/v1/chat/completions", chat_body(strict_schema(Swatch)), step=f"s/{i}"
                )
                out.append((status, body["choices"][0]["message"]["content"] if status == 200 else None))
            return out

    assert session(5) == session(5)
    assert session(5) != session(6)


@pytest.mark.timeout(30)
def test_runs_as_a_subprocess_printing_its_url() -> None:
    """``python -m genjournal.testing.fake_openai --rules JSON`` prints its URL and applies the rules."""
    rules = json.dumps({"rules": [{"match": "", "fault": "500"}]})
    proc = subprocess.Popen(
        [sys.executable, "-m", "genjournal.testing.fake_openai", "--port", "0", "--rules", rules],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/v1", base_url)
        request = urllib.request.Request(
            base_url + "/images/generations",
            json.dumps({"model": "gpt-image-2", "prompt": "x"}).encode(),
            {"Authorization": "Bearer k", "Content-Type": "application/json"},
        )
        with pytest.raises(urllib.error.HTTPError) as failure:
            urllib.request.urlopen(request, timeout=5)
        assert failure.value.code == 500
    finally:
        proc.terminate()
        assert proc.wait(10) == 0


def test_the_model_list_needs_a_key_and_lists_only_served_models() -> None:
    """`GET /v1/models`: 401 without a good key, as the API; with one, every served model and no retired one."""
    import openai

    with FakeOpenAI(bad_keys=["sk-revoked"]) as server:
        listed = openai.OpenAI(api_key="sk-good", base_url=server.base_url, max_retries=0).models.list()
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(api_key="sk-revoked", base_url=server.base_url, max_retries=0).models.list()
        assert server.ledger() == []  # free: never in the billing ledger
    names = {model.id for model in listed.data}
    assert {"gpt-5.4-mini", "gpt-image-2"} <= names
    assert not names & {"dall-e-3", "dall-e-2", "gpt-image-1"}
