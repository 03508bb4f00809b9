"""Secret redaction: the last filter before a message reaches an event, a log or a screen.

Provider errors echo what the server said, and OpenAI's 401 message quotes a masked
form of the key; a proxy's URL may carry credentials. ``redact_secrets`` removes the
configured API key itself, anything shaped like an OpenAI key (``sk-…``, masked or
not), bearer tokens, ``key=value`` credentials in query strings, and user:password
in URLs (through ``journal.config.redact_url``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

from journal.config import redact_url

MASK = "***"

# OpenAI keys (sk-…, sk-proj-…, sk-svcacct-…) and their masked echoes (sk-ab***wxyz).
_KEY_RE = re.compile(r"\bsk-[A-Za-z0-9_\-*.]{3,}")
_BEARER_RE = re.compile(r"(?i)\b(bearer)\s+[^\s,;'\"]+")
_QUERY_SECRET_RE = re.compile(
    r"(?i)\b(api[_-]?key|access[_-]?token|token|secret|password|passwd)=([^&\s'\"]+)"
)
_URL_RE = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s'\"<>]+")
# A secret shorter than this is not searched for verbatim: masking every "a" or "1"
# would mangle messages without protecting anything.
_MIN_LITERAL = 8


def redact_secrets(text: str, *, secrets: Iterable[str | None] = ()) -> str:
    """Returns the text with API keys, tokens and URL credentials replaced by ``***``."""
    literals = [os.environ.get("OPENAI_API_KEY"), os.environ.get("OPENAI_ADMIN_KEY"), *secrets]
    for secret in sorted({s for s in literals if s and len(s) >= _MIN_LITERAL}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    text = _KEY_RE.sub(f"sk-{MASK}", text)
    text = _BEARER_RE.sub(lambda m: f"{m.group(1)} {MASK}", text)
    text = _QUERY_SECRET_RE.sub(lambda m: f"{m.group(1)}={MASK}", text)
    return _URL_RE.sub(lambda m: redact_url(m.group(0)), text)
