"""Event types: the immutable facts genjournal records, and how stored bytes become them.

Every event is a frozen pydantic model. ``AnyEvent`` is the discriminated union of all
types (by ``type``); ``decode_event`` turns stored columns back into an event, lifting
an old ``schema_version`` payload to the current one through the upcaster registry and
refusing, with the event's position in the message, anything it cannot trust: an
unknown type, a schema newer than this code, bytes that do not validate.

A *success* event (``StyleCreated``, ``RoomGenerated``, ``ImageGenerated``) is the paid
result of one work step; the stores keep at most one per ``(stream, step, generation)``.
Failure events are audit records: the step stays pending and a later run tries it again.

A step's first success is its generation 1. ``StepRegenerationRequested`` asks for the
next one (curation: the user did not keep the result); the step is pending again until a
success of that generation lands. Success and failure payloads carry ``generation``,
left out of the stored bytes when it is 1, so journals from before generations read
unchanged and a first-generation event is byte for byte what it always was.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Callable
from json.encoder import encode_basestring as _encode_string
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from journal.errors import CorruptEventError, FutureSchemaError, UnknownEventTypeError

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
SHA256_PATTERN = r"^[0-9a-f]{64}$"
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*")


def new_event_id() -> str:
    """Returns a fresh, unique, time-ordered event id (32 hex digits, UUIDv7 layout).

    48 bits of Unix milliseconds, then 74 random bits: ids sort by creation time, so the
    journal's unique id index grows at its end instead of at random places (random
    UUIDv4 keys scatter B-tree inserts and slow large batches down as the file grows).
    """
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | (rand >> 68 & 0xFFF) << 64 | 0b10 << 62
    value |= rand & 0x3FFF_FFFF_FFFF_FFFF
    return f"{value:032x}"


class Frozen(BaseModel):
    """Base for immutable value models that refuse unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Meta(Frozen):
    """Provenance and cost of a step; an absent (None) key means "not applicable"."""

    provider: str | None = None
    model: str | None = None
    prompt_version: str | None = None
    input_tokens: int | None = Field(default=None, ge=0)
    output_tokens: int | None = Field(default=None, ge=0)
    images: int | None = Field(default=None, ge=0)
    image_size: str | None = None
    image_quality: str | None = None
    latency_ms: int | None = Field(default=None, ge=0)
    attempts: int | None = Field(default=None, ge=0)
    request_id: str | None = None
    #: where ``request_id`` was read: ``x-request-id``, a gateway's header, or ``body.id``
    request_id_source: str | None = None
    #: upstream retries a gateway made behind the answering attempt (LiteLLM says so);
    #: each may have been billed, and none is in ``attempts``
    gateway_retries: int | None = Field(default=None, ge=0)
    #: of ``input_tokens``, those that were image tokens (priced at their own rate)
    input_image_tokens: int | None = Field(default=None, ge=0)
    #: of ``output_tokens``, those that were text tokens (priced at their own rate)
    output_text_tokens: int | None = Field(default=None, ge=0)
    #: the Batch API batch the result came from (priced at the batch tier)
    batch_id: str | None = None
    #: the result's line in that batch's output or error file (the line's ``id``)
    batch_line: str | None = None


# --- payload building blocks -------------------------------------------------------


class CatalogEntry(Frozen):
    """Names one sub-category or room type of a plan."""

    slug: str = Field(pattern=SLUG_PATTERN)
    name: str = Field(min_length=1, max_length=200)


class PlanSpec(Frozen):
    """Describes the work a run was asked to do: the catalogue and per-item counts."""

    languages: tuple[str, ...] = Field(default=("en",), min_length=1, max_length=20)
    images_per_style: int = Field(default=3, ge=0, le=20)
    images_per_room: int = Field(default=3, ge=0, le=20)
    subcategories: tuple[CatalogEntry, ...] = Field(min_length=1, max_length=100_000)
    room_types: tuple[CatalogEntry, ...] = Field(default=(), max_length=1_000)

    @model_validator(mode="after")
    def _unique(self) -> PlanSpec:
        for field in ("languages",):
            values = getattr(self, field)
            if len(set(values)) != len(values):
                raise ValueError(f"{field} has duplicates")
        for lang in self.languages:
            if not _LANGUAGE_TAG.fullmatch(lang):
                raise ValueError(f"language {lang!r} is not a language tag (like en, pt-BR)")
        for field in ("subcategories", "room_types"):
            seen: set[str] = set()
            for entry in getattr(self, field):
                if entry.slug in seen:
                    raise ValueError(f"{field}: slug {entry.slug!r} appears twice")
                seen.add(entry.slug)
        return self

    def canonical_json(self) -> str:
        """Returns the plan as canonical JSON (sorted keys, no spaces)."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))

    def plan_hash(self) -> str:
        """Returns the sha256 of the plan's canonical JSON."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()


