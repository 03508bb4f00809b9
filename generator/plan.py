"""Loading and validating a plan: which styles and rooms to generate, in what counts.

A plan is a TOML file (format in ``docs/design.md``); ``load_plan(None)`` loads the
shipped 60 x 24 catalogue (``generator/catalog.toml``). Everything is checked before a
caller writes anything: readable UTF-8 TOML, known keys only, the right types (TOML is
typed, so ``images_per_style = "3"`` is refused rather than coerced), slugs matching
``SLUG_PATTERN`` (a slug names blob and stream paths, so it must never reach outside
the data directory), unique slugs, non-blank one-line names, language tags, and sane
counts. Any problem raises ``PlanError`` whose message is one line naming the file,
the entry and the problem::

    plan my.toml: subcategories[3] (slug "Art Deco", line 14): slug must match
    ^[a-z0-9][a-z0-9-]{0,62}$ (try "art-deco")

(wrapped here; the real message is one line).

Entries are numbered from 0, in file order, as ``[[subcategories]]`` tables appear.
"""

from __future__ import annotations

import bisect
import datetime as dt
import difflib
import importlib.resources
import json
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from journal.errors import ConfigError
from journal.events import SLUG_PATTERN, CatalogEntry, PlanSpec
from journal.redaction import has_unprintable

#: the ``source`` of the shipped catalogue, as recorded in ``RunStarted.plan_source``
DEFAULT_SOURCE = "default"
#: a plan larger than this is refused before parsing (10,000 entries need ~1 MB)
MAX_PLAN_BYTES = 16 * 1024 * 1024

_DEFAULT_LABEL = "default (generator/catalog.toml)"
_LISTS = ("subcategories", "room_types")
_TOP_KEYS = tuple(PlanSpec.model_fields)
_ENTRY_KEYS = tuple(CatalogEntry.model_fields)
# BCP 47 in practice: a 2-3 letter language, then subtags (script, region, variant).
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*")
_TOML_POSITION = re.compile(
    r"^(?P<msg>.*?) \(at (?:line (?P<line>\d+), column (?P<col>\d+)|end of document)\)$"
)


