"""Builds the provider a run asked for, from its settings."""

from __future__ import annotations

from generator.providers.base import Provider
from generator.settings import ProviderSettings


def make_provider(name: str, settings: ProviderSettings) -> Provider:
    """Returns the ``openai`` or ``offline`` provider configured by ``settings``."""
    if name == "offline":
        from generator.providers.offline.provider import OfflineProvider

        kwargs = {
            key: value
            for key, value in (
                ("text_model", settings.text_model),
                ("image_model", settings.image_model),
                ("image_size", settings.image_size),
            )
            if value is not None
        }
        return OfflineProvider(**kwargs)
    if name == "openai":
        from generator.providers.openai import OpenAIProvider, OpenAISettings

        return OpenAIProvider(OpenAISettings.from_run(settings))
    raise ValueError(f"unknown provider {name!r}")
