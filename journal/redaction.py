"""Secret redaction: the one filter every message passes before it reaches an event, a log or a screen.

Provider errors echo what the server said, and OpenAI's 401 message quotes a masked
form of the key; a journal or proxy URL may carry credentials. This module is the only
place that knows what a secret looks like:

* ``redact_url`` — a URL with its user name and password replaced by ``***``;
* ``url_secrets`` — the credential strings of a URL (raw and percent-decoded), for
  scrubbing driver messages that quote them in other forms;
* ``redact_secrets`` — free text with API keys, bearer tokens, ``key=value``
  credentials and URL credentials removed;
* ``one_line`` — an exception as one redacted line, the form every command prints.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit, urlunsplit

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


def redact_url(url: str) -> str:
    """Returns the URL with any user name and password replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return re.sub(r"//[^/@]*@", f"//{MASK}@", url)
    if parts.username is None and parts.password is None and "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, f"{MASK}@{host}", parts.path, parts.query, parts.fragment))


def url_secrets(url: str) -> tuple[str, ...]:
    """Returns the credential strings in a URL (raw and decoded) that messages must not show."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ()
    userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
    found = {userinfo}
    user, _, password = userinfo.partition(":")
    found |= {user, password, unquote(user), unquote(password)}
    return tuple(sorted((s for s in found if s), key=len, reverse=True))


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """Returns driver text cut to one line, with every given secret replaced by ``***``."""
    line = text.split(", Topology Description:", 1)[0].splitlines()[0] if text else ""
    for secret in secrets:
        line = line.replace(secret, MASK)
    return line


def redact_secrets(text: str, *, secrets: Iterable[str | None] = ()) -> str:
    """Returns the text with API keys, tokens and URL credentials replaced by ``***``."""
    literals = [os.environ.get("OPENAI_API_KEY"), os.environ.get("OPENAI_ADMIN_KEY"), *secrets]
    for secret in sorted({s for s in literals if s and len(s) >= _MIN_LITERAL}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    text = _KEY_RE.sub(f"sk-{MASK}", text)
    text = _BEARER_RE.sub(lambda m: f"{m.group(1)} {MASK}", text)
    text = _QUERY_SECRET_RE.sub(lambda m: f"{m.group(1)}={MASK}", text)
    return _URL_RE.sub(lambda m: redact_url(m.group(0)), text)


def one_line(exc: BaseException | str) -> str:
    """Returns an error (or text) as one line with every secret redacted."""
    return redact_secrets(" ".join(str(exc).split()))
