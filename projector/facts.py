"""Audit facts: what each style's calls used and what each run did, folded purely.

Two small read models sit next to the style documents and are written in the same
commit as the projection checkpoint:

* **style facts** — per style stream, additive usage sums keyed by
  ``(run_id, day, kind, model, image_size, image_quality)``; ``day`` is the UTC date of
  the event, ``kind`` is ``text`` or ``image``, and ``""`` stands for "not recorded".
  The counters (``COST_FIELDS``): outcome events (``steps``), failure events, failure
  events that carry usage (the provider billed them), attempts, input and output
  tokens, images, ``unmetered_images`` — images whose call reported no token usage
  (priced per image rather than per token; see ``projector.prices``) — and the parts of
  the token totals priced at their own rates (``input_image_tokens``,
  ``output_text_tokens``: GPT image usage details).
* **run facts** — per ``run:<id>`` stream: when it started and finished, the outcome,
  provider, models and image options, the plan hash, and how many paid calls it
  started (``StepStarted``) per kind. A run's *outcomes* per kind are the ``steps``
  of its style facts, so ``started - outcomes`` counts paid calls whose result never
  reached the journal (the crash overhead).

Like ``projector.fold.apply``, ``apply_style_facts`` and ``apply_run_facts`` are pure
and ignore an event whose stream version is not newer than the facts' ``version``, so
replaying an event never counts it twice: that guard is what lets the MongoDB store
(no transactions) write facts with the same version-guarded upserts as documents.
Money is never stored: it depends on a price table that changes, and is computed when
a report is asked for.
"""

from __future__ import annotations

from typing import Any

from journal.errors import CorruptEventError
from journal.store import RawEvent
from journal.streams import RUN_PREFIX, STYLE_PREFIX

#: the suffix of ``kind`` for results that came from a Batch API batch (``text-batch``,
#: ``image-batch``): priced at the batch tier, and not outcomes of a run's StepStarted calls
BATCH_KIND_SUFFIX = "-batch"
#: (run_id, day, kind, model, image_size, image_quality); "" = not recorded
CostKey = tuple[str, str, str, str, str, str]
COST_KEY_FIELDS = ("run_id", "day", "kind", "model", "image_size", "image_quality")
COST_FIELDS = (
    "steps",
    "failures",
    "billed_failures",
    "attempts",
    "input_tokens",
    "output_tokens",
    "images",
    "unmetered_images",
    "input_image_tokens",
    "output_text_tokens",
)
#: the run fact fields, in the order they are stored
RUN_FIELDS = (
    "run_id",
    "version",
    "started_position",
    "started_at",
    "finished_at",
    "outcome",
    "provider",
    "text_model",
    "image_model",
    "image_size",
    "image_quality",
    "plan_hash",
    "host",
    "pid",
    "started_text",
    "started_image",
)

StyleFacts = dict[str, Any]
RunFacts = dict[str, Any]

_OUTCOME_TYPES = frozenset(
    {"StyleCreated", "StyleFailed", "RoomGenerated", "RoomFailed", "ImageGenerated", "ImageFailed"}
)
_FAILURE_TYPES = frozenset({"StyleFailed", "RoomFailed", "ImageFailed"})
_IMAGE_TYPES = frozenset({"ImageGenerated", "ImageFailed"})


def new_style_facts(slug: str) -> StyleFacts:
    """Returns the empty facts of a style that has no events yet."""
    return {"slug": slug, "version": 0, "costs": {}}


