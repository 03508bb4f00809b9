"""A fault-injecting, OpenAI-compatible HTTP server for tests, benchmarks and chaos runs.

It speaks the two endpoints genjournal pays for, honestly enough that the real
``openai`` client cannot tell the difference on the happy path:

* ``POST /v1/chat/completions`` answers a strict ``json_schema`` ``response_format``
  with a JSON object that validates against the schema *sent in the request* (objects,
  ``$defs``/``$ref``, arrays, enums, string patterns such as a hex colour), its text
  built from the property names and the quoted phrases of the prompt; ``usage`` is
  computed deterministically from text lengths.
* ``POST /v1/images/generations`` returns real PNGs (stdlib zlib/struct) whose pixels
  depend on the prompt and on the request (so every request yields its own picture);
  it honours ``n``/``size`` and rejects ``response_format`` for ``gpt-image*`` models
  with a 400, like the real API.

Faults, configurable at construction, in-process and over ``POST /_faults``: per-family
probabilities (``429``, ``500``, ``drop``, ``hang``, ``malformed``, ``schema``,
``refusal``, ``length``, ``content_filter``, ``quota``), latency per family, per-prompt rules
(matched against the ``X-Genjournal-Step`` header or the prompt), an outage window,
401 for configured bad keys, and a rate-limit mode (a token bucket per family with
OpenAI's ``x-ratelimit-*`` headers). Decisions are deterministic for a seed: each
request draws from a generator seeded by (seed, family, step or prompt, occurrence).

Every API request lands in a ledger (``server.ledger()``, ``GET /_ledger``) saying what
it was, how it ended and whether the real API would have billed it.

Run it standalone with ``python -m generator.fakeserver --port 0 --rules JSON``: it
prints its base URL (``http://127.0.0.1:PORT/v1``) on stdout and serves until killed.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import math
import random
import re
import signal
import socket
import struct
import sys
import threading
import time
import zlib
from dataclasses import asdict, dataclass, field, fields, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal

STEP_HEADER = "X-Genjournal-Step"
#: every fault a request can be given; the per-family probabilities use these names
FAULTS: tuple[str, ...] = (
    "429", "500", "drop", "hang", "malformed", "schema", "refusal", "length", "content_filter",
    "quota",
)  # fmt: skip
_TEXT_ONLY = frozenset({"schema", "refusal", "length"})
#: outcomes the real API bills: the model ran, whatever it produced
BILLABLE_OUTCOMES = frozenset({"ok", "malformed", "schema", "refusal", "length", "content_filter", "timeout"})
#: what the headers claim when no rate limit is configured (reported, not enforced)
NOMINAL_RPM = 10_000
Family = Literal["text", "image"]
_FAMILIES: tuple[Family, ...] = ("text", "image")


# --- configuration -------------------------------------------------------------------


@dataclass
class EndpointConfig:
    """Describes how one endpoint family (text or image) behaves."""

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    #: enforced requests per minute; None reports a nominal limit and never refuses
    rpm: int | None = None
    #: fault name -> probability per request
    faults: dict[str, float] = field(default_factory=dict)
    #: what an injected 429 asks the client to wait
    retry_after_s: float = 1.0
    #: which retry headers a 429 carries: "both", "ms", "s" or "none"
    retry_after_header: str = "both"
    #: whether replies carry x-ratelimit-* headers (False: a client learns only from 429s)
    rate_headers: bool = True

    def __post_init__(self) -> None:
        unknown = set(self.faults) - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown fault(s) {sorted(unknown)}; known: {', '.join(FAULTS)}")
        if any(not 0.0 <= p <= 1.0 for p in self.faults.values()) or sum(self.faults.values()) > 1.0:
            raise ValueError("fault probabilities must be in [0, 1] and sum to at most 1")
        if self.retry_after_header not in ("both", "ms", "s", "none"):
            raise ValueError("retry_after_header must be both, ms, s or none")
        if self.rpm is not None and self.rpm <= 0:
            raise ValueError("rpm must be positive")

    @classmethod
    def from_dict(cls, data: dict[str, Any], base: EndpointConfig | None = None) -> EndpointConfig:
        """Returns a config from JSON-shaped data, on top of ``base`` when given."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown endpoint setting(s) {sorted(unknown)}")
        return replace(base or cls(), **data)


