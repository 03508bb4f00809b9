"""The dashboard's guard: who may read, and who may start or stop a paid run.

Three rules, checked before any route runs (``Guard``, a plain ASGI middleware, so the
SSE stream is not buffered):

* **Host.** When the server is bound to a loopback address, a request whose ``Host`` is
  not a loopback name is refused (403). A web page on another site cannot reach the
  dashboard through DNS rebinding, because its requests carry that site's host name.
* **Token.** With ``--token`` (or ``GENJOURNAL_TOKEN``) every request needs it: an
  ``Authorization: Bearer`` header, or the session cookie that a ``?token=`` login sets
  (the login answers with a redirect to the same URL without the token, so it does not
  linger in the history or a ``Referer``). The cookie holds a hash of the token, never
  the token; it is ``HttpOnly`` and ``SameSite=Strict``.
* **Run control** (``control_problem``) always needs a same-origin request (the
  ``Origin``, or else the ``Referer``, names this server's host) *and* proof it came
  from a dashboard page or a token holder: the per-process CSRF token every page
  carries, or a valid ``Authorization: Bearer`` header. The CSRF token is random per
  server process and worthless elsewhere; the access token itself never reaches a page.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

SESSION_COOKIE = "genjournal_session"
CSRF_HEADER = "x-genjournal-csrf"
CSRF_FIELD = "csrf"
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def is_loopback(host: str) -> bool:
    """Tells whether a host name or address only reaches this machine."""
    name = host.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def session_value(token: str) -> str:
    """Returns what the session cookie holds for a token (a hash, never the token)."""
    return hashlib.sha256(f"genjournal-session:{token}".encode()).hexdigest()


def new_csrf_token() -> str:
    """Returns a fresh random CSRF token for one server process."""
    return secrets.token_urlsafe(24)


def _equal(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def _host_name(host_header: str) -> str:
    """Returns the host part of a ``Host`` header (``[::1]:8765`` → ``::1``)."""
    if host_header.startswith("["):
        return host_header[1:].split("]", 1)[0].lower()
    return host_header.rsplit(":", 1)[0].lower() if host_header.count(":") == 1 else host_header.lower()


def bearer_token(headers: Headers) -> str | None:
    """Returns the token of an ``Authorization: Bearer`` header, if any."""
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def cookie(headers: Headers, name: str) -> str | None:
    """Returns one cookie's value from the request headers."""
    raw = headers.get("cookie")
    if not raw:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except Exception:
        return None
    morsel = jar.get(name)
    return morsel.value if morsel is not None else None


class Guard:
    """Checks Host and token on every HTTP request before the application sees it."""

    def __init__(
        self, app: ASGIApp, *, token: str | None, loopback_only: bool, allowed_hosts: frozenset[str]
    ) -> None:
        self.app = app
        self.token = token
        self.session = session_value(token) if token else None
        self.loopback_only = loopback_only
        self.allowed_hosts = allowed_hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuses a request that fails a rule; passes the rest to the application."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if self.loopback_only and _host_name(headers.get("host", "")) not in self.allowed_hosts:
            await _refuse(
                scope,
                send,
                403,
                "this dashboard only answers requests addressed to a loopback name",
            )
            return
        if self.token is not None:
            query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
            if "token" in query:
                await self._login(scope, send, query)
                return
            if not (
                _equal(bearer_token(headers), self.token)
                or (self.session is not None and _equal(cookie(headers, SESSION_COOKIE), self.session))
            ):
                await _refuse(
                    scope,
                    send,
                    401,
                    "this dashboard needs its token: open the URL `genjournal serve` printed "
                    "(…/?token=…) or send Authorization: Bearer <token>",
                )
                return
        await self.app(scope, receive, send)

    async def _login(self, scope: Scope, send: Send, query: dict[str, str]) -> None:
        assert self.token is not None
        assert self.session is not None
        if not _equal(query.get("token"), self.token):
            await _refuse(scope, send, 401, "wrong token")
            return
        rest = urlencode([(k, v) for k, v in query.items() if k != "token"])
        location = local_path(scope.get("path", "/")) + (f"?{rest}" if rest else "")
        cookie_header = f"{SESSION_COOKIE}={self.session}; Path=/; HttpOnly; SameSite=Strict"
        await send(
            {
                "type": "http.response.start",
                "status": 303,
                "headers": [
                    (b"location", location.encode("latin-1", "replace")),
                    (b"set-cookie", cookie_header.encode()),
                    (b"cache-control", b"no-store"),
                    (b"content-length", b"0"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b""})


def local_path(path: str) -> str:
    """Returns a redirect target that stays on this server: one leading "/", no scheme or host.

    A request path such as ``//evil.example/`` (or ``/\\evil.example``) would be read by a
    browser as another host; it becomes ``/evil.example/``, a path here.
    """
    path = path.replace("\\", "/")
    return "/" + path.lstrip("/")


async def _refuse(scope: Scope, send: Send, status: int, message: str) -> None:
    path = scope.get("path", "")
    if path.startswith(("/api/", "/events")):
        import json

        body = json.dumps({"error": message}).encode()
        kind = b"application/json"
    else:
        from html import escape

        body = (
            f"<!doctype html><meta charset=utf-8><title>genjournal</title><p>{escape(message)}</p>"
        ).encode()
        kind = b"text/html; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", kind),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def control_problem(request: Request, *, csrf: str, token: str | None, form_csrf: str | None) -> str | None:
    """Returns why a run-control request is refused, or None when it may proceed."""
    host = request.headers.get("host", "").lower()
    origin = request.headers.get("origin")
    source = origin if origin and origin != "null" else request.headers.get("referer")
    if not source:
        return "run control needs a same-origin request (no Origin or Referer header)"
    if urlsplit(source).netloc.lower() != host:
        return "run control needs a same-origin request (Origin/Referer is another site)"
    if token is not None and _equal(bearer_token(request.headers), token):
        return None
    if _equal(request.headers.get(CSRF_HEADER) or form_csrf, csrf):
        return None
    return "run control needs the page's CSRF token (reload the dashboard) or the access token"
