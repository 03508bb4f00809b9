"""Builds the provider a run asked for, from its settings."""

from __future__ import annotations

from generator.prompts import SHIPPED_PROMPTS, Prompts
from generator.providers.base import Provider
from generator.settings import ProviderSettings


def make_provider(name: str, settings: ProviderSettings, prompts: Prompts | None = None) -> Provider:
    """Returns the ``openai`` or ``offline`` provider configured by ``settings``.

    ``prompts`` (the templates in force) are the OpenAI provider's wording; the offline
    provider writes from its own knowledge and ignores them.
    """
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

        return OpenAIProvider(OpenAISettings.from_run(settings), prompts=prompts or SHIPPED_PROMPTS)
    raise ValueError(f"unknown provider {name!r}")
