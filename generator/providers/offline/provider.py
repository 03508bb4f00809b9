"""The offline provider: free, deterministic content and real PNG swatches, no network.

It answers the same requests as the OpenAI provider and returns the same typed payloads,
composed from reference notes on the catalogue (``knowledge``): each style gets its
approach, a named signature colour, keywords and a hybrid poetic + factual passage; each
room a profile in the style's approach and colour (taken from the request's style data,
whoever wrote it); each image step a seeded swatch in the style's colour
(``swatches``). Every choice is drawn from SHA-256 of ``(sub-category slug, room slug,
step)`` — never from ``random`` or the clock — so the same plan gives the same
journal bytes apart from event ids, times and measured latencies, and every image step
gets its own picture.

Languages other than English get the English text marked with the language tag
(``"[fr] …"``): honest about not being a translation, and never a crash.
"""

from __future__ import annotations

import hashlib
import re
import time
from typing import Literal

from generator.png import png_size
from generator.prompts import IMAGE_VIEWS
from generator.providers.base import (
    CallInfo,
    ImageRequest,
    ImageResult,
    RoomRequest,
    RoomResult,
    StyleRequest,
    StyleResult,
)
from generator.providers.offline.knowledge import (
    ROOMS,
    STYLES,
    RoomNotes,
    room_notes,
    style_notes,
)
from generator.providers.offline.swatches import PATTERNS, render_swatch
from journal.errors import ConfigError
from journal.events import CatalogEntry, Color, Prose, RoomGeneratedData, StyleCreatedData

# --- templates (their hash, with the notes they draw on, is the prompt_version) ----------

STYLE_POETIC = (
    "{Name} begins with {colour_l}: a colour that holds the light and gives it back slowly. "
    "Around it, {kw0} meets {kw1}, {mat0} meets {mat1}, and the room finds its own quiet rhythm.",
    "Walk in and the first thing you notice is {colour_l}. Then the details arrive one by one "
    "— {kw0}, {kw1}, the grain of {mat0} — until {name} feels less like a style than a way of "
    "living.",
    "There is a particular hush to {a_name} room. {Colour} settles on the walls like "
    "late-afternoon sun, {mat0} and {mat1} invite the hand, and {kw0} gives the eye somewhere "
    "to rest.",
    "{Name} is a conversation between {kw0} and {kw1}, spoken in {colour_l}. It asks for "
    "{mat0} you can touch, {mat1} that ages well, and rooms that tell the truth about how "
    "they are lived in.",
)
STYLE_FACTUAL = (
    "{Name} comes from {origin} ({era}). {fact} Hallmarks include {keywords}; typical "
    "materials are {materials}. Signature colour: {colour} ({hex})."
)
ROOM_POETIC = (
    "Morning reaches the {room_l} and lands first on {surface}, washed in {colour_l}. The "
    "{piece0} and the {piece1} keep to their places, and {mat0} softens every edge: "
    "{a_style} {room_l} that feels lived in from the first day.",
    "{Colour} sets the mood of this {room_l}, from {surface} to the smallest detail. Around "
    "the {piece0}, {mat0} and {mat1} bring texture, and the room keeps the promise of "
    "{style}: beauty made for daily life.",
    "{A_style} {room_l} is a place to slow down. {Colour} gathers on {surface}, everything "
    "turns around the {piece0}, and {mat0} answers the light from the window.",
)
ROOM_FACTUAL = (
    "{A_room} {purpose}. Here it is shaped by the {style} approach. {approach} Key pieces: "
    "{pieces}. Materials: {materials}. Signature colour: {colour} ({hex}), used on {surface}."
)
STYLE_IMAGE = (
    "Editorial interior photograph in the {style} style. {approach} Signature colour "
    "{colour} ({hex}) leads the palette. Details: {keywords}. Materials: {materials}. "
    "View {number}: {view}. Natural light, realistic textures, no people, no text."
)
ROOM_IMAGE = (
    "Interior design photograph of {a_style} {room}. {approach} Signature colour {colour} "
    "({hex}) on {surface}. Key pieces: {pieces}. Materials: {materials}. View {number}: "
    "{view}. Natural light, photorealistic, no people, no text."
)

_SIZE = re.compile(r"(\d{1,4})x(\d{1,4})")
DEFAULT_IMAGE_SIZE = "256x256"


def _fingerprint(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:12]


# The notes are part of what a call "prompts" with: changing them changes the output,
# so they belong in the version just as the templates do.
_VERSIONS: dict[str, str] = {
    "style": _fingerprint(STYLE_POETIC, STYLE_FACTUAL, sorted(STYLES.items())),
    "room": _fingerprint(ROOM_POETIC, ROOM_FACTUAL, sorted(ROOMS.items()), sorted(STYLES.items())),
    "image": _fingerprint(STYLE_IMAGE, ROOM_IMAGE, IMAGE_VIEWS, PATTERNS, sorted(ROOMS.items())),
}