class Color(Frozen):
    """Names a colour and gives its hex value."""

    name: str = Field(min_length=1)
    hex: str = Field(pattern=r"^#[0-9a-fA-F]{6}$")


class Prose(Frozen):
    """Holds hybrid content: a poetic passage and a factual one."""

    poetic: str
    factual: str


class StepError(Frozen):
    """Describes why a step failed, redacted and safe to show."""

    kind: str
    message: str
    status: int | None = None
    retryable: bool = True


# --- payloads ----------------------------------------------------------------------


class RunStartedData(Frozen):
    """Records what a run set out to do: plan, models, settings, code version."""

    plan: PlanSpec
    plan_hash: str
    plan_source: str
    provider: str
    text_model: str | None = None
    image_model: str | None = None
    settings: dict[str, Any] = Field(default_factory=dict)
    code_version: str
    host: str
    pid: int
    steps_planned: int = Field(ge=0)
    steps_pending: int = Field(ge=0)


RunOutcome = Literal["completed", "failed", "interrupted", "aborted", "budget"]


class RunFinishedData(Frozen):
    """Records how a run ended and what it did."""

    outcome: RunOutcome
    counts: dict[str, int] = Field(default_factory=dict)
    duration_ms: int = Field(ge=0)
    message: str | None = None
    #: what the pacing learned and did, per call family (and ``shared``, when a limit
    #: over both was detected): the limit per minute it paced under, the calls in flight
    #: at peak, the 429s, the seconds attempts waited (summed over attempts)
    pacing: dict[str, dict[str, Any]] = Field(default_factory=dict)


class StepStartedData(Frozen):
    """Records that a paid call for a step is about to be sent (money at risk)."""

    stream: str
    step: str
    kind: Literal["text", "image"]
    #: the generation the call is for (1 = the first; left out of the stored bytes when 1)
    generation: int = Field(default=1, ge=1)


class StyleCreatedData(Frozen):
    """Carries a style's AI-chosen approach, colour, names and hybrid content."""

    subcategory: str = Field(pattern=SLUG_PATTERN)
    name: dict[str, str]
    approach: str
    color: Color
    content: dict[str, Prose]
    keywords: tuple[str, ...] = ()
    #: which generation of the step this is (1 = the first; see StepRegenerationRequested)
    generation: int = Field(default=1, ge=1)


class StyleFailedData(Frozen):
    """Records why a style's content step failed."""

    subcategory: str = Field(pattern=SLUG_PATTERN)
    error: StepError
    #: which generation of the step this is (1 = the first; see StepRegenerationRequested)
    generation: int = Field(default=1, ge=1)


class RoomGeneratedData(Frozen):
    """Carries one room profile of a style."""

    room_type: str = Field(pattern=SLUG_PATTERN)
    name: dict[str, str]
    content: dict[str, Prose]
    key_pieces: tuple[str, ...] = ()
    materials: tuple[str, ...] = ()
    #: which generation of the step this is (1 = the first; see StepRegenerationRequested)
    generation: int = Field(default=1, ge=1)


class RoomFailedData(Frozen):
    """Records why a room profile step failed."""

    room_type: str = Field(pattern=SLUG_PATTERN)
    error: StepError
    #: which generation of the step this is (1 = the first; see StepRegenerationRequested)
    generation: int = Field(default=1, ge=1)


class ImageGeneratedData(Frozen):
    """Names a saved image blob by its sha256 and says what it depicts."""

    target: Literal["style", "room"]
    room_type: str | None = Field(default=None, pattern=SLUG_PATTERN)
    index: int = Field(ge=0)
    sha256: str = Field(pattern=SHA256_PATTERN)
    path: str
    media_type: str = "image/png"
    bytes: int = Field(ge=0)
    width: int | None = None
    height: int | None = None
    prompt: str | None = None
    #: which generation of the step this is (1 = the first; see StepRegenerationRequested)
    generation: int = Field(default=1, ge=1)


class ImageFailedData(Frozen):
    """Records why an image step failed."""

    target: Literal["style", "room"]
    room_type: str | None = Field(default=None, pattern=SLUG_PATTERN)
    index: int = Field(ge=0)
    error: StepError
    #: which generation of the step this is (1 = the first; see StepRegenerationRequested)
    generation: int = Field(default=1, ge=1)