def apply_style_facts(facts: StyleFacts, event: RawEvent) -> StyleFacts:
    """Adds one style-stream event to its style's facts, in place; returns the facts.

    An event whose version is not newer than the facts' is ignored (idempotent replay).
    """
    # The hot loop of rebuilds (once per event): lookups bound once, nothing allocated twice.
    version = event.version
    if version <= facts["version"]:
        return facts
    facts["version"] = version
    type_name = event.type
    if type_name not in _OUTCOME_TYPES:
        return facts
    meta = event.meta
    try:
        get = meta.get
        key = (
            event.run_id or "",
            event.recorded_at[:10],
            ("image" if type_name in _IMAGE_TYPES else "text")
            + (BATCH_KIND_SUFFIX if get("batch_id") else ""),
            get("model") or "",
            get("image_size") or "",
            get("image_quality") or "",
        )
        costs = facts["costs"]
        sums = costs.get(key)
        if sums is None:
            sums = costs[key] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        images = get("images") or 0
        metered = "input_tokens" in meta or "output_tokens" in meta
        sums[0] += 1
        if type_name in _FAILURE_TYPES:
            sums[1] += 1
            if metered or images:
                sums[2] += 1
        sums[3] += get("attempts") or 0
        if metered:
            sums[4] += get("input_tokens") or 0
            sums[5] += get("output_tokens") or 0
            sums[8] += get("input_image_tokens") or 0
            sums[9] += get("output_text_tokens") or 0
        sums[6] += images
        if images and not metered:
            sums[7] += images
    except (TypeError, AttributeError) as exc:
        raise CorruptEventError(
            f"event {type_name!r} at position {event.position} has unusable meta ({exc!r})",
            position=event.position,
        ) from exc
    return facts


def new_run_facts(run_id: str) -> RunFacts:
    """Returns the empty facts of a run that has no events yet."""
    return {
        "run_id": run_id,
        "version": 0,
        "started_position": None,
        "started_at": None,
        "finished_at": None,
        "outcome": None,
        "provider": None,
        "text_model": None,
        "image_model": None,
        "image_size": None,
        "image_quality": None,
        "plan_hash": None,
        "host": None,
        "pid": None,
        "started_text": 0,
        "started_image": 0,
    }


def apply_run_facts(facts: RunFacts, event: RawEvent) -> RunFacts:
    """Folds one run-stream event into its run's facts, in place; returns the facts."""
    if event.version <= facts["version"]:
        return facts
    facts["version"] = event.version
    data = event.data
    try:
        if event.type == "StepStarted":
            if data["kind"] == "image":
                facts["started_image"] += 1
            else:
                facts["started_text"] += 1
        elif event.type == "RunStarted":
            settings = data.get("settings") or {}
            facts["started_position"] = event.position
            facts["started_at"] = event.recorded_at
            facts["provider"] = data["provider"]
            facts["text_model"] = data.get("text_model")
            facts["image_model"] = data.get("image_model")
            facts["image_size"] = settings.get("image_size")
            facts["image_quality"] = settings.get("image_quality")
            facts["plan_hash"] = data["plan_hash"]
            facts["host"] = data.get("host")
            facts["pid"] = data.get("pid")
        elif event.type == "RunFinished":
            facts["finished_at"] = event.recorded_at
            facts["outcome"] = data["outcome"]
    except (KeyError, TypeError, AttributeError) as exc:
        raise CorruptEventError(
            f"event {event.type!r} at position {event.position} lacks what its type promises ({exc!r})",
            position=event.position,
        ) from exc
    return facts


def cost_rows(facts: StyleFacts) -> list[tuple[Any, ...]]:
    """Returns a style's facts as rows ``(slug, *key, *counters)`` sorted by key."""
    slug = facts["slug"]
    return [(slug, *key, *sums) for key, sums in sorted(facts["costs"].items())]


def style_facts_from_rows(slug: str, version: int, rows: list[tuple[Any, ...]]) -> StyleFacts:
    """Rebuilds a style's facts from ``(*key, *counters)`` rows and its version."""
    width = len(COST_KEY_FIELDS)
    return {
        "slug": slug,
        "version": version,
        "costs": {tuple(row[:width]): list(row[width:]) for row in rows},
    }


def fold_facts(events: list[RawEvent]) -> tuple[dict[str, StyleFacts], dict[str, RunFacts]]:
    """Folds events into style facts keyed by slug and run facts keyed by run id."""
    styles: dict[str, StyleFacts] = {}
    runs: dict[str, RunFacts] = {}
    for event in events:
        stream = event.stream
        if stream.startswith(STYLE_PREFIX):
            slug = stream[len(STYLE_PREFIX) :]
            found = styles.get(slug)
            if found is None:
                found = styles[slug] = new_style_facts(slug)
            apply_style_facts(found, event)
        elif stream.startswith(RUN_PREFIX):
            run_id = stream[len(RUN_PREFIX) :]
            run = runs.get(run_id)
            if run is None:
                run = runs[run_id] = new_run_facts(run_id)
            apply_run_facts(run, event)
    return styles, runs
