"""Records what a real LiteLLM proxy answers, in front of the fake server, for unit tests.

    GENJOURNAL_LITELLM=/path/to/litellm python scripts/record_gateway_replies.py

Starts the fake OpenAI server and a LiteLLM proxy forwarding to it (default retries),
sends one chat and one image request per upstream behaviour (success, 429, 500, a reset
connection, quota, billing, an unverified organization), plus an unknown model, the
model list and a proxy-enforced per-model limit, and writes every reply the client saw
(status, headers, body; dates and lengths dropped), with how many upstream requests the
proxy made for it, to ``tests/fixtures/gateway/litellm.json``.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from genjournal.testing.fake_openai import FakeOpenAI
from genjournal.testing.litellm_proxy import MASTER_KEY, LiteLLMProxy

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "gateway" / "litellm.json"
DROPPED = {"date", "content-length", "llm_provider-date", "llm_provider-content-length", "vary"}
FAULTS = ("429", "500", "drop", "quota", "billing_not_active", "billing_hard_limit", "unverified")
CHAT = {"model": "gpt-5.4-mini", "messages": [{"role": "user", "content": "A kitchen in the Art Deco style"}]}
IMAGE = {"model": "gpt-image-2", "prompt": "an Art Deco kitchen", "size": "1024x1024", "quality": "low"}


def call(base: str, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
    """Sends one request to the proxy; returns the reply as recorded."""
    request = urllib.request.Request(  # noqa: S310 - the proxy's own http URL
        base + path,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {MASTER_KEY}", "Content-Type": "application/json"},
        method="GET" if body is None else "POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as reply:  # noqa: S310
            status, headers, raw = reply.status, reply.headers, reply.read()
    except urllib.error.HTTPError as exc:
        status, headers, raw = exc.code, exc.headers, exc.read()
    parsed = json.loads(raw)
    if isinstance(parsed, dict):
        for item in parsed.get("data") or ():
            if isinstance(item, dict) and "b64_json" in item:
                item["b64_json"] = item["b64_json"][:32] + "…"  # a PNG; the rest is not needed
    kept = {k.lower(): v for k, v in headers.items() if k.lower() not in DROPPED}
    return {"path": path, "status": status, "headers": kept, "body": parsed}


def main() -> int:
    scenarios: dict[str, Any] = {}
    with FakeOpenAI() as fake:
        # Two deployments of gpt-5.4: after failures the proxy cools both down and answers
        # with its own 429 ("No deployments available"), sending nothing upstream.
        models: dict[str, Any] = {"gpt-5.4-mini": {}, "gpt-image-2": {}, "gpt-5.4": [{}, {}]}
        routing = {"allowed_fails": 0, "cooldown_time": 30}
        with LiteLLMProxy(fake.base_url, models, router_settings=routing) as proxy:
            base = proxy.base_url.removesuffix("/v1")

            def record(name: str, path: str, body: dict[str, Any] | None) -> None:
                before = len(fake.ledger())
                reply = call(base, path, body)
                reply["upstream_requests"] = len(fake.ledger()) - before
                scenarios[name] = reply
                print(f"{name}: {reply['status']} ({reply['upstream_requests']} upstream)", file=sys.stderr)

            record("models", "/v1/models", None)
            record("chat_ok", "/v1/chat/completions", CHAT)
            record("image_ok", "/v1/images/generations", IMAGE)
            record("chat_unknown_model", "/v1/chat/completions", {**CHAT, "model": "gpt-no-such"})
            for fault in FAULTS:
                fake.clear_faults()
                fake.set_endpoint("text", faults={fault: 1.0})
                fake.set_endpoint("image", faults={fault: 1.0})
                record(f"chat_{fault}", "/v1/chat/completions", CHAT)
                record(f"image_{fault}", "/v1/images/generations", IMAGE)
            fake.clear_faults()
            fake.set_endpoint("text", faults={"500": 1.0})
            record("chat_cooling_down", "/v1/chat/completions", {**CHAT, "model": "gpt-5.4"})
            record("chat_no_deployments", "/v1/chat/completions", {**CHAT, "model": "gpt-5.4"})
            fake.clear_faults()
            litellm_version = scenarios["chat_ok"]["headers"].get("x-litellm-version", "unknown")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "recorded_with": f"litellm {litellm_version} (proxy, default retries) in front of the fake server",
        "command": "GENJOURNAL_LITELLM=/path/to/litellm python scripts/record_gateway_replies.py",
        "scenarios": scenarios,
    }
    text = json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False)
    OUT.write_text(text + "\n", encoding="utf-8")
    print(f"wrote {OUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