@dataclass
class Rule:
    """Forces a fault on requests whose step header or prompt contains ``match``."""

    match: str
    fault: str
    family: Family | None = None
    probability: float = 1.0
    #: how many more times the rule may fire; None is forever
    times: int | None = None

    def __post_init__(self) -> None:
        if self.fault not in FAULTS:
            raise ValueError(f"unknown fault {self.fault!r}; known: {', '.join(FAULTS)}")
        if self.times is not None and self.times < 0:
            raise ValueError("times must be at least 0")


@dataclass(frozen=True)
class LedgerEntry:
    """Records one API request: what it asked, how it ended, what it would have cost."""

    seq: int
    time: float
    elapsed_s: float
    method: str
    path: str
    family: Family | None
    model: str | None
    step: str | None
    status: int | None
    outcome: str
    fault: str | None
    billable: bool
    input_tokens: int | None = None
    output_tokens: int | None = None
    images: int | None = None
    request_id: str | None = None
    #: the request body's top-level keys (e.g. to prove no response_format was sent)
    params: tuple[str, ...] = ()
    #: the prompt text (chat messages joined, or the image prompt)
    prompt: str = ""
    #: wall-clock time the request arrived (``time`` is when it was answered), so a test
    #: can tell which of several client processes sent it even if the sender died waiting
    arrived: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Returns the entry as a JSON-ready dict."""
        return asdict(self)


class _Bucket:
    """A requests-per-minute token bucket holding ``burst_s`` seconds' worth of requests."""

    def __init__(self, rpm: int, burst_s: float, *, enforce: bool) -> None:
        self.rpm = rpm
        self.rate = rpm / 60.0
        self.capacity = max(1.0, self.rate * burst_s)
        self.tokens = self.capacity
        self.enforce = enforce
        self.stamp = time.monotonic()

    def take(self) -> tuple[bool, int, float, float]:
        """Takes one token; returns (admitted, remaining, reset_s, retry_after_s)."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0 or not self.enforce:
            self.tokens = max(0.0, self.tokens - 1.0)
            admitted, wait = True, 0.0
        else:
            admitted, wait = False, (1.0 - self.tokens) / self.rate
        reset = (self.capacity - self.tokens) / self.rate
        return admitted, int(self.tokens), reset, wait


def go_duration(seconds: float) -> str:
    """Formats seconds the way OpenAI's reset headers do: ``120ms``, ``1.5s``, ``6m0s``."""
    if seconds <= 0:
        return "0s"
    if seconds < 1:
        return f"{max(1, round(seconds * 1000))}ms"
    if seconds < 60:
        return f"{round(seconds, 3):g}s"
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(int(minutes), 60)
    head = f"{hours}h" if hours else ""
    return f"{head}{minutes}m{round(secs, 3):g}s"


# --- PNG -------------------------------------------------------------------------------


