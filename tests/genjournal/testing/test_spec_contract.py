"""Every request the provider sends and every reply the fake returns, held against OpenAI's spec.

The spec is a vendored subset of ``openai/openai-openapi`` (``tests/fixtures/openapi/
subset.json``; its ``source`` names the commit; ``scripts/vendor_openapi_subset.py``
refreshes it). A real `genjournal run` goes through the real `openai` client against the
fake server with faults on, so error replies are checked too; the validator below covers
the parts of OpenAPI 3 these schemas use (types, nullable, enum, required, properties,
additionalProperties, items, allOf/anyOf/oneOf, $ref, numeric bounds).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from genjournal.testing.fake_openai import FakeOpenAI
from tests.generator.test_run import write_plan
from tests.generator.test_run_openai import ROOMS_PLAN, run

pytestmark = pytest.mark.slow

SUBSET = json.loads((Path(__file__).parents[2] / "fixtures" / "openapi" / "subset.json").read_text())
SCHEMAS: dict[str, Any] = SUBSET["schemas"]
ENDPOINTS = {
    "/v1/chat/completions": ("CreateChatCompletionRequest", "CreateChatCompletionResponse"),
    "/v1/images/generations": ("CreateImageRequest", "ImagesResponse"),
}
_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}


def problems(value: Any, schema: dict[str, Any], where: str = "$") -> list[str]:
    """Returns where ``value`` breaks ``schema`` (empty when it conforms)."""
    if "$ref" in schema:
        return problems(value, SCHEMAS[schema["$ref"].rsplit("/", 1)[1]], where)
    if value is None and (schema.get("nullable") or schema.get("type") == "null"):
        return []
    found: list[str] = []
    for sub in schema.get("allOf", ()):
        found += problems(value, sub, where)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            branches = [problems(value, sub, where) for sub in schema[key]]
            if all(branches):
                found.append(f"{where}: matches no branch of {key} ({min(branches, key=len)[0]})")
    kind = schema.get("type")
    if kind is not None:
        kinds = kind if isinstance(kind, list) else [kind]
        if value is None:
            if "null" not in kinds:
                found.append(f"{where}: null where {kinds} is expected")
            return found
        ok = any(
            isinstance(value, _TYPES.get(k, ()))
            and not (k in ("integer", "number") and isinstance(value, bool))
            for k in kinds
        )
        if not ok:
            return [*found, f"{where}: {type(value).__name__} where {kinds} is expected"]
    if "enum" in schema and value not in schema["enum"]:
        found.append(f"{where}: {value!r} is not one of {schema['enum']}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            found.append(f"{where}: {value} < {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            found.append(f"{where}: {value} > {schema['maximum']}")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for key in schema.get("required", ()):
            if key not in value:
                found.append(f"{where}: required {key!r} is missing")
        for key, item in value.items():
            if key in props:
                found += problems(item, props[key], f"{where}.{key}")
            elif schema.get("additionalProperties") is False:
                found.append(f"{where}: {key!r} is not a known property")
            elif isinstance(schema.get("additionalProperties"), dict):
                found += problems(item, schema["additionalProperties"], f"{where}.{key}")
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            found += problems(item, schema["items"], f"{where}[{i}]")
    return found


def parameters(name: str) -> set[str]:
    """Returns every top-level property a request schema names (through allOf and $ref)."""
    schema = SCHEMAS[name]
    names = set(schema.get("properties", {}))
    for sub in schema.get("allOf", ()):
        if "$ref" in sub:
            names |= parameters(sub["$ref"].rsplit("/", 1)[1])
        names |= set(sub.get("properties", {}))
    return names


@pytest.fixture(scope="module")
def exchanges(tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    """Runs a small plan through the real client against a recording fake with faults on."""
    root = tmp_path_factory.mktemp("contract")
    faults = {"429": 0.1, "500": 0.1, "malformed": 0.05}
    with FakeOpenAI(
        seed=3,
        record_exchanges=True,
        text={"faults": {**faults, "refusal": 0.05, "length": 0.05, "schema": 0.05}},
        image={"faults": {**faults, "content_filter": 0.05}, "retry_after_header": "none"},
    ) as server:
        done = run(server, root / "data", write_plan(root, ROOMS_PLAN), "--max-attempts", "6")
        assert done.returncode in (0, 1), done.stderr
        kept = server.exchanges()
    assert {e.status for e in kept} >= {200, 429, 500}
    assert {e.path for e in kept} == set(ENDPOINTS)
    return kept


def test_the_vendored_spec_names_its_source() -> None:
    """The subset records the repository and commit it was cut from."""
    source = SUBSET["source"]
    assert source["repository"] == "openai/openai-openapi"
    assert len(source["commit"]) == 40


def test_every_request_the_provider_sends_conforms_to_the_spec(exchanges: list[Any]) -> None:
    """Chat and image request bodies validate and use only parameters the spec defines."""
    for exchange in exchanges:
        request_schema, _ = ENDPOINTS[exchange.path]
        assert problems(exchange.request, SCHEMAS[request_schema]) == [], exchange.request
        assert set(exchange.request) <= parameters(request_schema)


def test_every_reply_the_fake_returns_has_the_spec_shape(exchanges: list[Any]) -> None:
    """200 replies validate as CreateChatCompletionResponse / ImagesResponse; errors as ErrorResponse."""
    for exchange in exchanges:
        _, reply_schema = ENDPOINTS[exchange.path]
        schema = SCHEMAS[reply_schema if exchange.status == 200 else "ErrorResponse"]
        assert problems(exchange.reply, schema) == [], (exchange.status, exchange.reply)


def test_the_validator_refuses_what_the_spec_refuses() -> None:
    """A wrong type, a missing required key and an unknown enum value are each caught."""
    image = SCHEMAS["CreateImageRequest"]
    assert problems({"prompt": "x"}, image) == []
    assert problems({}, image) != []
    assert problems({"prompt": 3}, image) != []
    assert problems({"prompt": "x", "quality": "ultra"}, image) != []
    reply = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-5.4-mini",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "logprobs": None,
                "message": {"role": "assistant", "content": "{}", "refusal": None},
            }
        ],
    }
    chat = SCHEMAS["CreateChatCompletionResponse"]
    assert problems(reply, chat) == []
    assert problems({k: v for k, v in reply.items() if k != "choices"}, chat) != []
    assert problems({**reply, "choices": [{**reply["choices"][0], "finish_reason": "done"}]}, chat) != []
    assert problems({"error": {"message": "m", "type": "t"}}, SCHEMAS["ErrorResponse"]) != []  # no param/code
    assert "response_format" in parameters("CreateChatCompletionRequest")
    assert "temperature_of_mars" not in parameters("CreateChatCompletionRequest")