class PlanError(ConfigError):
    """Reports a plan that cannot be used: one line naming the file, the entry and the problem."""

    def __init__(
        self,
        source: str,
        problem: str,
        *,
        entry: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        where = f"{entry}: " if entry else ""
        super().__init__(_one_line(f"plan {source}: {where}{problem}"))
        self.source = source
        self.entry = entry
        self.problem = problem
        self.line = line
        self.column = column


@dataclass(frozen=True)
class LoadedPlan:
    """Holds a validated plan, where it came from, and its hash."""

    spec: PlanSpec
    source: str
    plan_hash: str


def load_plan(path: str | os.PathLike[str] | None = None) -> LoadedPlan:
    """Reads and validates a plan file, or the shipped catalogue when ``path`` is None."""
    if path is None:
        data = importlib.resources.files("generator").joinpath("catalog.toml").read_bytes()
        return parse_plan(data, source=DEFAULT_SOURCE, label=_DEFAULT_LABEL)
    label = os.fspath(path)
    return parse_plan(_read(Path(path), label), source=label, label=label)


def parse_plan(data: bytes | str, *, source: str, label: str | None = None) -> LoadedPlan:
    """Validates plan text; ``label`` names the file in messages (defaults to ``source``)."""
    label = label or source
    text = _decode(data, label) if isinstance(data, bytes) else data
    try:
        raw = tomllib.loads(text)
        spec = _validate(raw, text, label)
    except tomllib.TOMLDecodeError as exc:
        raise _syntax_error(exc, label) from None
    except RecursionError:
        # tomllib and pydantic recurse per nesting level; no plan needs more than three.
        raise PlanError(label, "values are nested too deeply to be a plan") from None
    return LoadedPlan(spec=spec, source=source, plan_hash=spec.plan_hash())


# --- reading ---------------------------------------------------------------------------


def _read(path: Path, label: str) -> bytes:
    try:
        if path.is_dir():
            raise PlanError(label, "is a directory, not a plan file")
        with path.open("rb") as handle:
            # Read one byte past the limit so an oversized (or endless) input is caught
            # without loading all of it.
            data = handle.read(MAX_PLAN_BYTES + 1)
    except FileNotFoundError:
        raise PlanError(label, "file not found") from None
    except PermissionError:
        raise PlanError(label, "cannot be read: permission denied") from None
    except OSError as exc:
        raise PlanError(label, f"cannot be read: {exc.strerror or type(exc).__name__}") from None
    if len(data) > MAX_PLAN_BYTES:
        raise PlanError(
            label,
            f"is larger than {MAX_PLAN_BYTES // (1024 * 1024)} MiB; a plan is a small TOML file",
        )
    return data


def _decode(data: bytes, label: str) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise PlanError(
            label,
            f"line {line}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "a plan is a TOML file",
            line=line,
        ) from None
    # Editors on some systems prepend a byte-order mark; TOML does not allow one, but it
    # carries no meaning, so drop it rather than fail on an invisible character.
    return text.removeprefix("\ufeff")


def _syntax_error(exc: tomllib.TOMLDecodeError, label: str) -> PlanError:
    message = str(exc)
    match = _TOML_POSITION.match(message)
    if match is None:
        return PlanError(label, f"invalid TOML: {message}")
    problem = match["msg"][:1].lower() + match["msg"][1:]
    if match["line"] is None:
        return PlanError(label, f"invalid TOML at the end of the file: {problem}")
    line, column = int(match["line"]), int(match["col"])
    return PlanError(
        label, f"line {line}, column {column}: invalid TOML: {problem}", line=line, column=column
    )


# --- validating ------------------------------------------------------------------------


def _validate(raw: dict[str, Any], text: str, label: str) -> PlanSpec:
    locator = _Locator(raw, text)
    try:
        # Strict mode: TOML values are typed, so a quoted number or a boolean count is a
        # mistake to report, not a value to coerce. Strict tuples want tuples, not lists.
        spec = PlanSpec.model_validate(_tuples(raw), strict=True)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        field_errors = [error for error in errors if error["loc"]]
        if field_errors:
            first = field_errors[0]
            if first["type"] == "missing":
                # A misspelt key shows up as "missing" plus "unknown"; the unknown one,
                # with its "did you mean", says what to fix.
                first = next(
                    (
                        error
                        for error in field_errors
                        if error["type"] == "extra_forbidden" and error["loc"][:-1] == first["loc"][:-1]
                    ),
                    first,
                )
            raise _translate(first, locator, label) from None
        # Only the cross-field checks failed, so every field is well-typed: find the
        # offending entry ourselves to name it, falling back to pydantic's message.
        _check_cross(raw, locator, label)
        message = str(errors[0]["msg"]).removeprefix("Value error, ")
        raise PlanError(label, message) from None
    _check_extra(spec, locator, label)
    return spec


def _tuples(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_tuples(item) for item in value)
    if isinstance(value, dict):
        return {key: _tuples(item) for key, item in value.items()}
    return value


def _check_cross(raw: dict[str, Any], locator: _Locator, label: str) -> None:
    languages = list(raw.get("languages", ()))
    for index, language in enumerate(languages):
        if language in languages[:index]:
            raise PlanError(label, f"{_show(language)} appears twice", entry=f"languages[{index}]")
        _check_language(language, index, label)
    for field in _LISTS:
        first_use: dict[str, int] = {}
        for index, entry in enumerate(raw.get(field, ())):
            slug = entry["slug"]
            if slug in first_use:
                raise PlanError(
                    label,
                    f"duplicate slug, already used by {field}[{first_use[slug]}]",
                    entry=locator.entry(field, index),
                )
            first_use[slug] = index


def _check_language(language: str, index: int, label: str) -> None:
    # fullmatch: "$" would also match before a trailing newline ("en\n").
    if not _LANGUAGE_TAG.fullmatch(language) or len(language) > 16:
        raise PlanError(
            label,
            f'{_show(language)} is not a language tag (use BCP 47 tags like "en", "fr" or "pt-BR")',
            entry=f"languages[{index}]",
        )


def _check_extra(spec: PlanSpec, locator: _Locator, label: str) -> None:
    # Rules this loader adds on top of PlanSpec: stricter language tags, and names that
    # print on one line and are not just spaces.
    for index, language in enumerate(spec.languages):
        _check_language(language, index, label)
    for field in _LISTS:
        entries: tuple[CatalogEntry, ...] = getattr(spec, field)
        for index, entry in enumerate(entries):
            if not entry.name.strip():
                raise PlanError(label, "name must not be blank", entry=locator.entry(field, index))
            if has_unprintable(entry.name):
                raise PlanError(
                    label,
                    "name must be one line without control characters or bidirectional overrides",
                    entry=locator.entry(field, index),
                )


# --- turning pydantic errors into one line -------------------------------------------------

_EXPECTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "bool_type": "a boolean",
    "float_type": "a number",
    "tuple_type": "an array",
    "list_type": "an array",
    "model_type": "a table",
    "dict_type": "a table",
    "model_attributes_type": "a table",
}


