"""The OpenAI provider (any OpenAI-compatible server too): calls, their errors, headers and schemas."""

from generator.providers.openai.provider import STEP_HEADER, OpenAIProvider, OpenAISettings

__all__ = ["STEP_HEADER", "OpenAIProvider", "OpenAISettings"]
