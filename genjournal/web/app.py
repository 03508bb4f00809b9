"""The Starlette application: server-rendered pages, JSON endpoints, SSE, blobs, run control.

Pages (``/``, ``/styles/{slug}``, ``/timeline``, ``/costs``) are Jinja2 templates with
autoescaping on, so everything a model wrote is text, never markup; a strict
Content-Security-Policy (scripts only from ``/static``) makes that a second wall, not the
only one. Each page has a JSON twin with the CLI's ``--json`` shape (``/api/status``,
``/api/styles/{slug}``, ``/api/history``, ``/api/costs``). ``/events`` is the live feed.
Images are served by sha256 from the blob store (the hash is validated, the path is the
store's) with immutable cache headers. An unknown slug or hash is a 404; a malformed
query parameter is a 400 naming it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from genjournal.web import queries
from genjournal.web.board import style_rooms
from genjournal.web.live import event_stream
from genjournal.web.runs import RunControlError
from genjournal.web.security import (
    CSRF_FIELD,
    LOOPBACK_NAMES,
    Guard,
    control_problem,
    is_loopback,
    new_csrf_token,
)
from genjournal.web.service import Dashboard, WebConfig
from journal.blobs import is_sha256
from journal.errors import JournalError

#: what every response may load: scripts and styles from this server, images from it too
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]
IMMUTABLE = "max-age=31536000, immutable"
#: what a refused live stream is told to wait before it reconnects
STREAMS_FULL_RETRY_S = 5


class SecurityHeaders:
    """Adds the Content-Security-Policy and friends to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Passes the request on, adding the headers to the response start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("genjournal.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["money"] = queries.money
    env.filters["number"] = lambda value: "—" if value is None else f"{value:,}"
    return env


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith(("/api/", "/events"))


def create_app(config: WebConfig, dashboard: Dashboard | None = None) -> Starlette:
    """Builds the dashboard application over one journal."""
    dash = dashboard if dashboard is not None else Dashboard(config)
    env = _environment()
    csrf = new_csrf_token()

    def render(request: Request, name: str, context: Mapping[str, Any], status: int = 200) -> HTMLResponse:
        page = env.get_template(name).render(
            request_path=request.url.path,
            csrf=csrf,
            location=dash.location,
            **context,
        )
        return HTMLResponse(page, status_code=status, headers={"cache-control": "no-store"})

    def error(request: Request, status: int, message: str) -> Response:
        if _wants_json(request):
            return JSONResponse({"error": message}, status_code=status)
        return render(request, "error.html", {"status": status, "message": message}, status)

    # --- pages -----------------------------------------------------------------------

    async def overview(request: Request) -> Response:
        grid = await run_in_threadpool(dash.grid)
        status = await run_in_threadpool(dash.status)
        runs = await run_in_threadpool(dash.runs.status, dash.store)
        return render(
            request,
            "overview.html",
            {"grid": grid, "status": status, "runs": runs, "script_data": grid.script_data()},
        )

    async def style_page(request: Request) -> Response:
        slug = request.path_params["slug"]
        doc = await run_in_threadpool(dash.document, slug)
        if doc is None:
            return error(request, 404, f"no style {slug!r} in this journal")
        plan = await run_in_threadpool(dash.plan)
        costs = await run_in_threadpool(dash.style_costs, slug)
        curation = await run_in_threadpool(dash.generations, slug)
        return render(
            request,
            "style.html",
            {
                "doc": doc,
                "rooms": style_rooms(plan, doc),
                "costs": costs,
                "position": dash.tail.head,
                "earlier": curation["earlier"],
                "awaiting": set(curation["awaiting"]),
            },
        )

    async def timeline(request: Request) -> Response:
        query = queries.HistoryQuery.parse(request.query_params, default_limit=200)
        rows = await run_in_threadpool(dash.history_rows, query)
        return render(
            request,
            "timeline.html",
            {"query": query, "types": queries.EVENT_TYPE_NAMES, "rows": rows},
        )

    async def costs_page(request: Request) -> Response:
        by = queries.parse_costs_by(request.query_params)
        report = await run_in_threadpool(dash.costs, by)
        return render(request, "costs.html", {"by": by, "report": report, "choices": queries.COSTS_BY})

    # --- JSON ------------------------------------------------------------------------

    async def api_status(request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(dash.status))

    async def api_style(request: Request) -> Response:
        slug = request.path_params["slug"]
        doc = await run_in_threadpool(dash.document, slug)
        if doc is None:
            return error(request, 404, f"no style {slug!r} in this journal")
        return JSONResponse(doc)

    async def api_history(request: Request) -> Response:
        query = queries.HistoryQuery.parse(request.query_params, default_limit=None)
        return JSONResponse(await run_in_threadpool(dash.history_json, query))

    async def api_costs(request: Request) -> Response:
        by = queries.parse_costs_by(request.query_params)
        return JSONResponse(await run_in_threadpool(dash.costs, by))

    # --- live feed and blobs -------------------------------------------------------------

    async def events(request: Request) -> Response:
        cursor = queries.parse_cursor(request.headers.get("last-event-id"), request.query_params.get("after"))
        if dash.tail.subscribers >= config.max_clients:
            answer = error(
                request,
                503,
                f"this dashboard already serves {config.max_clients} live streams; try again shortly",
            )
            answer.headers["retry-after"] = str(STREAMS_FULL_RETRY_S)
            return answer
        start = dash.tail.head if cursor is None else cursor
        return StreamingResponse(
            event_stream(dash.tail, start, heartbeat_s=config.heartbeat_s),
            media_type="text/event-stream",
            headers={"cache-control": "no-store", "x-accel-buffering": "no"},
        )

    async def blob(request: Request) -> Response:
        sha = request.path_params["sha"]
        if not is_sha256(sha):
            return error(request, 404, "no such image")
        path = dash.blobs.path_for(sha)
        if not await run_in_threadpool(path.is_file):
            return error(request, 404, "no such image")
        scope = "private" if config.token else "public"
        headers = {"cache-control": f"{scope}, {IMMUTABLE}", "etag": f'"{sha}"'}
        if request.headers.get("if-none-match") == f'"{sha}"':
            return Response(status_code=304, headers=headers)
        return FileResponse(path, media_type="image/png", headers=headers)

    # --- run control -------------------------------------------------------------------

    async def control_body(request: Request) -> dict[str, Any]:
        try:
            body = await request.json() if await request.body() else {}
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise queries.BadRequest("the request body is not JSON") from exc
        if not isinstance(body, dict):
            raise queries.BadRequest("the request body must be a JSON object")
        problem = control_problem(request, csrf=csrf, token=config.token, form_csrf=body.get(CSRF_FIELD))
        if problem is not None:
            raise HTTPException(403, problem)
        return body

    async def runs_status(request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(dash.runs.status, dash.store))

    async def runs_start(request: Request) -> Response:
        body = await control_body(request)
        run_request = queries.parse_run_request(body)
        plan = await run_in_threadpool(dash.plan)
        try:
            started = await run_in_threadpool(
                lambda: dash.runs.start(run_request, plan=plan, store=dash.store)
            )
        except RunControlError as exc:
            return error(request, exc.status, str(exc))
        return JSONResponse(started, status_code=202)

    async def regenerate(request: Request) -> Response:
        from generator.curation import SelectionError

        body = await control_body(request)
        slug = request.path_params["slug"]
        step, reason = body.get("step"), body.get("reason")
        if not isinstance(step, str) or not step:
            raise queries.BadRequest("step must be a step key (like image:room:kitchen:0)")
        if not isinstance(reason, str):
            raise queries.BadRequest("reason must say why the result is not kept")
        flags = {name: body.get(name, False) for name in ("keep_images", "cascade")}
        if not all(isinstance(value, bool) for value in flags.values()):
            raise queries.BadRequest("keep_images and cascade must be true or false")
        try:
            marked = await run_in_threadpool(
                lambda: dash.regenerate(
                    slug, step, reason, keep_images=flags["keep_images"], cascade=flags["cascade"]
                )
            )
        except SelectionError as exc:
            return error(request, 400, str(exc))
        return JSONResponse(marked, status_code=201)

    async def runs_stop(request: Request) -> Response:
        await control_body(request)
        try:
            stopped = await run_in_threadpool(dash.runs.stop, dash.store)
        except RunControlError as exc:
            return error(request, exc.status, str(exc))
        return JSONResponse(stopped, status_code=202)

    # --- errors ------------------------------------------------------------------------

    async def bad_request(request: Request, exc: Exception) -> Response:
        return error(request, 400, str(exc))

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        message = exc.detail if exc.status_code != 404 else "not found"
        return error(request, exc.status_code, message)

    async def journal_error(request: Request, exc: Exception) -> Response:
        from journal.redaction import redact_secrets

        return error(request, 503, redact_secrets(" ".join(str(exc).split())))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await dash.start()
        try:
            yield
        finally:
            await dash.stop()

    from importlib.resources import files

    static_dir = str(files("genjournal.web").joinpath("static"))
    app = Starlette(
        routes=[
            Route("/", overview),
            Route("/styles/{slug}", style_page),
            Route("/timeline", timeline),
            Route("/costs", costs_page),
            Route("/events", events),
            Route("/blobs/{sha}", blob),
            Route("/api/status", api_status),
            Route("/api/styles/{slug}", api_style),
            Route("/api/styles/{slug}/regenerate", regenerate, methods=["POST"]),
            Route("/api/history", api_history),
            Route("/api/costs", api_costs),
            Route("/api/runs", runs_status, methods=["GET"]),
            Route("/api/runs", runs_start, methods=["POST"]),
            Route("/api/runs/stop", runs_stop, methods=["POST"]),
            Mount("/static", StaticFiles(directory=static_dir), name="static"),
        ],
        exception_handlers={
            queries.BadRequest: bad_request,
            HTTPException: http_error,
            JournalError: journal_error,
        },
        middleware=[
            Middleware(SecurityHeaders),
            Middleware(
                Guard,
                token=config.token,
                loopback_only=is_loopback(config.host),
                allowed_hosts=LOOPBACK_NAMES | {config.host.strip("[]").lower()},
            ),
        ],
        lifespan=lifespan,
    )
    app.state.dashboard = dash
    return app
