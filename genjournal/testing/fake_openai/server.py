"""The fake OpenAI server's state: settings, fault decisions, the ledger, and its lifecycle."""

from __future__ import annotations

import hashlib
import math
import random
import threading
import time
from dataclasses import asdict, dataclass, replace
from types import TracebackType
from typing import Any

from genjournal.testing.fake_openai import chat, images
from genjournal.testing.fake_openai.batches import BatchRunner
from genjournal.testing.fake_openai.config import (
    BILLABLE_OUTCOMES,
    FAMILIES,
    FAULTS,
    NOMINAL_RPM,
    ORGANIZATION,
    EndpointConfig,
    Family,
    Request,
    Rule,
    as_dict,
)
from genjournal.testing.fake_openai.errors import Drop, Reply, mask_key
from genjournal.testing.fake_openai.files import FileStore
from genjournal.testing.fake_openai.http import FakeHTTPServer, Handler
from genjournal.testing.fake_openai.ledger import LedgerEntry
from genjournal.testing.fake_openai.limits import Bucket, go_duration, retry_headers
from genjournal.testing.fake_openai.schema import prompt_text


@dataclass(frozen=True)
class Exchange:
    """One API request body and the reply body the fake sent for it."""

    path: str
    request: dict[str, Any]
    status: int
    reply: Any


