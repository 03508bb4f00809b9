"""Secret redaction: the one filter every message passes before it reaches an event, a log or a screen.

Provider errors echo what the server said, and OpenAI's 401 message quotes a masked
form of the key; a journal or proxy URL may carry credentials. This module is the only
place that knows what a secret looks like:

* ``redact_url`` — a URL with its user name and password replaced by ``***``;
* ``url_secrets`` — the credential strings of a URL (raw and percent-decoded), for
  scrubbing driver messages that quote them in other forms;
* ``redact_secrets`` — free text with API keys, bearer tokens, ``key=value``
  credentials and URL credentials removed;
* ``one_line`` — an exception as one redacted, printable line, the form every command
  prints (``printable`` escapes control and bidi characters a terminal would obey).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from urllib.parse import unquote, unquote_plus

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


def _split_credentials(url: str) -> tuple[str, str, str] | None:
    """Returns (scheme + "://", credentials, rest) of a URL with credentials, else None.

    The credentials are everything between the scheme and the last "@" — pymongo's own
    grammar (``rpartition("@")`` on the host part), so a password holding "#", "?", "/"
    or a percent-escape is cut where the driver would read it, not where ``urlsplit``
    stops the netloc. When in doubt more is masked, never less.
    """
    head, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return None
    credentials, _, hosts = rest.rpartition("@")
    return head + sep, credentials, hosts


def redact_url(url: str) -> str:
    """Returns the URL with any user name and password replaced by ``***``."""
    parts = _split_credentials(url)
    if parts is None:
        return url
    prefix, _, hosts = parts
    return f"{prefix}{MASK}@{hosts}"


def url_secrets(url: str) -> tuple[str, ...]:
    """Returns the credential strings in a URL (raw and decoded) that messages must not show."""
    parts = _split_credentials(url)
    if parts is None:
        return ()
    userinfo = parts[1]
    found = {userinfo}
    user, _, password = userinfo.partition(":")
    for piece in (user, password):
        found |= {piece, unquote(piece), unquote_plus(piece)}
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


# C0/C1 controls and DEL, and the bidirectional formatting characters that can make a
# terminal show text in another order than it is (U+200E/F, U+202A–E, U+2066–9).
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def has_unprintable(text: str) -> bool:
    """Tells whether text holds control or bidirectional-override characters."""
    return _UNPRINTABLE.search(text) is not None


def printable(text: str) -> str:
    """Returns text safe to echo to a terminal: each control or bidi character as ``\\uXXXX``."""
    return _UNPRINTABLE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)


def one_line(exc: BaseException | str) -> str:
    """Returns an error (or text) as one printable line with every secret redacted."""
    return printable(redact_secrets(" ".join(str(exc).split())))