class StepRegenerationRequestedData(Frozen):
    """Asks for a done step's next generation, and says why (``genjournal regenerate``)."""

    #: the generation asked for (the superseded result's generation + 1)
    generation: int = Field(ge=2)
    #: the id of the success event this supersedes
    supersedes: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=500)
    #: the step whose regeneration brought this one along (a room's images follow it)
    cause: str | None = None
    #: groups the requests of one ``regenerate`` call (or one dashboard click)
    request: str = Field(min_length=1, max_length=64)
    #: who asked: ``cli`` or ``dashboard``
    source: Literal["cli", "dashboard"] = "cli"


BatchStatus = Literal[
    "validating", "failed", "in_progress", "finalizing", "completed", "expired", "cancelling", "cancelled"
]


class BatchSubmittedData(Frozen):
    """Records a Batch API batch holding some steps' requests: paid work in flight outside the run.

    ``steps`` are ``[stream, step, generation]`` triples, one per request line, whose
    ``custom_id`` is ``<stream>|<step>|<generation>``; ``steps_hash`` is the sha256 of
    their sorted JSON (the batch's ``metadata`` carries it too). ``adopted``: the batch
    was found on the account, tagged with this journal, and journaled after the fact.
    """

    batch_id: str = Field(min_length=1, max_length=200)
    input_file_id: str = Field(min_length=1, max_length=200)
    endpoint: str
    wave: int = Field(ge=0)
    steps: tuple[tuple[str, str, int], ...]
    steps_hash: str
    estimated_cost_usd: float | None = Field(default=None, ge=0)
    adopted: bool = False
    #: the id of the journal the batch is tagged with (see ``generator.batch.journal_id``)
    journal_id: str | None = None


class BatchFinishedData(Frozen):
    """Records that a batch ended and every line of its output and error files was collected."""

    batch_id: str = Field(min_length=1, max_length=200)
    status: BatchStatus
    request_counts: dict[str, int] = Field(default_factory=dict)
    output_file_id: str | None = None
    error_file_id: str | None = None
    #: lines journaled as successes, as failures, and skipped (their step already done)
    succeeded: int = Field(default=0, ge=0)
    failed: int = Field(default=0, ge=0)
    skipped: int = Field(default=0, ge=0)


# --- events ------------------------------------------------------------------------


class Event(Frozen):
    """Base of every event: what a caller appends (the store adds the envelope)."""

    id: str = Field(default_factory=new_event_id, min_length=1, max_length=64)
    type: str
    schema_version: int
    run_id: str | None = None
    step: str | None = None
    data: Frozen
    meta: Meta = Meta()

    SUCCESS: ClassVar[bool] = False

    @property
    def is_success(self) -> bool:
        """Tells whether this is the paid result of a step (unique per stream and step)."""
        return self.SUCCESS


class RunStarted(Event):
    """A generator run began."""

    type: Literal["RunStarted"] = "RunStarted"
    schema_version: Literal[1] = 1
    data: RunStartedData


class RunFinished(Event):
    """A generator run ended."""

    type: Literal["RunFinished"] = "RunFinished"
    schema_version: Literal[1] = 1
    data: RunFinishedData


class StepStarted(Event):
    """A paid provider call for a step is about to go out."""

    type: Literal["StepStarted"] = "StepStarted"
    schema_version: Literal[1] = 1
    data: StepStartedData


class StyleCreated(Event):
    """A style's content was generated (success of step ``content``)."""

    type: Literal["StyleCreated"] = "StyleCreated"
    schema_version: Literal[2] = 2
    data: StyleCreatedData
    SUCCESS: ClassVar[bool] = True


class StyleFailed(Event):
    """A style's content step failed."""

    type: Literal["StyleFailed"] = "StyleFailed"
    schema_version: Literal[1] = 1
    data: StyleFailedData


class RoomGenerated(Event):
    """A room profile was generated (success of step ``room:<slug>``)."""

    type: Literal["RoomGenerated"] = "RoomGenerated"
    schema_version: Literal[1] = 1
    data: RoomGeneratedData
    SUCCESS: ClassVar[bool] = True


class RoomFailed(Event):
    """A room profile step failed."""

    type: Literal["RoomFailed"] = "RoomFailed"
    schema_version: Literal[1] = 1
    data: RoomFailedData


class ImageGenerated(Event):
    """An image was generated and its blob saved (success of an ``image:…`` step)."""

    type: Literal["ImageGenerated"] = "ImageGenerated"
    schema_version: Literal[2] = 2
    data: ImageGeneratedData
    SUCCESS: ClassVar[bool] = True


class ImageFailed(Event):
    """An image step failed."""

    type: Literal["ImageFailed"] = "ImageFailed"
    schema_version: Literal[1] = 1
    data: ImageFailedData