#: the prompt_version each kind of offline call records (what ``--stale-prompts`` compares with)
OFFLINE_PROMPT_VERSIONS: dict[str, str] = dict(_VERSIONS)


def step_seed(subcategory: str, room: str | None, step: str, generation: int = 1) -> bytes:
    """Returns the seed of one step: SHA-256 of its sub-category, room and step names.

    A regenerated step (generation > 1) mixes its generation in, so it yields a new
    result; generation 1 is seeded as before generations existed (same journal bytes).
    """
    text = f"{subcategory}\x00{room or ''}\x00{step}" + (f"\x00g{generation}" if generation > 1 else "")
    return hashlib.sha256(text.encode()).digest()


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else f"{text}."


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _join(items: tuple[str, ...] | list[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"


def _a(word: str) -> str:
    """Returns "a" or "an" for the word (by spelling, with the common exceptions)."""
    lower = word.lower()
    if lower[:1] in ("a", "e", "i", "o", "u") and not lower.startswith(("uni", "use", "eu", "one")):
        return "an"
    return "a"


def _cycle(items: tuple[str, ...], index: int, fallback: str) -> str:
    return items[index % len(items)] if items else fallback


def _localise(text: str, language: str) -> str:
    # No translation table ships with the offline provider: say so instead of guessing.
    return text if language == "en" or language.startswith("en-") else f"[{language}] {text}"


class OfflineProvider:
    """Generates styles, rooms and images locally and deterministically, at no cost."""

    name = "offline"
    billable = False

    def __init__(
        self,
        *,
        text_model: str = "offline-text-1",
        image_model: str = "offline-image-1",
        image_size: str = DEFAULT_IMAGE_SIZE,
        image_quality: str | None = None,
    ) -> None:
        self.text_model: str | None = text_model
        self.image_model: str | None = image_model
        self.image_quality: str | None = image_quality
        self._size = DEFAULT_IMAGE_SIZE
        self._width = self._height = 256
        self.image_size = image_size

    @property
    def image_size(self) -> str | None:
        """Returns the size of the rendered images, as WIDTHxHEIGHT."""
        return self._size

    @image_size.setter
    def image_size(self, value: str | None) -> None:
        """Sets the image size (None means the default), refusing anything but WIDTHxHEIGHT."""
        size = value or DEFAULT_IMAGE_SIZE
        match = _SIZE.fullmatch(size)
        if match is None or not all(16 <= int(side) <= 2048 for side in match.groups()):
            raise ConfigError(f"offline image size {size!r} must be WIDTHxHEIGHT with sides of 16..2048")
        self._size, self._width, self._height = size, int(match[1]), int(match[2])

    def prompt_version(self, kind: Literal["style", "room", "image"]) -> str:
        """Returns a short hash of the template (and reference notes) used for this kind of call."""
        return _VERSIONS[kind]

    async def style(self, request: StyleRequest) -> StyleResult:
        """Composes a style's content from the reference notes (one attempt, no cost)."""
        started = time.perf_counter()
        entry = request.subcategory
        notes = style_notes(entry.slug, entry.name)
        seed = step_seed(entry.slug, None, request.step, request.generation)
        colour_name, colour_hex = notes.colour
        fields = {
            "name": entry.name,
            "Name": _capital(entry.name),
            "a_name": f"{_a(entry.name)} {entry.name}",
            "colour": colour_name,
            "Colour": _capital(colour_name),
            "colour_l": colour_name.lower(),
            "hex": colour_hex,
            "kw0": _cycle(notes.keywords, seed[1], "balance"),
            "kw1": _cycle(notes.keywords, seed[1] + 1, "texture"),
            "mat0": _cycle(notes.materials, seed[2], "wood"),
            "mat1": _cycle(notes.materials, seed[2] + 1, "linen"),
            "origin": notes.origin,
            "era": notes.era,
            "fact": _sentence(notes.fact),
            "keywords": _join(notes.keywords),
            "materials": _join(notes.materials),
        }
        poetic = STYLE_POETIC[seed[0] % len(STYLE_POETIC)].format(**fields)
        factual = STYLE_FACTUAL.format(**fields)
        data = StyleCreatedData(
            subcategory=entry.slug,
            name={language: entry.name for language in request.languages},
            approach=notes.approach,
            color=Color(name=colour_name, hex=colour_hex),
            content={
                language: Prose(poetic=_localise(poetic, language), factual=_localise(factual, language))
                for language in request.languages
            },
            keywords=notes.keywords,
        )
        return StyleResult(data=data, call=self._text_call(seed, started))

    async def room(self, request: RoomRequest) -> RoomResult:
        """Composes one room profile in the request's style approach and colour."""
        started = time.perf_counter()
        entry, room_type, style = request.subcategory, request.room_type, request.style
        notes = room_notes(room_type.slug, room_type.name)
        seed = step_seed(entry.slug, room_type.slug, request.step, request.generation)
        style_name = style.name.get("en") or next(iter(style.name.values()), entry.name)
        materials = self._room_materials(entry, notes)
        fields = {
            "style": style_name,
            "a_style": f"{_a(style_name)} {style_name}",
            "A_style": f"{_capital(_a(style_name))} {style_name}",
            "room_l": room_type.name.lower(),
            "A_room": f"{_capital(_a(room_type.name))} {room_type.name.lower()}",
            "colour": style.color.name,
            "Colour": _capital(style.color.name),
            "colour_l": style.color.name.lower(),
            "hex": style.color.hex,
            "surface": notes.surface,
            "piece0": _cycle(notes.key_pieces, seed[1], "furniture").removeprefix("a "),
            "piece1": _cycle(notes.key_pieces, seed[1] + 1, "lighting").removeprefix("a "),
            "mat0": _cycle(materials, seed[2], "wood"),
            "mat1": _cycle(materials, seed[2] + 1, "linen"),
            "purpose": notes.purpose,
            "approach": _sentence(style.approach),
            "pieces": _join(notes.key_pieces),
            "materials": _join(materials),
        }
        poetic = _capital(ROOM_POETIC[seed[0] % len(ROOM_POETIC)].format(**fields))
        factual = ROOM_FACTUAL.format(**fields)
        data = RoomGeneratedData(
            room_type=room_type.slug,
            name={
                language: f"{style.name.get(language) or style_name} {room_type.name}"
                for language in request.languages
            },
            content={
                language: Prose(poetic=_localise(poetic, language), factual=_localise(factual, language))
                for language in request.languages
            },
            key_pieces=notes.key_pieces,
            materials=materials,
        )
        return RoomResult(data=data, call=self._text_call(seed, started))

    async def image(self, request: ImageRequest) -> ImageResult:
        """Renders one seeded swatch in the style's colour (a room's colour mixed in)."""
        started = time.perf_counter()
        entry, style = request.subcategory, request.style
        room_slug = request.room_type.slug if request.room_type is not None else None
        seed = step_seed(entry.slug, room_slug, request.step, request.generation)
        patterns = style_notes(entry.slug, entry.name).patterns
        pattern = patterns[seed[0] % len(patterns)]
        accent = None
        if request.room_type is not None:
            accent = room_notes(request.room_type.slug, request.room_type.name).colour[1]
        # Rendered inline: about a millisecond of CPU, and a hop to a thread costs more in
        # GIL handoffs than it overlaps (measured with the offline benchmark).
        png = render_swatch(self._width, self._height, style.color.hex, seed, pattern, accent_hex=accent)
        width, height = png_size(png)
        call = CallInfo(
            model=self.image_model or "offline-image",
            latency_ms=_ms_since(started),
            request_id=f"offline-{seed.hex()[:16]}",
            images=1,
            image_size=self.image_size,
            image_quality=self.image_quality,
        )
        return ImageResult(png=png, width=width, height=height, prompt=self.image_prompt(request), call=call)

    def image_prompt(self, request: ImageRequest) -> str:
        """Returns the image prompt a paid provider would be sent for this step."""
        entry, style = request.subcategory, request.style
        style_name = style.name.get("en") or next(iter(style.name.values()), entry.name)
        notes = style_notes(entry.slug, entry.name)
        common = {
            "style": style_name,
            "a_style": f"{_a(style_name)} {style_name}",
            "approach": _sentence(style.approach),
            "colour": style.color.name,
            "hex": style.color.hex,
            "number": request.index + 1,
            "view": IMAGE_VIEWS[request.index % len(IMAGE_VIEWS)],
        }
        if request.room_type is None:
            return STYLE_IMAGE.format(
                **common,
                keywords=", ".join(style.keywords or notes.keywords),
                materials=", ".join(notes.materials),
            )
        room = request.room
        rnotes = room_notes(request.room_type.slug, request.room_type.name)
        return ROOM_IMAGE.format(
            **common,
            room=request.room_type.name.lower(),
            surface=rnotes.surface,
            pieces=", ".join(room.key_pieces if room and room.key_pieces else rnotes.key_pieces),
            materials=", ".join(room.materials if room and room.materials else rnotes.materials),
        )

    async def aclose(self) -> None:
        """Releases nothing: the offline provider holds no resources."""

    def _text_call(self, seed: bytes, started: float) -> CallInfo:
        # Offline text is free: token counts stay None ("not applicable"), not zero.
        return CallInfo(
            model=self.text_model or "offline-text",
            latency_ms=_ms_since(started),
            request_id=f"offline-{seed.hex()[:16]}",
        )

    @staticmethod
    def _room_materials(entry: CatalogEntry, notes: RoomNotes) -> tuple[str, ...]:
        """Returns two of the style's materials followed by two of the room's, without repeats."""
        # The catalogue's notes give the materials even when another provider wrote the
        # style; an unknown slug gets the generic notes.
        chosen: list[str] = []
        for material in (*style_notes(entry.slug, entry.name).materials[:2], *notes.materials):
            if material not in chosen:
                chosen.append(material)
            if len(chosen) == 4:
                break
        return tuple(chosen)


def _ms_since(started: float) -> int:
    return max(0, round((time.perf_counter() - started) * 1000))
