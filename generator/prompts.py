"""The prompt templates of paid calls, and the image framings every provider shares.

Each call's ``prompt_version`` is a hash of the template it was built from
(``TEMPLATES``), so a changed template is visible in the journal: which results came
from which wording. ``IMAGE_VIEWS`` gives every image index its own framing, so the
images of one subject differ by design; the offline provider frames its images the same
way.
"""

from __future__ import annotations

import hashlib
from typing import Literal

PromptKind = Literal["style", "room", "image"]

SYSTEM_PROMPT = (
    "You are the editor of an interior-design catalogue. You write precise, evocative and "
    "accurate entries. Answer only with the JSON object the response schema describes; give "
    "every language exactly once."
)

STYLE_PROMPT = """Sub-category: "{name}" (slug: {slug}).
Write this style's catalogue entry in these languages: {languages}.
- approach: one sentence naming the design approach you choose for this style.
- color: the style's one signature colour: an evocative name and its hex value (#RRGGBB).
- localized: for each language, the style's name, a poetic passage (two or three evocative
  sentences) and a factual passage (two or three sentences: origins, forms, materials).
- keywords: three to eight short keywords in English."""

ROOM_PROMPT = """Style: "{style_name}" (sub-category slug: {slug}).
Approach: {approach}
Signature colour: {color_name} ({color_hex})
Room type: "{room_name}" (slug: {room_slug}).
Describe this room in the style, true to its approach and signature colour, in these
languages: {languages}.
- localized: for each language, the room profile's name, a poetic passage and a factual
  passage (layout, furniture, lighting, materials).
- key_pieces: three to eight key furniture or decor pieces.
- materials: two to six materials."""

STYLE_IMAGE_PROMPT = (
    "Photorealistic interior photograph in the {style_name} style. Approach: {approach}. "
    "Signature colour {color_name} ({color_hex}) leads the palette. Mood: {keywords}. "
    "{factual} View {number}: {view}. No people, no text."
)

# The room type and the style are named in plain words ("a kitchen in the Art Deco
# style"); the room profile's generated name ("The Gilded Salon") is only its title.
ROOM_IMAGE_PROMPT = (
    "Photorealistic interior photograph of {room_type} in the {style_name} style"
    "{profile_title}. Approach: {approach}. Signature colour {color_name} ({color_hex}). "
    "Key pieces: {key_pieces}. Materials: {materials}. View {number}: {view}. No people, no text."
)

#: one framing per image index, so the images of one subject differ by design
IMAGE_VIEWS = (
    "wide establishing shot at eye level",
    "close detail of materials and textures",
    "corner vignette in soft morning daylight",
    "evening mood with the lamps lit",
    "view from the doorway, showing the layout",
    "overhead view of the arrangement",
)

TEMPLATES: dict[str, str] = {
    "style": SYSTEM_PROMPT + "\n" + STYLE_PROMPT,
    "room": SYSTEM_PROMPT + "\n" + ROOM_PROMPT,
    "image": STYLE_IMAGE_PROMPT + "\n" + ROOM_IMAGE_PROMPT + "\n" + "\n".join(IMAGE_VIEWS),
}


def with_article(noun: str) -> str:
    """Returns "a kitchen", "an attic": the room type as the image prompt names it."""
    lowered = noun.lower()
    return f"{'an' if lowered[:1] in 'aeiou' else 'a'} {lowered}"


def prompt_version(kind: PromptKind) -> str:
    """Returns a short hash of the template used for this kind of call."""
    return hashlib.sha256(TEMPLATES[kind].encode()).hexdigest()[:12]
