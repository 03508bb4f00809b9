"""Request parameters, checked: the CLI's filters as query parameters, run requests, cursors.

Every parser raises ``BadRequest`` with a message naming the parameter and what it
accepts; the application answers it with a 400 (JSON under ``/api``, a page elsewhere).
The accepted values are the CLI's: ``history [STYLE] --type --run --since --until
--limit`` becomes ``/api/history?style=&type=&run=&since=&until=&limit=``, and
``costs --by`` becomes ``/api/costs?by=``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import QueryParams

from generator.progress import run_outcome
from genjournal.web.runs import RunRequest
from journal.events import EVENT_TYPES
from journal.streams import style_slug
from projector.audit import COST_GROUPS, check_types, parse_when

EVENT_TYPE_NAMES = tuple(sorted(EVENT_TYPES))
COSTS_BY: tuple[str, ...] = COST_GROUPS
MAX_LIMIT = 100_000
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


class BadRequest(ValueError):
    """A request parameter is malformed; the message says which and what it accepts."""


def money(value: float | None) -> str:
    """Formats dollars for a page (``unknown`` for a missing price, never zero)."""
    if value is None:
        return "unknown"
    return f"${value:,.4f}" if 0 < abs(value) < 0.01 else f"${value:,.2f}"


def _one(params: Mapping[str, str], name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def _many(params: Mapping[str, str], name: str) -> list[str]:
    getlist = getattr(params, "getlist", None)
    if getlist is not None:
        return list(getlist(name))
    value = params.get(name)
    return [value] if value is not None else []


def parse_int(params: Mapping[str, str], name: str, *, low: int, high: int) -> int | None:
    """Returns an integer parameter in ``[low, high]``, None when absent or empty."""
    text = _one(params, name)
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        raise BadRequest(f"{name} must be an integer, not {text[:40]!r}") from None
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}, not {value}")
    return value


def parse_moment(params: Mapping[str, str], name: str) -> str | None:
    """Returns a time parameter, checked like ``history --since``: ISO 8601 or an age (``2h``)."""
    text = _one(params, name)
    if text is None:
        return None
    try:
        parse_when(text)
    except ValueError as exc:
        raise BadRequest(f"{name}: {exc}") from None
    return text


@dataclass(frozen=True)
class HistoryQuery:
    """The timeline's filters, as ``genjournal history`` takes them."""

    style: str | None = None
    types: tuple[str, ...] = ()
    run: str | None = None
    since: str | None = None
    until: str | None = None
    limit: int | None = None

    @classmethod
    def parse(cls, params: QueryParams, *, default_limit: int | None) -> HistoryQuery:
        """Reads and checks the filters from query parameters."""
        style = _one(params, "style")
        if style is not None and len(style) > 200:
            raise BadRequest("style is too long to be a style slug or stream")
        types = tuple(dict.fromkeys(t.strip() for t in _many(params, "type") if t.strip()))
        try:
            check_types(types)
        except ValueError as exc:
            raise BadRequest(f"type: {exc}") from None
        run = _one(params, "run")
        if run is not None and len(run) > 200:
            raise BadRequest("run is too long to be a run id")
        since = parse_moment(params, "since")
        until = parse_moment(params, "until")
        limit = parse_int(params, "limit", low=1, high=MAX_LIMIT)
        return cls(style, types, run, since, until, limit if limit is not None else default_limit)

    def as_params(self) -> list[tuple[str, str]]:
        """Returns the filters as query parameters (for links and forms)."""
        out = [
            ("style", self.style),
            *(("type", t) for t in self.types),
            ("run", self.run),
            ("since", self.since),
            ("until", self.until),
            ("limit", str(self.limit) if self.limit is not None else None),
        ]
        return [(key, value) for key, value in out if value is not None]


def parse_costs_by(params: Mapping[str, str]) -> str:
    """Returns the ``by`` grouping of a costs request (default ``model``, as the audit API's)."""
    by = _one(params, "by") or "model"
    if by not in COSTS_BY:
        raise BadRequest(f"by must be one of {', '.join(COSTS_BY)}, not {by[:40]!r}")
    return by


def parse_cursor(last_event_id: str | None, after: str | None) -> int | None:
    """Returns where an SSE client resumes: ``Last-Event-ID`` first, then ``?after=``."""
    for name, text in (("Last-Event-ID", last_event_id), ("after", after)):
        if text is None or not text.strip():
            continue
        try:
            value = int(text.strip())
        except ValueError:
            raise BadRequest(f"{name} must be a journal position (an integer), not {text[:40]!r}") from None
        if value < 0:
            raise BadRequest(f"{name} must not be negative")
        return value
    return None


def parse_run_request(body: Mapping[str, Any]) -> RunRequest:
    """Reads a start-run request: ``{"limit": N, "subcategories": [slug, …]}``."""
    limit = body.get("limit")
    if limit in (None, ""):
        limit = None
    elif isinstance(limit, str) and limit.strip().isdigit():
        limit = int(limit.strip())
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise BadRequest("limit must be a positive integer")
    subs = body.get("subcategories") or []
    if isinstance(subs, str):
        subs = [subs]
    if not isinstance(subs, list) or not all(isinstance(s, str) and _SLUG.match(s) for s in subs):
        raise BadRequest("subcategories must be a list of style slugs")
    return RunRequest(limit=limit, subcategories=tuple(dict.fromkeys(subs)))


def _regeneration_note(env: dict[str, Any]) -> str | None:
    """Says which generation a regeneration request asks for, and why."""
    if env["type"] != "StepRegenerationRequested":
        return None
    data = env.get("data") or {}
    cause = f", following {data['cause']}" if data.get("cause") else ""
    return f"generation {data.get('generation')}: “{data.get('reason', '')}”{cause}"


def timeline_rows(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Turns envelopes into the timeline table's rows (what ``history`` prints as a table)."""
    rows = []
    for env in events:
        data, meta = env.get("data") or {}, env.get("meta") or {}
        error = data.get("error") if isinstance(data, dict) else None
        tokens = None
        if meta.get("input_tokens") is not None or meta.get("output_tokens") is not None:
            tokens = f"{meta.get('input_tokens') or 0:,} / {meta.get('output_tokens') or 0:,}"
        stream = env["stream"]
        rows.append(
            {
                "position": env["position"],
                "time": env["recorded_at"],
                "run": env["run_id"],
                "stream": stream,
                "slug": style_slug(stream),
                "step": env["step"],
                "type": env["type"],
                "model": meta.get("model"),
                "tokens": tokens,
                "images": meta.get("images"),
                "error": f"{error.get('kind')}: {error.get('message')}" if isinstance(error, dict) else None,
                "outcome": run_outcome(data) if env["type"] == "RunFinished" else _regeneration_note(env),
            }
        )
    return rows
