"""What the OpenAI API accepts per model family: image sizes and qualities, schema keywords.

Models are settings, never logic: nothing here picks a model. It only knows, for the
families the API documents (``CreateImageRequest`` in openai/openai-openapi; the
Structured Outputs guide), which values a request may carry, so a run refuses a size the
model would refuse *before* it starts (exit 2, nothing written) instead of failing
every step one call at a time. A model of no known family (a new one, a model behind an
OpenAI-compatible server) is not guessed at: its first refusal stops the run.

* GPT image 1.x (``gpt-image-1``, ``gpt-image-1-mini``, ``gpt-image-1.5``): sizes
  1024x1024, 1536x1024, 1024x1536, auto; qualities low, medium, high, auto.
* ``gpt-image-2`` and its snapshots: ``auto`` or WIDTHxHEIGHT with both edges multiples
  of 16, the ratio between 1:3 and 3:1, at most 3840 px an edge and 3840x2160 in all;
  qualities as GPT image 1.x.
* ``dall-e-3``: 1024x1024, 1792x1024, 1024x1792; standard, hd (default standard).
* ``dall-e-2``: 256x256, 512x512, 1024x1024; standard.

A gateway's provider prefix (``openai/gpt-image-2``, LiteLLM's spelling) names the
same model: ``bare_model`` strips it for these rules and for prices.
"""

from __future__ import annotations

import re
from typing import Literal

from journal.errors import ConfigError

ImageFamily = Literal["gpt-image-1", "gpt-image-2", "dall-e-3", "dall-e-2"]

#: the prefix a gateway (LiteLLM) puts before an OpenAI model's name
PROVIDER_PREFIX = "openai/"

GPT_IMAGE_QUALITIES = ("low", "medium", "high", "auto")
SIZES: dict[ImageFamily, tuple[str, ...]] = {
    "gpt-image-1": ("1024x1024", "1536x1024", "1024x1536", "auto"),
    "dall-e-3": ("1024x1024", "1792x1024", "1024x1792"),
    "dall-e-2": ("256x256", "512x512", "1024x1024"),
}
QUALITIES: dict[ImageFamily, tuple[str, ...]] = {
    "gpt-image-1": GPT_IMAGE_QUALITIES,
    "gpt-image-2": GPT_IMAGE_QUALITIES,
    "dall-e-3": ("standard", "hd"),
    "dall-e-2": ("standard",),
}
#: the quality sent when the user chose none
DEFAULT_QUALITY: dict[ImageFamily, str] = {
    "gpt-image-1": "medium",
    "gpt-image-2": "medium",
    "dall-e-3": "standard",
    "dall-e-2": "standard",
}
GPT_IMAGE_2_MAX_EDGE = 3840
GPT_IMAGE_2_MAX_PIXELS = 3840 * 2160
GPT_IMAGE_2_MAX_RATIO = 3.0
_SIZE = re.compile(r"([1-9][0-9]{0,4})x([1-9][0-9]{0,4})")

#: strict-schema keywords fine-tuned models do not support (the Structured Outputs guide)
FINE_TUNED_UNSUPPORTED = frozenset({"pattern", "minItems", "maxItems"})


def bare_model(model: str) -> str:
    """Returns the model's name without a gateway's ``openai/`` prefix."""
    return model.removeprefix(PROVIDER_PREFIX)


def image_family(model: str) -> ImageFamily | None:
    """Returns the documented family of an image model, or None when it is not one we know."""
    name = bare_model(model)
    if name.startswith("gpt-image-2"):
        return "gpt-image-2"
    if name.startswith("gpt-image-1"):
        return "gpt-image-1"
    if name.startswith("dall-e-3"):
        return "dall-e-3"
    if name.startswith("dall-e-2"):
        return "dall-e-2"
    return None


def is_fine_tuned(model: str) -> bool:
    """Tells whether a text model is a fine-tune (``ft:BASE:ORG::ID``)."""
    return bare_model(model).startswith("ft:")


def default_quality(model: str) -> str | None:
    """Returns the quality to send when none was chosen (None: leave it to the API)."""
    family = image_family(model)
    return DEFAULT_QUALITY[family] if family is not None else None


def check_image_settings(model: str, size: str | None, quality: str | None) -> None:
    """Refuses a size or quality the model's family does not accept (``ConfigError``)."""
    family = image_family(model)
    if family is None:
        return
    if size is not None:
        problem = _size_problem(family, size)
        if problem is not None:
            raise ConfigError(f"--image-size {size!r} is not accepted by {model}: {problem}")
    if quality is not None and quality not in QUALITIES[family]:
        allowed = ", ".join(QUALITIES[family])
        raise ConfigError(f"--image-quality {quality!r} is not accepted by {model}: use one of {allowed}")


def _size_problem(family: ImageFamily, size: str) -> str | None:
    if family != "gpt-image-2":
        return None if size in SIZES[family] else f"use one of {', '.join(SIZES[family])}"
    if size == "auto":
        return None
    found = _SIZE.fullmatch(size)
    if found is None:
        return "use auto or WIDTHxHEIGHT, e.g. 1536x864"
    width, height = int(found.group(1)), int(found.group(2))
    if width % 16 or height % 16:
        return "both edges must be multiples of 16"
    if max(width, height) > GPT_IMAGE_2_MAX_EDGE:
        return f"an edge may be at most {GPT_IMAGE_2_MAX_EDGE} px"
    if width * height > GPT_IMAGE_2_MAX_PIXELS:
        return "at most 3840x2160 pixels in all"
    if max(width, height) / min(width, height) > GPT_IMAGE_2_MAX_RATIO:
        return "the aspect ratio must be between 1:3 and 3:1"
    return None


def for_fine_tuned(schema: object) -> object:
    """Returns a strict schema a fine-tuned model accepts: no pattern, minItems, maxItems.

    Each removed constraint is restated in the node's ``description`` ("(exactly 1
    items)", "(3 to 8 items)", "(matching ^#[0-9A-Fa-f]{6}$)"), so the model is still
    told; the reply is validated against the full model either way. Only keyword
    positions are touched: a property *named* "pattern" is kept.
    """
    if isinstance(schema, list):
        return [for_fine_tuned(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    kept: dict[str, object] = {}
    for key, value in schema.items():
        if key in FINE_TUNED_UNSUPPORTED:
            continue
        if key in ("properties", "$defs", "definitions") and isinstance(value, dict):
            kept[key] = {name: for_fine_tuned(sub) for name, sub in value.items()}
        elif key in ("enum", "const", "required", "default", "examples", "description"):
            kept[key] = value
        else:
            kept[key] = for_fine_tuned(value)
    hints = []
    low, high = schema.get("minItems"), schema.get("maxItems")
    if low is not None and low == high:
        hints.append(f"(exactly {low} items)")
    elif low is not None or high is not None:
        hints.append(f"({low or 0} to {high if high is not None else 'any number of'} items)")
    if isinstance(schema.get("pattern"), str):
        hints.append(f"(matching {schema['pattern']})")
    if hints:
        kept["description"] = " ".join([str(schema.get("description") or "").strip(), *hints]).strip()
    return kept
