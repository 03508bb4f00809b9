"""Structured output: strict-schema checks and JSON that validates against the schema sent."""

from __future__ import annotations

import random
import re
import zlib
from typing import Any

from genjournal.testing.fake_openai.errors import Reply

# fmt: off
_COLOUR_NAMES = (
    "Burnished Ochre", "Sage Mist", "Midnight Teal", "Terracotta Clay", "Ivory Linen",
    "Smoked Plum", "Brass Gold", "Charcoal Slate", "Dusty Rose", "Forest Moss",
)
_VOCAB: dict[str, tuple[str, ...]] = {
    "material": ("oak", "walnut", "brass", "linen", "travertine", "rattan", "marble", "wool",
                 "terrazzo", "blackened steel", "boucle", "lacquer", "jute", "velvet"),
    "piece": ("low sofa", "sculptural armchair", "pendant lamp", "sideboard", "rug",
              "coffee table", "console", "daybed", "floor lamp", "bookcase", "bench"),
    "keyword": ("texture", "light", "symmetry", "warmth", "craft", "calm", "contrast",
                "geometry", "patina", "balance", "layering", "restraint"),
}
# fmt: on
_POETIC = (
    "{s} hums like late light on {m}, a quiet promise of {k}.",
    "In {s}, {m} and {k} meet the way a tide meets the shore.",
    "{s} is a held breath of {k}, traced in {m} and shadow.",
)
_FACTUAL = (
    "{s} favours {m}, clear lines and {k}; pieces are chosen for proportion and use.",
    "Typical of {s}: {m} surfaces, layered lighting and an emphasis on {k}.",
    "{s} combines {m} with a restrained palette; {k} guides the layout.",
)


def _singular(name: str) -> str:
    base = name.rsplit("_", 1)[-1]
    if base.endswith("ies"):
        return base[:-3] + "y"
    return base[:-1] if base.endswith("s") else base


# How a schema sent without pattern/minItems/maxItems (fine-tuned models) states them.
_ITEMS_HINT = re.compile(r"\((?:exactly (\d+)|(\d+) to (\d+)) items?\)")
_PATTERN_HINT = re.compile(r"\(matching (\S+)\)")