def rate_limit_message(req: Request, limit: int, wait_s: float, *, unit: str | None = None) -> str:
    """Returns a 429's text as the real API words it (the unit follows the endpoint)."""
    unit = unit or ("images per min (IPM)" if req.family == "image" else "requests per min (RPM)")
    return (
        f"Rate limit reached for {req.model} in organization {ORGANIZATION} on {unit}: Limit {limit}, "
        f"Used {limit}, Requested 1. Please try again in {go_duration(wait_s)}. Visit "
        "https://platform.openai.com/account/rate-limits to learn more."
    )


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
        extra_models: tuple[str, ...] | list[str] = (),
        record_exchanges: bool = False,
        shared_rpm: int | None = None,
        burst_s: float = 1.0,
        hang_s: float = 30.0,
        image_px: int = 64,
        batch: dict[str, Any] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self._lock = threading.Lock()
        self.stopping = threading.Event()
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
        #: models served besides the API's own (``models.TEXT_MODELS``, ``IMAGE_MODELS``)
        self.extra_models: tuple[str, ...] = ()
        #: keep every API request body and the reply sent (for contract tests against the spec)
        self.record_exchanges = record_exchanges
        #: one requests-per-minute limit over both families (a key-level limit, as
        #: gateways and proxies enforce), on top of each family's own
        self.shared_rpm = shared_rpm
        self._shared: Bucket | None = None
        self._exchanges: list[Exchange] = []
        self._outage_until = 0.0
        self._occurrences: dict[tuple[str, str], int] = {}
        self._buckets: dict[Family, Bucket] = {}
        self._token_buckets: dict[Family, Bucket] = {}
        self._ledger: list[LedgerEntry] = []
        self._started = time.monotonic()
        #: ``lane.batch`` is True while a batch line is answered (no live limits, latency, outage)
        self.lane = threading.local()
        #: the Files API's files and the Batch API's batches (in memory, per process)
        self.files = FileStore()
        self.batches = BatchRunner(self, self.files)
        self.configure(
            {
                "text": as_dict(text),
                "image": as_dict(image),
                "rules": [asdict(r) if isinstance(r, Rule) else r for r in rules],
                "bad_keys": list(bad_keys),
                "extra_models": list(extra_models),
                "batch": dict(batch or {}),
            }
        )
        self._httpd = FakeHTTPServer((host, port), Handler)
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
        self.stopping.set()
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
            "extra_models",
            "outage_s",
            "clear",
            "burst_s",
            "hang_s",
            "image_px",
            "shared_rpm",
            "batch",
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
            for family in FAMILIES:
                if patch.get(family):
                    before = self.endpoints[family]
                    self.endpoints[family] = EndpointConfig.from_dict(patch[family], before)
                    if self.endpoints[family].rpm != before.rpm:
                        self._buckets.pop(family, None)
                    if self.endpoints[family].tpm != before.tpm:
                        self._token_buckets.pop(family, None)
            if "rules" in patch:
                self.rules = [Rule(**r) for r in patch["rules"]]
            self.rules.extend(Rule(**r) for r in patch.get("add_rules", ()))
            if "bad_keys" in patch:
                self.bad_keys = set(patch["bad_keys"])
            if "extra_models" in patch:
                self.extra_models = tuple(str(m) for m in patch["extra_models"])
            if "shared_rpm" in patch:
                self.shared_rpm = int(patch["shared_rpm"]) if patch["shared_rpm"] else None
                self._shared = None
            if patch.get("outage_s"):
                self._outage_until = time.monotonic() + float(patch["outage_s"])
            if patch.get("batch"):
                self.batches.configure(patch["batch"])
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
        for family in FAMILIES:
            self.endpoints[family] = replace(self.endpoints[family], faults={})
        self.rules = []
        self._outage_until = 0.0
        self.batches.configure({"fail_validation": False, "hold": False})

    def _settings_locked(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "burst_s": self.burst_s,
            "hang_s": self.hang_s,
            "image_px": self.image_px,
            "shared_rpm": self.shared_rpm,
            "text": asdict(self.endpoints["text"]),
            "image": asdict(self.endpoints["image"]),
            "rules": [asdict(r) for r in self.rules],
            "bad_keys": len(self.bad_keys),
            "outage_remaining_s": max(0.0, round(self._outage_until - time.monotonic(), 3)),
            "batch": self.batches.settings_dict(),
        }

    # --- exchanges (kept only with ``record_exchanges``)

    def keep_exchange(self, path: str, request: dict[str, Any], status: int, reply: Any) -> None:
        """Keeps one API request body and the reply sent for it."""
        if self.record_exchanges:
            with self._lock:
                self._exchanges.append(Exchange(path, request, status, reply))

    def exchanges(self) -> list[Exchange]:
        """Returns every kept (path, request body, status, reply body), in order."""
        with self._lock:
            return list(self._exchanges)

    # --- ledger

    def ledger(self) -> list[LedgerEntry]:
        """Returns every API request seen so far, in arrival order."""
        with self._lock:
            return list(self._ledger)

    def clear_ledger(self) -> None:
        """Forgets the requests seen so far."""
        with self._lock:
            self._ledger.clear()

    def record(
        self,
        method: str,
        path: str,
        req: Request | None,
        status: int | None,
        outcome: str,
        fault: str | None,
        *,
        batch_id: str | None = None,
        custom_id: str | None = None,
        billable: bool | None = None,
    ) -> None:
        """Adds a ledger entry (``billable`` defaults to what the real API would bill)."""
        if billable is None:
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
                    batch_id=batch_id,
                    custom_id=custom_id,
                )
            )

    # --- request logic (runs in handler threads)

    def _rate_headers(self, family: Family) -> tuple[bool, dict[str, str], float]:
        with self._lock:
            config = self.endpoints[family]
            bucket = self._buckets.get(family)
            if bucket is None:
                enforce = config.rpm is not None
                bucket = Bucket(config.rpm or NOMINAL_RPM, self.burst_s if enforce else 60.0, enforce=enforce)
                self._buckets[family] = bucket
            admitted, remaining, reset, wait = bucket.take()
        headers = {
            "x-ratelimit-limit-requests": str(bucket.rpm),
            "x-ratelimit-remaining-requests": str(remaining),
            "x-ratelimit-reset-requests": go_duration(reset),
        }
        return admitted, headers if config.rate_headers else {}, wait

    def take_tokens(self, req: Request, used: int, headers: dict[str, str]) -> None:
        """Charges a text call's tokens to its family's token limit; raises the API's 429 past it.

        On success the reply's headers gain ``x-ratelimit-*-tokens`` (when headers are on).
        """
        config = self.endpoints[req.family]
        if config.tpm is None or self.in_batch():
            return
        with self._lock:
            bucket = self._token_buckets.get(req.family)
            if bucket is None:
                # Enforced at sub-minute granularity, as OpenAI documents: a few seconds' worth.
                window = max(self.burst_s, 5.0)
                bucket = self._token_buckets[req.family] = Bucket(config.tpm, window, enforce=True)
            admitted, remaining, reset, wait = bucket.take(used)
        if config.rate_headers:
            headers.update(
                {
                    "x-ratelimit-limit-tokens": str(config.tpm),
                    "x-ratelimit-remaining-tokens": str(remaining),
                    "x-ratelimit-reset-tokens": go_duration(reset),
                }
            )
        if not admitted:
            raise Reply(
                429,
                (
                    f"Rate limit reached for {req.model} in organization {ORGANIZATION} on tokens per min "
                    f"(TPM): Limit {config.tpm}, Used {config.tpm - remaining}, Requested {used}. "
                    f"Please try again in {go_duration(wait)}. Visit "
                    "https://platform.openai.com/account/rate-limits to learn more."
                ),
                outcome="429",
                code="rate_limit_exceeded",
                err_type="tokens",
                headers={**headers, **retry_headers(wait, config.retry_after_header)},
                fault="rate_limit",
            )

    def _take_shared(self) -> tuple[bool, float]:
        with self._lock:
            if self._shared is None:
                assert self.shared_rpm is not None
                self._shared = Bucket(self.shared_rpm, self.burst_s, enforce=True)
            admitted, _, _, wait = self._shared.take()
        return admitted, wait

    def begin(self, path: str, body: dict[str, Any], step: str | None) -> Request:
        """Describes an API request and gives it its deterministic random source."""
        family: Family = "text" if path.endswith("/chat/completions") else "image"
        model = body.get("model") if isinstance(body.get("model"), str) else None
        if family == "text":
            prompt = prompt_text(body.get("messages"))
        else:
            prompt = body["prompt"] if isinstance(body.get("prompt"), str) else ""
            model = model or "gpt-image-1"
        key = step or hashlib.sha256(prompt.encode()).hexdigest()
        with self._lock:
            nth = self._occurrences.get((family, key), 0)
            self._occurrences[(family, key)] = nth + 1
            seed = self.seed
        rng = random.Random(f"{seed}|{family}|{key}|{nth}")
        return Request(
            family,
            model,
            step,
            prompt,
            rng,
            f"req_{rng.getrandbits(128):032x}",
            params=tuple(sorted(body)),
        )

    def gate(self, api_key: str | None) -> None:
        """Drops the connection during an outage; refuses a missing or bad key."""
        with self._lock:
            outage = time.monotonic() < self._outage_until and not self.in_batch()
            bad = api_key in self.bad_keys
        if outage:
            raise Drop("dropped", "outage")
        if api_key is None:
            raise Reply(
                401,
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                outcome="401",
            )
        if bad:
            raise Reply(
                401,
                f"Incorrect API key provided: {mask_key(api_key)}. You can find your API "
                "key at https://platform.openai.com/account/api-keys.",
                outcome="401",
                code="invalid_api_key",
            )

    def decide(self, req: Request) -> tuple[str | None, dict[str, str]]:
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
        if self.in_batch():
            return self._draw(req, config), {}
        admitted, headers, wait = self._rate_headers(req.family)
        limit = self.endpoints[req.family].rpm or NOMINAL_RPM
        unit: str | None = None
        if admitted and self.shared_rpm is not None:
            admitted, wait, limit, unit = *self._take_shared(), self.shared_rpm, "requests per min (RPM)"
        if not admitted:
            which = self.endpoints[req.family].retry_after_header
            raise Reply(
                429,
                rate_limit_message(req, limit, wait, unit=unit),
                outcome="429",
                code="rate_limit_exceeded",
                err_type="requests",
                headers={**headers, **retry_headers(wait, which)},
                fault="rate_limit",
            )
        return self._draw(req, config), headers

    def in_batch(self) -> bool:
        """Tells whether this thread is answering a batch line (the Batch API's own pool)."""
        return bool(getattr(self.lane, "batch", False))

    @staticmethod
    def _draw(req: Request, config: EndpointConfig) -> str | None:
        draw = req.rng.random()
        for name in FAULTS:
            draw -= config.faults.get(name, 0.0)
            if draw < 0:
                return name
        return None

    def error_fault(self, fault: str, req: Request, headers: dict[str, str]) -> None:
        """Raises the reply for faults that are not a generated answer."""
        config = self.endpoints[req.family]
        if fault == "429":
            raise Reply(
                429,
                rate_limit_message(req, config.rpm or NOMINAL_RPM, config.retry_after_s),
                outcome="429",
                code="rate_limit_exceeded",
                err_type="requests",
                headers={
                    **headers,
                    **retry_headers(config.retry_after_s, config.retry_after_header),
                },
                fault=fault,
            )
        if fault == "quota":
            raise Reply(
                429,
                "You exceeded your current quota, please check your plan and billing details.",
                outcome="429",
                code="insufficient_quota",
                err_type="insufficient_quota",
                headers=headers,
                fault=fault,
            )
        if fault == "billing_hard_limit":
            # As the images endpoint answers when the account's hard limit is spent.
            raise Reply(
                400,
                "Billing hard limit has been reached",
                outcome="400",
                code="billing_hard_limit_reached",
                err_type="image_generation_user_error" if req.family == "image" else "invalid_request_error",
                headers=headers,
                fault=fault,
            )
        if fault == "billing_not_active":
            raise Reply(
                429,
                "Your account is not active, please check your billing details on our website.",
                outcome="429",
                code="billing_not_active",
                err_type="billing_not_active",
                headers=headers,
                fault=fault,
            )
        if fault == "unverified":
            raise Reply(
                403,
                f"Your organization must be verified to use the model `{req.model}`. Please go to: "
                "https://platform.openai.com/settings/organization/general and click on Verify "
                "Organization. If you just verified, it can take up to 15 minutes for access to propagate.",
                outcome="403",
                headers=headers,
                fault=fault,
            )
        if fault == "500":
            raise Reply(
                500,
                "The server had an error while processing your request. Sorry about that!",
                outcome="500",
                err_type="server_error",
                headers=headers,
                fault=fault,
            )
        if fault == "drop":
            raise Drop("dropped", fault)
        if fault == "content_filter" and req.family == "image":
            raise Reply(
                400,
                "Your request was rejected as a result of our safety system. Your request may "
                "contain content that is not allowed by our safety system.",
                outcome="content_filter",
                code="moderation_blocked",
                err_type="image_generation_user_error",
                headers=headers,
                fault=fault,
            )

    def delay(self, req: Request) -> None:
        if self.in_batch():
            return  # a batch line's pace is the batch settings' line_s
        config = self.endpoints[req.family]
        base = config.latency_ms
        if config.latency_sigma > 0:
            sigma = config.latency_sigma
            base *= math.exp(req.rng.gauss(0.0, sigma) - sigma * sigma / 2)
        delay = (base + req.rng.uniform(-config.jitter_ms, config.jitter_ms)) / 1000
        if delay > 0:
            self.stopping.wait(delay)

    def chat(
        self, req: Request, body: dict[str, Any], api_key: str | None
    ) -> tuple[dict[str, Any], dict[str, str], str]:
        """Answers a chat completion request; raises Reply/Drop for faults."""
        return chat.answer(self, req, body, api_key)

    def images(
        self, req: Request, body: dict[str, Any], api_key: str | None
    ) -> tuple[dict[str, Any], dict[str, str], str]:
        """Answers an image generation request; raises Reply/Drop for faults."""
        return images.answer(self, req, body, api_key)
