"""The prompt templates of paid calls, as data: the shipped ``prompts.toml`` or the user's.

A ``Prompts`` holds the templates in force: the shipped file (``generator/prompts.toml``,
whose header documents every key and placeholder) with a user's file (``--prompts FILE``)
laid over it key by key. Each call's ``prompt_version`` is a hash of the template it was
built from, so a changed wording is visible in the journal: which results came from which
text. ``image_views`` gives every image index its own framing, so the images of one
subject differ by design; the offline provider frames its images the same way.

A file that is not valid TOML, has an unknown key, a template with a placeholder its kind
does not fill, or unbalanced braces is refused with one ``ConfigError`` line before
anything is written.
"""

from __future__ import annotations

import hashlib
import os
import string
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from journal.errors import ConfigError

PromptKind = Literal["style", "room", "image"]
SHIPPED = "prompts.toml"

#: what each template may use (what the provider fills in)
PLACEHOLDERS: dict[str, frozenset[str]] = {
    "system": frozenset(),
    "style": frozenset({"name", "slug", "languages"}),
    "room": frozenset(
        {"style_name", "slug", "approach", "color_name", "color_hex", "room_name", "room_slug", "languages"}
    ),
    "style_image": frozenset(
        {"style_name", "approach", "color_name", "color_hex", "keywords", "factual", "number", "view"}
    ),
    "room_image": frozenset(
        {
            "style_name",
            "approach",
            "color_name",
            "color_hex",
            "room_type",
            "profile_title",
            "key_pieces",
            "materials",
            "number",
            "view",
        }
    ),
}
TEMPLATE_KEYS = tuple(PLACEHOLDERS)


@dataclass(frozen=True)
class Prompts:
    """The templates in force, and where they came from."""

    system: str
    style: str
    room: str
    style_image: str
    room_image: str
    image_views: tuple[str, ...]
    #: "shipped", or the user's file laid over it
    source: str = "shipped"

    def template(self, kind: PromptKind) -> str:
        """Returns the whole text a kind of call is built from (what its version hashes)."""
        if kind == "style":
            return self.system + "\n" + self.style
        if kind == "room":
            return self.system + "\n" + self.room
        return self.style_image + "\n" + self.room_image + "\n" + "\n".join(self.image_views)

    def version(self, kind: PromptKind) -> str:
        """Returns a short hash of the template used for this kind of call."""
        return hashlib.sha256(self.template(kind).encode()).hexdigest()[:12]

    def versions(self) -> dict[str, str]:
        """Returns the version of every kind of call."""
        return {kind: self.version(kind) for kind in ("style", "room", "image")}


def _check(values: dict[str, Any], source: str) -> None:
    unknown = sorted(set(values) - {*TEMPLATE_KEYS, "image_views"})
    if unknown:
        known = ", ".join((*TEMPLATE_KEYS, "image_views"))
        raise ConfigError(f"prompts file {source}: unknown key(s) {', '.join(unknown)}; known: {known}")
    for key in TEMPLATE_KEYS:
        if key not in values:
            continue
        text = values[key]
        if not isinstance(text, str) or not text.strip():
            raise ConfigError(f"prompts file {source}: {key} must be a non-empty string")
        try:
            used = {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}
        except ValueError as exc:
            raise ConfigError(f"prompts file {source}: {key} is not a valid template ({exc})") from None
        bad = sorted(name for name in used if name.split(".")[0].split("[")[0] not in PLACEHOLDERS[key])
        if bad:
            allowed = ", ".join(sorted(PLACEHOLDERS[key])) or "none"
            raise ConfigError(
                f"prompts file {source}: {key} uses {{{bad[0]}}}, which it is not given;"
                f" it may use: {allowed}"
            )
    if "image_views" in values:
        views = values["image_views"]
        if (
            not isinstance(views, list)
            or not views
            or not all(isinstance(v, str) and v.strip() for v in views)
        ):
            raise ConfigError(
                f"prompts file {source}: image_views must be a non-empty list of non-empty strings"
            )


def _parse(text: str, source: str) -> dict[str, Any]:
    try:
        values = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"prompts file {source} is not valid TOML: {exc}") from None
    _check(values, source)
    return values


def shipped_prompts() -> Prompts:
    """Returns the shipped templates."""
    text = resources.files("generator").joinpath(SHIPPED).read_text(encoding="utf-8")
    values = _parse(text, f"shipped {SHIPPED}")
    return Prompts(
        system=values["system"],
        style=values["style"],
        room=values["room"],
        style_image=values["style_image"],
        room_image=values["room_image"],
        image_views=tuple(values["image_views"]),
    )


def load_prompts(path: str | os.PathLike[str] | None = None) -> Prompts:
    """Returns the shipped templates with the file at ``path`` (if any) laid over them."""
    shipped = shipped_prompts()
    if path is None:
        return shipped
    chosen = Path(path)
    try:
        text = chosen.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"--prompts {chosen}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--prompts {chosen}: cannot read it ({exc})") from None
    values = _parse(text, str(chosen))
    if "image_views" in values:
        values["image_views"] = tuple(values["image_views"])
    return Prompts(**{**shipped.__dict__, **values, "source": str(chosen.resolve())})


SHIPPED_PROMPTS = shipped_prompts()
SYSTEM_PROMPT = SHIPPED_PROMPTS.system
STYLE_PROMPT = SHIPPED_PROMPTS.style
ROOM_PROMPT = SHIPPED_PROMPTS.room
STYLE_IMAGE_PROMPT = SHIPPED_PROMPTS.style_image
ROOM_IMAGE_PROMPT = SHIPPED_PROMPTS.room_image
#: one framing per image index, so the images of one subject differ by design
IMAGE_VIEWS = SHIPPED_PROMPTS.image_views


def with_article(noun: str) -> str:
    """Returns "a kitchen", "an attic": the room type as the image prompt names it."""
    lowered = noun.lower()
    return f"{'an' if lowered[:1] in 'aeiou' else 'a'} {lowered}"


def prompt_version(kind: PromptKind) -> str:
    """Returns a short hash of the shipped template used for this kind of call."""
    return SHIPPED_PROMPTS.version(kind)