class StepRegenerationRequested(Event):
    """A done step is to be done again (a new generation); the old result stays in history."""

    type: Literal["StepRegenerationRequested"] = "StepRegenerationRequested"
    schema_version: Literal[1] = 1
    data: StepRegenerationRequestedData


class BatchSubmitted(Event):
    """A batch of step requests was submitted to the Batch API (or adopted from the account)."""

    type: Literal["BatchSubmitted"] = "BatchSubmitted"
    schema_version: Literal[1] = 1
    data: BatchSubmittedData


class BatchFinished(Event):
    """A batch ended and its results were collected into success and failure events."""

    type: Literal["BatchFinished"] = "BatchFinished"
    schema_version: Literal[1] = 1
    data: BatchFinishedData


EVENT_CLASSES: tuple[type[Event], ...] = (
    RunStarted,
    RunFinished,
    StepStarted,
    StyleCreated,
    StyleFailed,
    RoomGenerated,
    RoomFailed,
    ImageGenerated,
    ImageFailed,
    StepRegenerationRequested,
    BatchSubmitted,
    BatchFinished,
)

AnyEvent = Annotated[
    Union[  # noqa: UP007 - a discriminated union reads best spelled out
        RunStarted,
        RunFinished,
        StepStarted,
        StyleCreated,
        StyleFailed,
        RoomGenerated,
        RoomFailed,
        ImageGenerated,
        ImageFailed,
        StepRegenerationRequested,
        BatchSubmitted,
        BatchFinished,
    ],
    Field(discriminator="type"),
]

EVENT_TYPES: dict[str, type[Event]] = {cls.model_fields["type"].default: cls for cls in EVENT_CLASSES}
CURRENT_SCHEMA: dict[str, int] = {
    name: cls.model_fields["schema_version"].default for name, cls in EVENT_TYPES.items()
}
SUCCESS_TYPES: frozenset[str] = frozenset(name for name, cls in EVENT_TYPES.items() if cls.SUCCESS)

FAILURE_TYPES: frozenset[str] = frozenset({"StyleFailed", "RoomFailed", "ImageFailed"})
REGENERATION_TYPE = "StepRegenerationRequested"


def generation_of(event: Event) -> int:
    """Returns the step generation a success or failure event is of, or a request asks for (else 1)."""
    return int(getattr(event.data, "generation", 1))


def payload_generation(data: dict[str, Any]) -> int:
    """Returns the generation of a stored payload (a plain dict; absent means 1)."""
    value = data.get("generation", 1)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 1 else 1


_ADAPTERS: dict[str, TypeAdapter[Any]] = {name: TypeAdapter(cls) for name, cls in EVENT_TYPES.items()}

# --- upcasting ---------------------------------------------------------------------

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
UPCASTERS: dict[tuple[str, int], Upcaster] = {}


