"""Provider settings: the one place where default models and image options live.

Models are settings, never logic: ``--text-model``/``--image-model`` win, then the
environment (``GENJOURNAL_TEXT_MODEL``, ``GENJOURNAL_IMAGE_MODEL``,
``GENJOURNAL_IMAGE_SIZE``, ``GENJOURNAL_IMAGE_QUALITY``), then these defaults.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_TEXT_MODEL = "gpt-5.4-mini"
DEFAULT_IMAGE_MODEL = "gpt-image-2"
DEFAULT_IMAGE_SIZE = "1024x1024"


@dataclass(frozen=True)
class ProviderSettings:
    """Models and image options chosen for a run (None: the provider's own default)."""

    text_model: str | None = None
    image_model: str | None = None
    image_size: str | None = None
    image_quality: str | None = None

    @classmethod
    def resolve(
        cls,
        *,
        text_model: str | None = None,
        image_model: str | None = None,
        image_size: str | None = None,
        image_quality: str | None = None,
    ) -> ProviderSettings:
        """Combines command-line values with the environment (defaults are per provider)."""
        return cls(
            text_model=text_model or os.environ.get("GENJOURNAL_TEXT_MODEL") or None,
            image_model=image_model or os.environ.get("GENJOURNAL_IMAGE_MODEL") or None,
            image_size=image_size or os.environ.get("GENJOURNAL_IMAGE_SIZE") or None,
            image_quality=image_quality or os.environ.get("GENJOURNAL_IMAGE_QUALITY") or None,
        )