def _translate(error: ErrorDetails, locator: _Locator, label: str) -> PlanError:
    loc = error["loc"]
    kind = error["type"]
    ctx = error.get("ctx") or {}
    value = error.get("input")
    head = loc[0]
    if kind == "extra_forbidden":
        known = _ENTRY_KEYS if len(loc) > 1 else _TOP_KEYS
        entry = locator.entry(str(head), int(loc[1])) if len(loc) > 2 else None
        return PlanError(label, f"unknown key {_show(loc[-1])}{_suggest(str(loc[-1]), known)}", entry=entry)
    if len(loc) == 1:
        return PlanError(label, _top_problem(str(head), kind, ctx, value), entry=locator.top(str(head)))
    if len(loc) == 2:
        entry = f"{head}[{loc[1]}]" if head == "languages" else locator.entry(str(head), int(loc[1]))
        if head == "languages":
            return PlanError(label, _value_problem(kind, ctx, value), entry=entry)
        return PlanError(label, _value_problem(kind, ctx, value, "each entry"), entry=entry)
    entry = locator.entry(str(head), int(loc[1]))
    field = str(loc[2])
    if kind == "missing":
        return PlanError(label, f"missing key {_show(field)}", entry=entry)
    if kind == "string_pattern_mismatch":
        hint = _slug_hint(value)
        return PlanError(label, f"slug must match {SLUG_PATTERN}{hint}", entry=entry)
    if kind == "string_too_short" and field == "name":
        return PlanError(label, "name must not be empty", entry=entry)
    return PlanError(label, _value_problem(kind, ctx, value, field), entry=entry)


_NOUNS = {
    "languages": ("language", "languages"),
    "subcategories": ("sub-category", "sub-categories"),
    "room_types": ("room type", "room types"),
}


def _limits(key: str) -> tuple[Any, Any]:
    """Returns a PlanSpec field's (lower, upper) bound: ge/le for numbers, lengths for lists."""
    low: Any = None
    high: Any = None
    for rule in PlanSpec.model_fields[key].metadata:
        low = getattr(rule, "ge", getattr(rule, "min_length", low))
        high = getattr(rule, "le", getattr(rule, "max_length", high))
    return low, high


def _top_problem(key: str, kind: str, ctx: dict[str, Any], value: Any) -> str:
    if kind == "missing":
        one, _ = _NOUNS.get(key, (key, key))
        return f"missing; a plan needs at least one {one} (a [[{key}]] table)"
    if kind in ("too_short", "too_long"):
        one, many = _NOUNS.get(key, ("entry", "entries"))
        low, high = _limits(key)
        count = ctx.get("actual_length", len(value) if isinstance(value, tuple | list) else 0)
        if kind == "too_short":
            return f"needs at least {low} {one if low == 1 else many}, got {count}"
        return f"has {count} {many}; at most {high} are allowed"
    if kind in ("greater_than_equal", "less_than_equal"):
        low, high = _limits(key)
        return f"must be between {low} and {high}, got {_describe(value)}"
    if key in _LISTS and kind in ("tuple_type", "list_type"):
        return f"must be an array of tables ([[{key}]] blocks), got {_describe(value)}"
    return _value_problem(kind, ctx, value)