def encode_png(width: int, height: int, rgb: bytes) -> bytes:
    """Encodes 8-bit RGB pixels (row-major, ``width*height*3`` bytes) as a PNG."""
    if len(rgb) != width * height * 3:
        raise ValueError("pixel buffer does not match the size")

    def chunk(kind: bytes, data: bytes) -> bytes:
        """Frames one PNG chunk: length, type, data, CRC."""
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    stride = width * 3
    raw = b"".join(b"\x00" + rgb[y * stride : (y + 1) * stride] for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


_HEX_IN_TEXT = re.compile(r"#([0-9a-fA-F]{6})\b")


def render_picture(prompt: str, nonce: str, width: int, height: int) -> bytes:
    """Paints a PNG from the prompt (its hex colour, if any) and a per-request nonce."""
    digest = hashlib.sha256(f"{nonce}\x00{prompt}".encode()).digest()
    found = _HEX_IN_TEXT.search(prompt)
    base = bytes.fromhex(found.group(1)) if found else digest[0:3]
    accent = digest[3:6]
    angle = digest[6] / 255 * math.pi
    freq = 2 + digest[7] % 6
    dx, dy = math.cos(angle), math.sin(angle)
    swatch_from = height - max(1, height // 8)
    pixels = bytearray()
    for y in range(height):
        if y >= swatch_from and y > 0:
            # A solid swatch of the prompt's colour along the bottom edge.
            pixels += base * width
            continue
        for x in range(width):
            if y == 0:
                # The first row spells the digest, so two requests never share a picture.
                byte = digest[(x * 32) // width]
                pixels += bytes((byte, 255 - byte, byte ^ 0x5A))
                continue
            t = 0.5 + 0.5 * math.sin(freq * math.pi * (x * dx + y * dy) / max(width, height))
            pixels += bytes(int(b * (1 - t) + a * t) for b, a in zip(base, accent, strict=True))
    return encode_png(width, height, bytes(pixels))


# --- schema-driven JSON ------------------------------------------------------------------

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
            low = int(schema.get("minItems", 0))
            high = int(schema.get("maxItems", max(low, 5)))
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


def strict_schema_problem(schema: dict[str, Any]) -> str | None:
    """Returns why a schema breaks OpenAI's strict-mode rules, or None when it complies."""

    def walk(node: Any, where: tuple[str, ...]) -> str | None:
        """Returns the first strict-mode problem under a node."""
        if not isinstance(node, dict):
            return None
        if node.get("type") == "object" or "properties" in node:
            props = node.get("properties") or {}
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
                if (found := walk(sub, (*where, "properties", key))) is not None:
                    return found
        for key in ("items",):
            if (found := walk(node.get(key), (*where, key))) is not None:
                return found
        for key in ("anyOf", "allOf"):
            for i, sub in enumerate(node.get(key) or []):
                if (found := walk(sub, (*where, key, str(i)))) is not None:
                    return found
        for name, sub in (node.get("$defs") or {}).items():
            if (found := walk(sub, (*where, "$defs", name))) is not None:
                return found
        return None

    if schema.get("type") != "object":
        return "the root schema must be an object (type: object), not anyOf or another type."
    return walk(schema, ())


# --- the server ------------------------------------------------------------------------


def _tokens(text: str) -> int:
    # About four characters a token, like OpenAI's rule of thumb; deterministic.
    return max(1, math.ceil(len(text) / 4))


def _mask_key(key: str) -> str:
    # The real API echoes a bad key's head and tail; so do we, so redaction gets tested.
    if len(key) <= 8:
        return "*" * len(key)
    return f"{key[:3]}{'*' * max(4, len(key) - 7)}{key[-4:]}"


def _image_output_tokens(size: tuple[int, int], quality: str) -> int:
    per_square = {"low": 272, "medium": 1056, "high": 4160}.get(quality, 1056)
    return max(1, round(per_square * size[0] * size[1] / (1024 * 1024)))


class _Reply(Exception):
    """Carries an HTTP error reply out of the request logic."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        outcome: str,
        code: str | None = None,
        err_type: str = "invalid_request_error",
        param: str | None = None,
        headers: dict[str, str] | None = None,
        fault: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": {"message": message, "type": err_type, "param": param, "code": code}}
        self.outcome = outcome
        self.headers = headers or {}
        self.fault = fault


class _Drop(Exception):
    """Asks the handler to close the connection without a reply."""

    def __init__(self, outcome: str, fault: str | None, hang_s: float = 0.0) -> None:
        super().__init__(outcome)
        self.outcome = outcome
        self.fault = fault
        self.hang_s = hang_s


@dataclass
class _Request:
    family: Family
    model: str | None
    step: str | None
    prompt: str
    rng: random.Random
    request_id: str
    params: tuple[str, ...] = ()
    usage_in: int | None = None
    usage_out: int | None = None
    images: int | None = None
    arrived: float = field(default_factory=time.time)


class FakeOpenAI:
    """Runs the fake OpenAI server on 127.0.0.1 in a background thread."""

    def __init__(
        self,
        *,
        seed: int = 0,
        text: EndpointConfig | dict[str, Any] | None = None,
        image: EndpointConfig | dict[str, Any] | None = None,
        rules: list[Rule | dict[str, Any]] | tuple[Rule | dict[str, Any], ...] = (),
        bad_keys: tuple[str, ...] | list[str] = (),
        burst_s: float = 1.0,
        hang_s: float = 30.0,
        image_px: int = 64,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.seed = seed
        self.burst_s = burst_s
        self.hang_s = hang_s
        self.image_px = image_px
        self.endpoints: dict[Family, EndpointConfig] = {
            "text": EndpointConfig(),
            "image": EndpointConfig(),
        }
        self.rules: list[Rule] = []
        self.bad_keys: set[str] = set()
        self._outage_until = 0.0
        self._occurrences: dict[tuple[str, str], int] = {}
        self._buckets: dict[Family, _Bucket] = {}
        self._ledger: list[LedgerEntry] = []
        self._started = time.monotonic()
        self.configure(
            {
                "text": _as_dict(text),
                "image": _as_dict(image),
                "rules": [asdict(r) if isinstance(r, Rule) else r for r in rules],
                "bad_keys": list(bad_keys),
            }
        )
        self._httpd = _Server((host, port), _Handler)
        self._httpd.app = self
        self._thread: threading.Thread | None = None

    # --- lifecycle

    @property
    def port(self) -> int:
        """Returns the TCP port the server listens on."""
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """Returns the server's root URL (control endpoints live here)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """Returns the URL to hand the OpenAI client as ``base_url``."""
        return f"{self.url}/v1"

    def start(self) -> FakeOpenAI:
        """Starts serving in a daemon thread."""
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-openai",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stops serving, wakes sleeping handlers and closes every connection."""
        self._stopping.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(5)
        self._httpd.close_all()
        self._httpd.server_close()

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- runtime configuration

    def configure(self, patch: dict[str, Any]) -> dict[str, Any]:
        """Applies a settings patch (the ``POST /_faults`` body); returns the settings."""
        known = {
            "seed",
            "text",
            "image",
            "rules",
            "add_rules",
            "bad_keys",
            "outage_s",
            "clear",
            "burst_s",
            "hang_s",
            "image_px",
        }
        unknown = set(patch) - known
        if unknown:
            raise ValueError(f"unknown setting(s) {sorted(unknown)}")
        with self._lock:
            if patch.get("clear"):
                self._clear_locked()
            for key in ("seed", "hang_s", "image_px"):
                if key in patch:
                    setattr(self, key, type(getattr(self, key))(patch[key]))
            if "burst_s" in patch:
                self.burst_s = float(patch["burst_s"])
                self._buckets.clear()
            for family in _FAMILIES:
                if patch.get(family):
                    before = self.endpoints[family]
                    self.endpoints[family] = EndpointConfig.from_dict(patch[family], before)
                    if self.endpoints[family].rpm != before.rpm:
                        self._buckets.pop(family, None)
            if "rules" in patch:
                self.rules = [Rule(**r) for r in patch["rules"]]
            self.rules.extend(Rule(**r) for r in patch.get("add_rules", ()))
            if "bad_keys" in patch:
                self.bad_keys = set(patch["bad_keys"])
            if patch.get("outage_s"):
                self._outage_until = time.monotonic() + float(patch["outage_s"])
            return self._settings_locked()

    def set_endpoint(self, family: Family, **settings: Any) -> None:
        """Changes one family's settings (latency_ms, rpm, faults, …)."""
        self.configure({family: settings})

    def add_rule(
        self,
        match: str,
        fault: str,
        *,
        family: Family | None = None,
        probability: float = 1.0,
        times: int | None = None,
    ) -> None:
        """Forces ``fault`` on requests whose step header or prompt contains ``match``."""
        self.configure({"add_rules": [asdict(Rule(match, fault, family, probability, times))]})

    def clear_faults(self) -> None:
        """Removes every fault probability, rule and outage (latency and limits stay)."""
        self.configure({"clear": True})

    def outage(self, seconds: float) -> None:
        """Drops every API connection for the next ``seconds``."""
        self.configure({"outage_s": seconds})

    def _clear_locked(self) -> None:
        for family in _FAMILIES:
            self.endpoints[family] = replace(self.endpoints[family], faults={})
        self.rules = []
        self._outage_until = 0.0

    def _settings_locked(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "burst_s": self.burst_s,
            "hang_s": self.hang_s,
            "image_px": self.image_px,
            "text": asdict(self.endpoints["text"]),
            "image": asdict(self.endpoints["image"]),
            "rules": [asdict(r) for r in self.rules],
            "bad_keys": len(self.bad_keys),
            "outage_remaining_s": max(0.0, round(self._outage_until - time.monotonic(), 3)),
        }

    # --- ledger

    def ledger(self) -> list[LedgerEntry]:
        """Returns every API request seen so far, in arrival order."""
        with self._lock:
            return list(self._ledger)

    def clear_ledger(self) -> None:
        """Forgets the requests seen so far."""
        with self._lock:
            self._ledger.clear()

    def _record(
        self,
        method: str,
        path: str,
        req: _Request | None,
        status: int | None,
        outcome: str,
        fault: str | None,
    ) -> None:
        billable = status in (200, None) and outcome in BILLABLE_OUTCOMES
        with self._lock:
            self._ledger.append(
                LedgerEntry(
                    seq=len(self._ledger) + 1,
                    time=time.time(),
                    elapsed_s=round(time.monotonic() - self._started, 6),
                    method=method,
                    path=path,
                    family=req.family if req else None,
                    model=req.model if req else None,
                    step=req.step if req else None,
                    status=status,
                    outcome=outcome,
                    fault=fault,
                    billable=billable,
                    input_tokens=req.usage_in if req and billable else None,
                    output_tokens=req.usage_out if req and billable else None,
                    images=req.images if req and billable else None,
                    request_id=req.request_id if req else None,
                    params=req.params if req else (),
                    prompt=req.prompt if req else "",
                    arrived=req.arrived if req else None,
                )
            )

    # --- request logic (runs in handler threads)

    def _rate_headers(self, family: Family) -> tuple[bool, dict[str, str], float]:
        with self._lock:
            config = self.endpoints[family]
            bucket = self._buckets.get(family)
            if bucket is None:
                enforce = config.rpm is not None
                bucket = _Bucket(
                    config.rpm or NOMINAL_RPM, self.burst_s if enforce else 60.0, enforce=enforce
                )
                self._buckets[family] = bucket
            admitted, remaining, reset, wait = bucket.take()
        headers = {
            "x-ratelimit-limit-requests": str(bucket.rpm),
            "x-ratelimit-remaining-requests": str(remaining),
            "x-ratelimit-reset-requests": go_duration(reset),
        }
        return admitted, headers if config.rate_headers else {}, wait

    def begin(self, path: str, body: dict[str, Any], step: str | None) -> _Request:
        """Describes an API request and gives it its deterministic random source."""
        family: Family = "text" if path.endswith("/chat/completions") else "image"
        model = body.get("model") if isinstance(body.get("model"), str) else None
        if family == "text":
            prompt = _prompt_text(body.get("messages"))
        else:
            prompt = body["prompt"] if isinstance(body.get("prompt"), str) else ""
            model = model or "gpt-image-1"
        key = step or hashlib.sha256(prompt.encode()).hexdigest()
        with self._lock:
            nth = self._occurrences.get((family, key), 0)
            self._occurrences[(family, key)] = nth + 1
            seed = self.seed
        rng = random.Random(f"{seed}|{family}|{key}|{nth}")
        return _Request(
            family,
            model,
            step,
            prompt,
            rng,
            f"req_{rng.getrandbits(128):032x}",
            params=tuple(sorted(body)),
        )

    def _gate(self, api_key: str | None) -> None:
        """Drops the connection during an outage; refuses a missing or bad key."""
        with self._lock:
            outage = time.monotonic() < self._outage_until
            bad = api_key in self.bad_keys
        if outage:
            raise _Drop("dropped", "outage")
        if api_key is None:
            raise _Reply(
                401,
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                outcome="401",
            )
        if bad:
            raise _Reply(
                401,
                f"Incorrect API key provided: {_mask_key(api_key)}. You can find your API "
                "key at https://platform.openai.com/account/api-keys.",
                outcome="401",
                code="invalid_api_key",
            )

    def _decide(self, req: _Request) -> tuple[str | None, dict[str, str]]:
        """Returns the fault to inject (None for a clean reply) and the rate-limit headers."""
        with self._lock:
            config = self.endpoints[req.family]
            forced = None
            for rule in self.rules:
                if rule.family not in (None, req.family) or rule.times == 0:
                    continue
                matches = rule.match in (req.step or "") or rule.match in req.prompt
                if matches and (rule.probability >= 1.0 or req.rng.random() < rule.probability):
                    if rule.times is not None:
                        rule.times -= 1
                    forced = rule.fault
                    break
        if forced is not None:
            return forced, {}
        admitted, headers, wait = self._rate_headers(req.family)
        if not admitted:
            limit = str(self.endpoints[req.family].rpm)
            raise _Reply(
                429,
                f"Rate limit reached for requests on {req.model} (per minute): Limit "
                f"{limit}, Used {limit}, Requested 1. Please try again in {go_duration(wait)}.",
                outcome="429",
                code="rate_limit_exceeded",
                err_type="requests",
                headers={**headers, **_retry_headers(wait, "both")},
                fault="rate_limit",
            )
        draw = req.rng.random()
        for name in FAULTS:
            draw -= config.faults.get(name, 0.0)
            if draw < 0:
                return name, headers
        return None, headers

    def _error_fault(self, fault: str, req: _Request, headers: dict[str, str]) -> None:
        """Raises the reply for faults that are not a generated answer."""
        config = self.endpoints[req.family]
        if fault == "429":
            raise _Reply(
                429,
                "Rate limit reached (injected). Please try again later.",
                outcome="429",
                code="rate_limit_exceeded",
                err_type="requests",
                headers={
                    **headers,
                    **_retry_headers(config.retry_after_s, config.retry_after_header),
                },
                fault=fault,
            )
        if fault == "quota":
            raise _Reply(
                429,
                "You exceeded your current quota, please check your plan and billing details.",
                outcome="429",
                code="insufficient_quota",
                err_type="insufficient_quota",
                headers=headers,
                fault=fault,
            )
        if fault == "500":
            raise _Reply(
                500,
                "The server had an error while processing your request. Sorry about that!",
                outcome="500",
                err_type="server_error",
                headers=headers,
                fault=fault,
            )
        if fault == "drop":
            raise _Drop("dropped", fault)
        if fault == "content_filter" and req.family == "image":
            raise _Reply(
                400,
                "Your request was rejected as a result of our safety system.",
                outcome="content_filter",
                code="moderation_blocked",
                err_type="image_generation_user_error",
                headers=headers,
                fault=fault,
            )

    def _delay(self, req: _Request) -> None:
        config = self.endpoints[req.family]
        delay = (config.latency_ms + req.rng.uniform(-config.jitter_ms, config.jitter_ms)) / 1000
        if delay > 0:
            self._stopping.wait(delay)

    def chat(
        self, req: _Request, body: dict[str, Any], api_key: str | None
    ) -> tuple[dict[str, Any], dict[str, str], str]:
        """Answers a chat completion request; raises _Reply/_Drop for faults."""
        self._gate(api_key)
        model, messages, prompt = req.model, body.get("messages"), req.prompt
        if not model:
            raise _Reply(400, "you must provide a model parameter", outcome="400", param="model")
        if not isinstance(messages, list) or not messages:
            raise _Reply(400, "[] is too short - 'messages'", outcome="400", param="messages")
        schema, schema_name = _response_schema(body.get("response_format"))
        fault, headers = self._decide(req)
        if fault is not None:
            self._error_fault(fault, req, headers)
        value: Any
        if schema is not None:
            value = SchemaFaker(schema, req.rng, prompt).generate()
            if fault == "schema":
                value = _break_schema(value)
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
        req.usage_in = (
            _tokens(prompt) + 4 * len(messages) + (_tokens(json.dumps(schema)) // 2 if schema else 0)
        )
        req.usage_out = _tokens(produced)
        if fault == "length" and isinstance(body.get("max_completion_tokens"), int):
            req.usage_out = int(body["max_completion_tokens"])
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
            raise _Drop("timeout", fault, self.hang_s)
        self._delay(req)
        outcome = fault if fault in ("malformed", "schema", "refusal", "length", "content_filter") else "ok"
        return reply, headers, outcome

    def images(
        self, req: _Request, body: dict[str, Any], api_key: str | None
    ) -> tuple[dict[str, Any], dict[str, str], str]:
        """Answers an image generation request; raises _Reply/_Drop for faults."""
        self._gate(api_key)
        model, prompt = str(req.model), req.prompt
        if not prompt.strip():
            raise _Reply(
                400,
                "Missing required parameter: 'prompt'.",
                outcome="400",
                param="prompt",
                code="missing_required_parameter",
            )
        gpt_image = str(model).startswith("gpt-image")
        if gpt_image and "response_format" in body:
            raise _Reply(
                400,
                "Unknown parameter: 'response_format'.",
                outcome="400",
                param="response_format",
                code="unknown_parameter",
            )
        n = body.get("n") or 1
        if not isinstance(n, int) or not 1 <= n <= 10:
            raise _Reply(
                400,
                f"Invalid 'n': integer must be between 1 and 10, got {n!r}.",
                outcome="400",
                param="n",
                code="integer_out_of_range",
            )
        size_text = body.get("size") or "auto"
        match = re.fullmatch(r"(\d{2,4})x(\d{2,4})", str(size_text))
        if size_text != "auto" and match is None:
            raise _Reply(
                400,
                f"Invalid value: '{size_text}'. Supported values are: '1024x1024', "
                "'1024x1536', '1536x1024' and 'auto'.",
                outcome="400",
                param="size",
                code="invalid_value",
            )
        size = (int(match.group(1)), int(match.group(2))) if match else (1024, 1024)
        quality = str(body.get("quality") or "auto")
        quality = {"auto": "medium", "standard": "medium", "hd": "high"}.get(quality, quality)
        fault, headers = self._decide(req)
        if fault in _TEXT_ONLY:
            fault = "malformed"  # an image answer cannot refuse in-band; treat as garbage bytes
        if fault is not None:
            self._error_fault(fault, req, headers)
        scale = self.image_px / max(size)
        width, height = max(1, round(size[0] * scale)), max(1, round(size[1] * scale))
        data = []
        for i in range(n):
            if fault == "malformed":
                encoded = "not-a-png/" + base64.b64encode(b"garbage").decode()
            else:
                png = render_picture(prompt, f"{self.seed}|{req.request_id}|{i}", width, height)
                encoded = base64.b64encode(png).decode()
            item: dict[str, Any] = {"b64_json": encoded}
            if body.get("response_format") == "url":
                item = {"url": f"data:image/png;base64,{encoded}"}
            data.append(item)
        req.images = n
        reply: dict[str, Any] = {"created": int(time.time()), "data": data}
        if gpt_image:
            out_tokens = _image_output_tokens(size, quality) * n
            req.usage_in, req.usage_out = _tokens(prompt), out_tokens
            reply.update(
                {
                    "background": "opaque",
                    "output_format": "png",
                    "quality": quality,
                    "size": f"{size[0]}x{size[1]}",
                    "usage": {
                        "input_tokens": req.usage_in,
                        "input_tokens_details": {"text_tokens": req.usage_in, "image_tokens": 0},
                        "output_tokens": out_tokens,
                        "output_tokens_details": {"image_tokens": out_tokens, "text_tokens": 0},
                        "total_tokens": req.usage_in + out_tokens,
                    },
                }
            )
        if fault == "hang":
            raise _Drop("timeout", fault, self.hang_s)
        self._delay(req)
        return reply, headers, "malformed" if fault == "malformed" else "ok"


def _as_dict(config: EndpointConfig | dict[str, Any] | None) -> dict[str, Any]:
    if config is None:
        return {}
    return asdict(config) if isinstance(config, EndpointConfig) else dict(config)


def _retry_headers(seconds: float, which: str) -> dict[str, str]:
    headers: dict[str, str] = {}
    if which in ("both", "ms"):
        headers["retry-after-ms"] = str(max(1, math.ceil(seconds * 1000)))
    if which in ("both", "s"):
        headers["retry-after"] = str(max(1, math.ceil(seconds)))
    return headers


def _prompt_text(messages: Any) -> str:
    parts: list[str] = []
    for message in messages if isinstance(messages, list) else ():
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(p.get("text", "") for p in content if isinstance(p, dict))
    return "\n".join(parts)


def _response_schema(response_format: Any) -> tuple[dict[str, Any] | None, str | None]:
    if response_format is None:
        return None, None
    if not isinstance(response_format, dict) or response_format.get("type") not in (
        "json_schema",
        "json_object",
        "text",
    ):
        raise _Reply(
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
        raise _Reply(
            400,
            "Missing required parameter: 'response_format.json_schema'.",
            outcome="400",
            param="response_format",
        )
    if spec.get("strict"):  # type: ignore[union-attr]  # a dict: schema came from it
        problem = strict_schema_problem(schema)
        if problem:
            raise _Reply(
                400,
                f"Invalid schema for response_format '{name}': {problem}",
                outcome="400",
                param="response_format",
                code="invalid_json_schema",
            )
    return schema, name


def _break_schema(value: Any) -> Any:
    # Valid JSON that a validator must refuse: drop the first field, or change its type.
    if isinstance(value, dict) and value:
        first = next(iter(value))
        return {k: v for k, v in value.items() if k != first}
    return {"unexpected": value}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Handler threads may sit in a latency sleep or a keep-alive read; never join them.
    block_on_close = False
    request_queue_size = 256
    allow_reuse_address = True
    app: FakeOpenAI

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()

    def track(self, conn: socket.socket, add: bool) -> None:
        """Remembers open connections so ``close_all`` can wake their threads."""
        with self._conns_lock:
            (self._conns.add if add else self._conns.discard)(conn)

    def close_all(self) -> None:
        """Shuts every open connection down."""
        with self._conns_lock:
            conns, self._conns = list(self._conns), set()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-openai/1"
    # Idle keep-alive connections are closed after this long.
    timeout = 60
    # Headers and body go out in two writes; Nagle would hold the second for an ACK.
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        """Registers the connection so stop() can close it."""
        super().setup()
        self.server.track(self.connection, True)

    def finish(self) -> None:
        """Flushes and unregisters the connection."""
        with contextlib.suppress(OSError):  # the client (or a drop fault) closed it first
            super().finish()
        self.server.track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:
        """Keeps the test output quiet."""

    def do_GET(self) -> None:
        """Serves the control endpoints."""
        self._body()
        app = self.server.app
        if self.path == "/_health":
            self._send(200, {"status": "ok", "requests": len(app.ledger())})
        elif self.path == "/_ledger":
            self._send(200, [e.to_dict() for e in app.ledger()])
        elif self.path == "/_faults":
            self._send(200, app.configure({}))
        else:
            self._send(
                404,
                {
                    "error": {
                        "message": f"Unknown path {self.path}",
                        "type": "invalid_request_error",
                    }
                },
            )

    def do_DELETE(self) -> None:
        """Clears the ledger."""
        self._body()
        if self.path == "/_ledger":
            self.server.app.clear_ledger()
            self._send(200, {"cleared": True})
        else:
            self._send(404, {"error": {"message": f"Unknown path {self.path}"}})

    def do_POST(self) -> None:
        """Serves the API and the fault settings."""
        raw = self._body()
        app = self.server.app
        path = self.path.split("?", 1)[0]
        try:
            body = json.loads(raw or b"{}")
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
        except ValueError as exc:
            self._send(
                400,
                {
                    "error": {
                        "message": f"We could not parse the JSON body of your request: {exc}",
                        "type": "invalid_request_error",
                        "param": None,
                        "code": None,
                    }
                },
            )
            return
        if path == "/_faults":
            try:
                self._send(200, app.configure(body))
            except (ValueError, TypeError) as exc:
                self._send(400, {"error": {"message": str(exc)}})
            return
        routes = {"/v1/chat/completions": app.chat, "/v1/images/generations": app.images}
        route = routes.get(path)
        if route is None:
            self._send(
                404,
                {
                    "error": {
                        "message": f"Invalid URL (POST {path})",
                        "type": "invalid_request_error",
                        "param": None,
                        "code": None,
                    }
                },
            )
            return
        step = self.headers.get(STEP_HEADER)
        auth = self.headers.get("Authorization", "")
        api_key = auth[7:].strip() if auth.lower().startswith("bearer ") and auth[7:].strip() else None
        req = app.begin(path, body, step)
        try:
            reply, headers, outcome = route(req, body, api_key)
        except _Reply as fail:
            fail.headers.setdefault("x-request-id", req.request_id)
            app._record("POST", path, req, fail.status, fail.outcome, fail.fault)
            self._send(fail.status, fail.body, fail.headers)
            return
        except _Drop as drop:
            if drop.hang_s:
                app._stopping.wait(drop.hang_s)
            app._record("POST", path, req, None, drop.outcome, drop.fault)
            self._drop()
            return
        app._record("POST", path, req, 200, outcome, outcome if outcome != "ok" else None)
        processing = int(app.endpoints[req.family].latency_ms)
        self._send(
            200,
            reply,
            {**headers, "x-request-id": req.request_id, "openai-processing-ms": str(processing)},
        )

    # --- plumbing

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


# --- command line ----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Runs the fake server until SIGINT/SIGTERM, printing its base URL on stdout."""
    parser = argparse.ArgumentParser(
        prog="python -m generator.fakeserver", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument(
        "--rules", default="{}", help="settings as JSON (or @FILE): seed, text, image, rules, …"
    )
    args = parser.parse_args(argv)
    text = args.rules
    if text.startswith("@"):
        with open(text[1:], encoding="utf-8") as handle:
            text = handle.read()
    settings = json.loads(text)
    if args.seed is not None:
        settings["seed"] = args.seed
    server = FakeOpenAI(host=args.host, port=args.port)
    server.configure(settings)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with server:
        print(server.base_url, flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
