"""The offline provider: free, deterministic content and real PNG swatches, no network."""

from generator.providers.offline.provider import OfflineProvider

__all__ = ["OfflineProvider"]
