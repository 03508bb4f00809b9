"""``POST /v1/chat/completions``: structured output that validates against the schema sent."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from genjournal.testing.fake_openai.config import Request, tokens
from genjournal.testing.fake_openai.errors import Drop, Reply
from genjournal.testing.fake_openai.models import refuse_unknown
from genjournal.testing.fake_openai.schema import SchemaFaker, break_schema, response_schema

if TYPE_CHECKING:
    from genjournal.testing.fake_openai.server import FakeOpenAI


def answer(
    app: FakeOpenAI, req: Request, body: dict[str, Any], api_key: str | None
) -> tuple[dict[str, Any], dict[str, str], str]:
    """Answers a chat completion request; raises Reply/Drop for faults."""
    app.gate(api_key)
    model, messages, prompt = req.model, body.get("messages"), req.prompt
    if not model:
        raise Reply(400, "you must provide a model parameter", outcome="400", param="model")
    refuse_unknown(str(model), app.extra_models)
    if not isinstance(messages, list) or not messages:
        raise Reply(400, "[] is too short - 'messages'", outcome="400", param="messages")
    schema, schema_name = response_schema(
        body.get("response_format"), fine_tuned=str(model).startswith("ft:")
    )
    fault, headers = app.decide(req)
    if fault is not None:
        app.error_fault(fault, req, headers)
    value: Any
    if schema is not None:
        value = SchemaFaker(schema, req.rng, prompt).generate()
        if fault == "schema":
            value = break_schema(value)
    else:
        value = None
    if value is None:
        text = f"A considered answer about {SchemaFaker({}, req.rng, prompt).subject}."
    else:
        text = json.dumps(value, ensure_ascii=False)
    content: str | None = text
    finish, refusal = "stop", None
    if fault == "malformed":
        content = text[: max(1, len(text) * 2 // 3)]
    elif fault == "length":
        content, finish = text[: max(1, len(text) // 2)], "length"
    elif fault == "content_filter":
        content, finish = None, "content_filter"
    elif fault == "refusal":
        content, refusal = None, "I'm sorry, but I can't help with that request."
    produced = content or refusal or ""
    req.usage_in = tokens(prompt) + 4 * len(messages) + (tokens(json.dumps(schema)) // 2 if schema else 0)
    req.usage_out = tokens(produced)
    if fault == "length" and isinstance(body.get("max_completion_tokens"), int):
        req.usage_out = int(body["max_completion_tokens"])
    app.take_tokens(req, req.usage_in + req.usage_out, headers)
    reply = {
        "id": f"chatcmpl-{req.rng.getrandbits(96):024x}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": content,
                    "refusal": refusal,
                    "annotations": [],
                },
                "logprobs": None,
                "finish_reason": finish,
            }
        ],
        "usage": {
            "prompt_tokens": req.usage_in,
            "completion_tokens": req.usage_out,
            "total_tokens": req.usage_in + req.usage_out,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
        "service_tier": "default",
        "system_fingerprint": f"fp_fake_{schema_name or 'text'}"[:32],
    }
    if fault == "hang":
        raise Drop("timeout", fault, app.hang_s)
    app.delay(req)
    outcome = fault if fault in ("malformed", "schema", "refusal", "length", "content_filter") else "ok"
    return reply, headers, outcome
