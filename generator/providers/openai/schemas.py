"""Response models for strict structured output: every field required, no free-form dicts."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field

HEX_COLOUR = r"^#[0-9A-Fa-f]{6}$"


class _Strict(BaseModel):
    # extra="forbid" gives additionalProperties: false, which strict mode requires.
    model_config = ConfigDict(extra="forbid")


class ColourOut(_Strict):
    """The signature colour as the model writes it."""

    name: str = Field(description="an evocative colour name")
    hex: str = Field(pattern=HEX_COLOUR, description="the colour as #RRGGBB")


@lru_cache(maxsize=32)
def response_models(languages: tuple[str, ...]) -> tuple[type[BaseModel], type[BaseModel]]:
    """Returns the (style, room) response models whose language field is an enum of these."""
    # An enum keeps the model from inventing languages; list length pins one item each.
    lang = Literal[languages]  # type: ignore[valid-type]
    count = len(languages)
    localized = pydantic.create_model(
        "LocalizedText",
        __base__=_Strict,
        language=(lang, Field(description="language tag")),
        name=(str, Field(description="the name in this language")),
        poetic=(str, Field(description="an evocative passage")),
        factual=(str, Field(description="a factual passage")),
    )
    items = (list[localized], Field(min_length=count, max_length=count))
    style = pydantic.create_model(
        "StyleContent",
        __base__=_Strict,
        approach=(str, Field(description="the design approach, one sentence")),
        color=(ColourOut, ...),
        localized=items,
        keywords=(list[str], Field(min_length=3, max_length=8)),
    )
    room = pydantic.create_model(
        "RoomProfile",
        __base__=_Strict,
        localized=items,
        key_pieces=(list[str], Field(min_length=3, max_length=8)),
        materials=(list[str], Field(min_length=2, max_length=6)),
    )
    return style, room
