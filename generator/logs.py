"""Logging: structlog to stderr, human-readable or JSON lines, secrets always redacted."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

from journal.redaction import redact_secrets


def _redact(value: Any) -> Any:
    if isinstance(value, str):
        return redact_secrets(value)
    if isinstance(value, dict):
        return {key: _redact(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_redact(item) for item in value)
    return value


def redact_processor(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> Mapping[str, Any]:
    """Redacts secrets from every string in a log event (structlog processor)."""
    return {key: _redact(value) for key, value in event_dict.items()}


def configure_logging(*, json_lines: bool = False, verbose: bool = False) -> None:
    """Sends structlog output to stderr: JSON lines or plain text, INFO or WARNING and up."""
    level = logging.INFO if (json_lines or verbose) else logging.WARNING
    renderer: Any = (
        structlog.processors.JSONRenderer() if json_lines else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact_processor,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