def upcaster(type_name: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Registers a function lifting a payload of ``type_name`` from one schema version."""

    def register(func: Upcaster) -> Upcaster:
        key = (type_name, from_version)
        if key in UPCASTERS:
            raise ValueError(f"two upcasters for {type_name} v{from_version}")
        UPCASTERS[key] = func
        return func

    return register


@upcaster("StyleCreated", 1)
def _style_created_v1(data: dict[str, Any]) -> dict[str, Any]:
    # v1 (single-language era) stored `name` and `content` as plain values and `color`
    # as a bare hex string; v2 keys text by language and names the colour.
    lifted = dict(data)
    language = lifted.pop("language", "en")
    if isinstance(lifted.get("name"), str):
        lifted["name"] = {language: lifted["name"]}
    content = lifted.get("content")
    if isinstance(content, dict) and set(content) == {"poetic", "factual"}:
        lifted["content"] = {language: content}
    color = lifted.get("color")
    if isinstance(color, str):
        lifted["color"] = {"name": color, "hex": color}
    return lifted


@upcaster("ImageGenerated", 1)
def _image_generated_v1(data: dict[str, Any]) -> dict[str, Any]:
    # v1 did not store the blob path; it is derived from the hash, as v2 writes it.
    lifted = dict(data)
    sha = lifted.get("sha256")
    if isinstance(sha, str) and "path" not in lifted:
        lifted["path"] = blob_relpath(sha)
    lifted.setdefault("media_type", "image/png")
    return lifted


def blob_relpath(sha256: str) -> str:
    """Returns the data-dir-relative path of the image blob with this hash."""
    return f"images/{sha256[:2]}/{sha256}.png"


# --- decoding ----------------------------------------------------------------------


def _quote(value: str | None) -> str:
    return "null" if value is None else _encode_string(value)


def decode_event(
    *,
    position: int | None,
    event_id: str,
    type_name: str,
    schema_version: int,
    run_id: str | None,
    step: str | None,
    data: str | dict[str, Any],
    meta: str | dict[str, Any],
) -> Event:
    """Rebuilds a stored event, upcasting old payloads; refuses what it cannot trust."""
    adapter = _ADAPTERS.get(type_name)
    if adapter is None:
        raise UnknownEventTypeError(type_name, position=position)
    current = CURRENT_SCHEMA[type_name]
    if schema_version > current:
        raise FutureSchemaError(type_name, schema_version, current, position=position)
    where = f" at position {position}" if position is not None else ""
    try:
        if schema_version == current and isinstance(data, str) and isinstance(meta, str):
            # Fast path: let pydantic-core parse the JSON in one pass.
            text = (
                f'{{"id":{_quote(event_id)},"type":{_quote(type_name)},'
                f'"schema_version":{schema_version},"run_id":{_quote(run_id)},'
                f'"step":{_quote(step)},"data":{data},"meta":{meta}}}'
            )
            return adapter.validate_json(text)  # type: ignore[no-any-return]
        payload = json.loads(data) if isinstance(data, str) else dict(data)
        meta_dict = json.loads(meta) if isinstance(meta, str) else dict(meta)
        if not isinstance(payload, dict):
            raise CorruptEventError(f"event{where} has a non-object payload", position=position)
        for version in range(schema_version, current):
            lift = UPCASTERS.get((type_name, version))
            if lift is None:
                raise CorruptEventError(
                    f"event {type_name!r}{where} has schema_version {version} and no upcaster",
                    position=position,
                )
            payload = lift(payload)
        return adapter.validate_python(  # type: ignore[no-any-return]
            {
                "id": event_id,
                "type": type_name,
                "schema_version": current,
                "run_id": run_id,
                "step": step,
                "data": payload,
                "meta": meta_dict,
            }
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(part) for part in first.get("loc", ()))
        raise CorruptEventError(
            f"event {type_name!r}{where} does not validate: {loc}: {first.get('msg')}",
            position=position,
        ) from exc
    except json.JSONDecodeError as exc:
        raise CorruptEventError(f"event {type_name!r}{where} is not valid JSON", position=position) from exc


def decode_raw(
    *,
    position: int | None,
    type_name: str,
    schema_version: int,
    data: str | dict[str, Any],
    meta: str | dict[str, Any],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Returns an event's payload and meta as plain dicts, upcast to the current schema.

    The fast read path for folds over millions of events: it refuses unknown types,
    future schemas and undecodable JSON like ``decode_event``, but leaves the payload's
    shape to the caller (the store has verified the row's checksum; the models validated
    it when it was written).
    """
    if type_name not in CURRENT_SCHEMA:
        raise UnknownEventTypeError(type_name, position=position)
    current = CURRENT_SCHEMA[type_name]
    if schema_version > current:
        raise FutureSchemaError(type_name, schema_version, current, position=position)
    try:
        payload = json.loads(data) if isinstance(data, str) else data
        meta_dict = json.loads(meta) if isinstance(meta, str) else meta
    except json.JSONDecodeError as exc:
        raise CorruptEventError(
            f"event {type_name!r} at position {position} is not valid JSON", position=position
        ) from exc
    if not isinstance(payload, dict) or not isinstance(meta_dict, dict):
        raise CorruptEventError(f"event at position {position} has a non-object payload", position=position)
    for version in range(schema_version, current):
        lift = UPCASTERS.get((type_name, version))
        if lift is None:
            raise CorruptEventError(
                f"event {type_name!r} at position {position} has schema_version {version} and no upcaster",
                position=position,
            )
        payload = lift(payload)
    return payload, meta_dict


def dump_data(event: Event) -> str:
    """Serialises an event's payload as compact JSON (None values kept; generation 1 left out)."""
    return event.data.model_dump_json(exclude=_first_generation(event))


def data_dict(event: Event) -> dict[str, Any]:
    """Returns an event's payload as JSON-ready data (as ``dump_data`` stores it)."""
    return event.data.model_dump(mode="json", exclude=_first_generation(event))


def _first_generation(event: Event) -> set[str] | None:
    # A first-generation payload is stored as it was before generations existed.
    if getattr(event.data, "generation", None) == 1 and event.type != REGENERATION_TYPE:
        return {"generation"}
    return None


def dump_meta(event: Event) -> str:
    """Serialises an event's meta as compact JSON without the not-applicable keys."""
    return event.meta.model_dump_json(exclude_none=True)