def _sample_regex(pattern: str, rng: random.Random) -> str | None:
    """Returns a string matching the pattern (a common subset of regex), or None."""
    try:
        # Private modules, but stable since 3.11: the parser the re module itself uses.
        import re._constants as c  # type: ignore[import-not-found, unused-ignore]
        import re._parser as p  # type: ignore[import-not-found, unused-ignore]
    except ImportError:  # pragma: no cover - other interpreters
        return None

    def pick_in(items: list[Any]) -> str:
        """Returns one character from a character class."""
        choices: list[int] = []
        negate = False
        for op, arg in items:
            if op is c.NEGATE:
                negate = True
            elif op is c.LITERAL:
                choices.append(arg)
            elif op is c.RANGE:
                choices.extend(range(arg[0], min(arg[1], arg[0] + 200) + 1))
            elif op is c.CATEGORY:
                choices.extend(_category(arg))
        if negate:
            banned = set(choices)
            choices = [ch for ch in range(97, 123) if ch not in banned]
        return chr(rng.choice(choices)) if choices else "x"

    def _category(cat: Any) -> list[int]:
        if cat is c.CATEGORY_DIGIT:
            return list(range(48, 58))
        if cat is c.CATEGORY_SPACE:
            return [32]
        if cat is c.CATEGORY_WORD:
            return list(range(97, 123)) + list(range(48, 58))
        return list(range(97, 123))

    def gen(parsed: Any) -> str:
        """Returns a string for a parsed pattern."""
        out: list[str] = []
        for op, arg in parsed:
            if op is c.LITERAL:
                out.append(chr(arg))
            elif op is c.NOT_LITERAL:
                out.append("a" if arg != ord("a") else "b")
            elif op is c.ANY:
                out.append(rng.choice("abcdefgh"))
            elif op is c.IN:
                out.append(pick_in(arg))
            elif op is c.CATEGORY:
                out.append(chr(rng.choice(_category(arg))))
            elif op in (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", None)):
                low, high, sub = arg
                high = low + 4 if high is c.MAXREPEAT else high
                out.extend(gen(sub) for _ in range(rng.randint(low, max(low, min(high, low + 8)))))
            elif op is c.SUBPATTERN:
                out.append(gen(arg[-1]))
            elif op is c.BRANCH:
                out.append(gen(rng.choice(arg[1])))
            elif op is c.AT:
                continue
            else:
                raise ValueError(f"unsupported regex construct {op}")
        return "".join(out)

    try:
        candidate = gen(p.parse(pattern))
    except (ValueError, re.error):
        return None
    return candidate if re.search(pattern, candidate) else None


class SchemaFaker:
    """Generates a JSON value that validates against a (strict) JSON schema."""

    def __init__(self, root: dict[str, Any], rng: random.Random, prompt: str) -> None:
        self.root = root
        self.rng = rng
        phrases = re.findall(r'"([^"\n]{2,80})"', prompt)
        self.subject = " ".join(phrases[:2]) if phrases else "This interior"
        self.words = [w.lower() for w in re.findall(r"[A-Za-z]{4,}", " ".join(phrases))] or ["form"]

    def generate(self) -> Any:
        """Returns a value for the root schema."""
        return self._value(self.root, name="", path=(), index=0, depth=0, siblings={})

    def _resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        seen = 0
        while "$ref" in schema and seen < 32:
            ref = schema["$ref"]
            if not isinstance(ref, str) or not ref.startswith("#/"):
                raise ValueError(f"unsupported $ref {ref!r}")
            target: Any = self.root
            for part in ref[2:].split("/"):
                target = target[part]
            schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
            seen += 1
        return schema

    def _value(
        self,
        schema: dict[str, Any],
        *,
        name: str,
        path: tuple[str, ...],
        index: int,
        depth: int,
        siblings: dict[str, Any],
    ) -> Any:
        if depth > 12:
            raise ValueError("schema nests too deep")
        schema = self._resolve(schema)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            # Inside an array, items take the enum values in turn (one per language…).
            return schema["enum"][index % len(schema["enum"])]
        for key in ("anyOf", "oneOf"):
            if key in schema:
                variants = [self._resolve(v) for v in schema[key]]
                chosen = next((v for v in variants if v.get("type") != "null"), variants[0])
                return self._value(
                    chosen, name=name, path=path, index=index, depth=depth + 1, siblings=siblings
                )
        if "allOf" in schema:
            merged: dict[str, Any] = {}
            for part in schema["allOf"]:
                merged.update(self._resolve(part))
            return self._value(merged, name=name, path=path, index=index, depth=depth + 1, siblings=siblings)
        kind = schema.get("type", "object" if "properties" in schema else "string")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind == "object":
            obj: dict[str, Any] = {}
            for key, sub in (schema.get("properties") or {}).items():
                obj[key] = self._value(
                    sub, name=key, path=(*path, key), index=index, depth=depth + 1, siblings=obj
                )
            return obj
        if kind == "array":
            # A model reads the description too: "(exactly 2 items)", "(3 to 8 items)".
            hinted = _ITEMS_HINT.search(str(schema.get("description", "")))
            hint_low = int(hinted.group(1) or hinted.group(2)) if hinted else 0
            hint_high = int(hinted.group(3) or hinted.group(1)) if hinted else 5
            low = int(schema.get("minItems", hint_low))
            high = int(schema.get("maxItems", max(low, hint_high)))
            count = max(low, min(high, 3 + self.rng.randint(0, 2)))
            item_name = _singular(name)
            items = schema.get("items", {})
            return [
                self._value(items, name=item_name, path=path, index=i, depth=depth + 1, siblings={})
                for i in range(count)
            ]
        if kind == "integer":
            return self.rng.randint(int(schema.get("minimum", 1)), int(schema.get("maximum", 10)))
        if kind == "number":
            return round(
                self.rng.uniform(float(schema.get("minimum", 0)), float(schema.get("maximum", 1))),
                3,
            )
        if kind == "boolean":
            return self.rng.random() < 0.5
        if kind == "null":
            return None
        return self._string(schema, name=name, path=path, index=index, siblings=siblings)

    def _string(
        self,
        schema: dict[str, Any],
        *,
        name: str,
        path: tuple[str, ...],
        index: int,
        siblings: dict[str, Any],
    ) -> str:
        pattern = schema.get("pattern")
        hinted = _PATTERN_HINT.search(str(schema.get("description", "")))
        if pattern is None and hinted is not None:
            pattern = hinted.group(1)
        if isinstance(pattern, str):
            sampled = _sample_regex(pattern, self.rng)
            if sampled is not None:
                return sampled
        fmt = schema.get("format")
        if fmt == "date-time":
            return "2026-01-01T00:00:00Z"
        if fmt == "date":
            return "2026-01-01"
        language = siblings.get("language")
        tag = f"[{language}] " if isinstance(language, str) and language != "en" else ""
        lowered = name.lower()
        in_colour = any(part in ("color", "colour") for part in path)
        m = self.rng.choice(_VOCAB["material"])
        k = self.rng.choice(self.words + list(_VOCAB["keyword"]))
        if in_colour and lowered == "name":
            return self.rng.choice(_COLOUR_NAMES)
        if lowered in ("name", "title"):
            return f"{tag}{self.subject}"
        if "poetic" in lowered:
            return tag + self.rng.choice(_POETIC).format(s=self.subject, m=m, k=k)
        if "factual" in lowered:
            return tag + self.rng.choice(_FACTUAL).format(s=self.subject, m=m, k=k)
        if "approach" in lowered:
            return f"{self.subject}, read through {k} and {m}: calm, tactile and deliberate."
        for vocab, words in _VOCAB.items():
            if vocab in lowered:
                # A fixed offset per list, then consecutive words: items of one array differ.
                offset = zlib.crc32(f"{self.subject}|{lowered}".encode()) % len(words)
                return words[(offset + index) % len(words)]
        if lowered in ("language", "lang", "locale"):
            return "en"
        label = lowered.replace("_", " ") or "text"
        return f"{tag}{label.capitalize()} for {self.subject}: {m} and {k}."


#: the keywords a strict schema may use (OpenAI's Structured Outputs guide, "Supported schemas")
STRICT_KEYWORDS = frozenset(
    {
        "type", "properties", "required", "additionalProperties", "items", "anyOf", "$ref",
        "$defs", "definitions", "enum", "const", "description", "title",
        "pattern", "format",  # strings
        "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum",  # numbers
        "minItems", "maxItems",  # arrays
    }
)  # fmt: skip
#: keywords fine-tuned models do not take in a strict schema
FINE_TUNED_REFUSED = frozenset({"pattern", "minItems", "maxItems"})
MAX_NESTING = 10
MAX_PROPERTIES = 5000
MAX_ENUM_VALUES = 1000
#: a single string enum with more than 250 values may total at most this many characters
MAX_ENUM_CHARS = 15_000


def strict_schema_problem(schema: dict[str, Any], *, fine_tuned: bool = False) -> str | None:
    """Returns why a schema breaks OpenAI's strict-mode rules, or None when it complies."""
    counts = {"properties": 0, "enum": 0}

    def walk(node: Any, where: tuple[str, ...], depth: int) -> str | None:
        """Returns the first strict-mode problem under a node."""
        if not isinstance(node, dict):
            return None
        for key in node:
            if key not in STRICT_KEYWORDS:
                return f"In context={where}, '{key}' is not permitted."
            if fine_tuned and key in FINE_TUNED_REFUSED:
                return f"In context={where}, '{key}' is not permitted for fine-tuned models."
        if "$ref" in node and len(node) > 1:
            others = sorted(k for k in node if k != "$ref")
            return f"In context={where}, $ref cannot have keywords {{{', '.join(repr(k) for k in others)}}}."
        if depth > MAX_NESTING:
            return f"In context={where}, the schema exceeds the maximum nesting depth of {MAX_NESTING}."
        if isinstance(node.get("enum"), list):
            values = node["enum"]
            counts["enum"] += len(values)
            if counts["enum"] > MAX_ENUM_VALUES:
                return f"In context={where}, the schema has more than {MAX_ENUM_VALUES} enum values."
            text = [v for v in values if isinstance(v, str)]
            if len(text) > 250 and sum(map(len, text)) > MAX_ENUM_CHARS:
                return (
                    f"In context={where}, an enum with more than 250 values may total at most "
                    f"{MAX_ENUM_CHARS} characters."
                )
        if node.get("type") == "object" or "properties" in node:
            props = node.get("properties") or {}
            counts["properties"] += len(props)
            if counts["properties"] > MAX_PROPERTIES:
                return f"the schema has more than {MAX_PROPERTIES} object properties."
            if node.get("additionalProperties") is not False:
                return (
                    f"In context={where}, 'additionalProperties' is required to be supplied and to be false."
                )
            missing = [key for key in props if key not in (node.get("required") or [])]
            if missing:
                return (
                    f"In context={where}, 'required' is required to be supplied and to be an array "
                    f"including every key in properties. Missing '{missing[0]}'."
                )
            for key, sub in props.items():
                if (found := walk(sub, (*where, "properties", key), depth + 1)) is not None:
                    return found
        if (found := walk(node.get("items"), (*where, "items"), depth + 1)) is not None:
            return found
        for i, sub in enumerate(node.get("anyOf") or []):
            if (found := walk(sub, (*where, "anyOf", str(i)), depth)) is not None:
                return found
        for defs in ("$defs", "definitions"):
            for name, sub in (node.get(defs) or {}).items():
                if (found := walk(sub, (*where, defs, name), 1)) is not None:
                    return found
        return None

    if schema.get("type") != "object":
        return "the root schema must be an object (type: object), not anyOf or another type."
    return walk(schema, (), 1)


def prompt_text(messages: Any) -> str:
    parts: list[str] = []
    for message in messages if isinstance(messages, list) else ():
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(p.get("text", "") for p in content if isinstance(p, dict))
    return "\n".join(parts)


def response_schema(
    response_format: Any, *, fine_tuned: bool = False
) -> tuple[dict[str, Any] | None, str | None]:
    if response_format is None:
        return None, None
    if not isinstance(response_format, dict) or response_format.get("type") not in (
        "json_schema",
        "json_object",
        "text",
    ):
        raise Reply(
            400,
            "Invalid 'response_format': expected an object with type json_schema, json_object or text.",
            outcome="400",
            param="response_format",
        )
    if response_format["type"] != "json_schema":
        return (
            {"type": "object", "properties": {}, "additionalProperties": False, "required": []}
            if response_format["type"] == "json_object"
            else None
        ), None
    spec = response_format.get("json_schema")
    schema = spec.get("schema") if isinstance(spec, dict) else None
    name = spec.get("name") if isinstance(spec, dict) else None
    if not isinstance(schema, dict) or not isinstance(name, str):
        raise Reply(
            400,
            "Missing required parameter: 'response_format.json_schema'.",
            outcome="400",
            param="response_format",
        )
    if spec.get("strict"):  # type: ignore[union-attr]  # a dict: schema came from it
        problem = strict_schema_problem(schema, fine_tuned=fine_tuned)
        if problem:
            raise Reply(
                400,
                f"Invalid schema for response_format '{name}': {problem}",
                outcome="400",
                param="response_format",
                code="invalid_json_schema",
            )
    return schema, name


def break_schema(value: Any) -> Any:
    # Valid JSON that a validator must refuse: drop the first field, or change its type.
    if isinstance(value, dict) and value:
        first = next(iter(value))
        return {k: v for k, v in value.items() if k != first}
    return {"unexpected": value}