def _value_problem(kind: str, ctx: dict[str, Any], value: Any, subject: str | None = None) -> str:
    lead = f"{subject} " if subject else ""
    if kind in _EXPECTED:
        return f"{lead}must be {_EXPECTED[kind]}, got {_describe(value)}"
    if kind == "string_too_long" and isinstance(value, str):
        return f"{lead}is too long ({len(value)} characters; at most {ctx.get('max_length')})"
    if kind == "string_too_short":
        return f"{lead}must not be empty"
    # A rule this module has no wording for (PlanSpec grew one): name it plainly.
    details = ", ".join(f"{k}={v}" for k, v in sorted(ctx.items()) if k != "error")
    return f"{lead}is invalid ({kind}{': ' + details if details else ''})"


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"boolean {'true' if value else 'false'}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"float {value}"
    if isinstance(value, str):
        return f"string {_show(value)}"
    if isinstance(value, tuple | list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, dt.datetime):
        return "a date-time"
    if isinstance(value, dt.date):
        return "a date"
    if isinstance(value, dt.time):
        return "a time"
    return type(value).__name__


def _show(value: object, limit: int = 60) -> str:
    text = json.dumps(str(value), ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 2] + '…"'


def _suggest(key: str, known: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    if close:
        return f' (did you mean "{close[0]}"?)'
    return f" (known keys: {', '.join(known)})"


def _slug_hint(value: object) -> str:
    if not isinstance(value, str):
        return ""
    slug = re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")[:63]
    if slug and re.match(SLUG_PATTERN, slug):
        return f' (try "{slug}")'
    return ""


def _one_line(text: str) -> str:
    return text.replace("\r", "\\r").replace("\n", "\\n")


class _Locator:
    """Names plan entries for messages, with the source line of their table when known."""

    def __init__(self, raw: dict[str, Any], text: str) -> None:
        self._raw = raw
        self._lines: dict[str, list[int]] = {}
        # Offsets of every line start, once: a header's line is a binary search, so
        # locating every table of a huge plan stays linear in its size.
        newlines = [match.start() for match in re.finditer("\n", text)]

        def line_of(offset: int) -> int:
            return bisect.bisect_left(newlines, offset) + 1

        for field in _LISTS:
            pattern = re.compile(rf"^[ \t]*\[\[[ \t]*\"?{field}\"?[ \t]*\]\]", re.MULTILINE)
            starts = [line_of(match.start()) for match in pattern.finditer(text)]
            entries = raw.get(field)
            # Trust the header scan only when it agrees with the parsed table count (an
            # inline array or a header inside a multi-line string would fool it).
            if isinstance(entries, list) and len(starts) == len(entries):
                self._lines[field] = starts
        self._top_lines: dict[str, int] = {}
        for key in _TOP_KEYS:
            match = re.search(rf"^[ \t]*\"?{key}\"?[ \t]*=", text, re.MULTILINE)
            if match:
                self._top_lines[key] = line_of(match.start())

    def entry(self, field: str, index: int) -> str:
        """Returns ``field[index]`` with the entry's slug and line when they are known."""
        details: list[str] = []
        entries = self._raw.get(field)
        if isinstance(entries, list) and index < len(entries) and isinstance(entries[index], dict):
            slug = entries[index].get("slug")
            if isinstance(slug, str):
                details.append(f"slug {_show(slug)}")
        lines = self._lines.get(field)
        if lines:
            details.append(f"line {lines[index]}")
        return f"{field}[{index}]" + (f" ({', '.join(details)})" if details else "")

    def top(self, key: str) -> str:
        """Returns a top-level key with its line when it is known."""
        line = self._top_lines.get(key)
        return f"{key} (line {line})" if line else key
