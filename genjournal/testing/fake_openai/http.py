"""The HTTP face of the fake: routes, control endpoints, replies and dropped connections."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from genjournal.testing.fake_openai.config import STEP_HEADER
from genjournal.testing.fake_openai.errors import Drop, Reply
from genjournal.testing.fake_openai.models import model_list

if TYPE_CHECKING:
    from genjournal.testing.fake_openai.server import FakeOpenAI


class FakeHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # Handler threads may sit in a latency sleep or a keep-alive read; never join them.
    block_on_close = False
    request_queue_size = 256
    allow_reuse_address = True
    app: FakeOpenAI

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()

    def track(self, conn: socket.socket, add: bool) -> None:
        """Remembers open connections so ``close_all`` can wake their threads."""
        with self._conns_lock:
            (self._conns.add if add else self._conns.discard)(conn)

    def close_all(self) -> None:
        """Shuts every open connection down."""
        with self._conns_lock:
            conns, self._conns = list(self._conns), set()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-openai/1"
    # Idle keep-alive connections are closed after this long.
    timeout = 60
    # Headers and body go out in two writes; Nagle would hold the second for an ACK.
    disable_nagle_algorithm = True
    server: FakeHTTPServer

    def setup(self) -> None:
        """Registers the connection so stop() can close it."""
        super().setup()
        self.server.track(self.connection, True)

    def finish(self) -> None:
        """Flushes and unregisters the connection."""
        with contextlib.suppress(OSError):  # the client (or a drop fault) closed it first
            super().finish()
        self.server.track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:
        """Keeps the test output quiet."""

    def do_GET(self) -> None:
        """Serves the control endpoints."""
        raw = self._body()
        app = self.server.app
        if self._files_and_batches("GET", raw):
            return
        if self.path == "/_batches":
            self._send(200, app.batches.server_state())
        elif self.path == "/_health":
            self._send(200, {"status": "ok", "requests": len(app.ledger())})
        elif self.path == "/_ledger":
            self._send(200, [e.to_dict() for e in app.ledger()])
        elif self.path == "/_faults":
            self._send(200, app.configure({}))
        elif self.path == "/v1/models":
            # ListModelsResponse: free, billed nothing, in no ledger; a key is needed, as there.
            try:
                app.gate(self._api_key())
            except Reply as fail:
                self._send(fail.status, fail.body, fail.headers)
                return
            except Drop:
                self._drop()
                return
            self._send(200, model_list(app.extra_models))
        else:
            self._send(
                404,
                {
                    "error": {
                        "message": f"Unknown path {self.path}",
                        "type": "invalid_request_error",
                    }
                },
            )

    def do_DELETE(self) -> None:
        """Clears the ledger."""
        raw = self._body()
        if self._files_and_batches("DELETE", raw):
            return
        if self.path == "/_ledger":
            self.server.app.clear_ledger()
            self._send(200, {"cleared": True})
        else:
            self._send(404, {"error": {"message": f"Unknown path {self.path}"}})

    def do_POST(self) -> None:
        """Serves the API and the fault settings."""
        raw = self._body()
        app = self.server.app
        path = self.path.split("?", 1)[0]
        if self._files_and_batches("POST", raw):
            return
        try:
            body = json.loads(raw or b"{}")
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
        except ValueError as exc:
            self._send(
                400,
                {
                    "error": {
                        "message": f"We could not parse the JSON body of your request: {exc}",
                        "type": "invalid_request_error",
                        "param": None,
                        "code": None,
                    }
                },
            )
            return
        if path == "/_faults":
            try:
                self._send(200, app.configure(body))
            except (ValueError, TypeError) as exc:
                self._send(400, {"error": {"message": str(exc)}})
            return
        routes = {"/v1/chat/completions": app.chat, "/v1/images/generations": app.images}
        route = routes.get(path)
        if route is None:
            self._send(
                404,
                {
                    "error": {
                        "message": f"Invalid URL (POST {path})",
                        "type": "invalid_request_error",
                        "param": None,
                        "code": None,
                    }
                },
            )
            return
        step = self.headers.get(STEP_HEADER)
        api_key = self._api_key()
        req = app.begin(path, body, step)
        try:
            reply, headers, outcome = route(req, body, api_key)
        except Reply as fail:
            fail.headers.setdefault("x-request-id", req.request_id)
            app.record("POST", path, req, fail.status, fail.outcome, fail.fault)
            app.keep_exchange(path, body, fail.status, fail.body)
            self._send(fail.status, fail.body, fail.headers)
            return
        except Drop as drop:
            if drop.hang_s:
                app.stopping.wait(drop.hang_s)
            app.record("POST", path, req, None, drop.outcome, drop.fault)
            self._drop()
            return
        app.record("POST", path, req, 200, outcome, outcome if outcome != "ok" else None)
        app.keep_exchange(path, body, 200, reply)
        processing = int(app.endpoints[req.family].latency_ms)
        self._send(
            200,
            reply,
            {**headers, "x-request-id": req.request_id, "openai-processing-ms": str(processing)},
        )

    # --- the Files and Batch APIs (in the ledger, never billable)

    def _files_and_batches(self, method: str, raw: bytes) -> bool:
        """Serves ``/v1/files*`` and ``/v1/batches*``; returns False for any other path."""
        split = urllib.parse.urlsplit(self.path)
        path = split.path.rstrip("/")
        parts = path.split("/")[1:]  # "v1", "files" | "batches", [id], [action]
        if len(parts) < 2 or parts[0] != "v1" or parts[1] not in ("files", "batches") or len(parts) > 4:
            return False
        query = dict(urllib.parse.parse_qsl(split.query))
        app = self.server.app
        kind, ident = parts[1], parts[2] if len(parts) > 2 else None
        action = parts[3] if len(parts) > 3 else None
        api_key = self._api_key()
        batch_id = ident if kind == "batches" else None
        try:
            app.gate(api_key)
            answer: Any
            if kind == "files":
                answer = self._files(method, ident, action, query, raw)
            else:
                answer = self._batches(method, ident, action, query, raw, api_key)
                if method == "POST" and ident is None and isinstance(answer, dict):
                    batch_id = answer.get("id")
        except Reply as fail:
            app.record(method, path, None, fail.status, fail.outcome, None, batch_id=batch_id, billable=False)
            self._send(fail.status, fail.body, fail.headers)
            return True
        except Drop as drop:
            app.record(method, path, None, None, drop.outcome, drop.fault, batch_id=batch_id, billable=False)
            self._drop()
            return True
        app.record(method, path, None, 200, "ok", None, batch_id=batch_id, billable=False)
        if isinstance(answer, bytes):
            self._send_raw(200, answer, "application/octet-stream")
        else:
            self._send(200, answer)
        return True

    def _files(
        self, method: str, ident: str | None, action: str | None, query: dict[str, str], raw: bytes
    ) -> dict[str, Any] | bytes:
        files = self.server.app.files
        if ident is None and method == "POST":
            return files.upload(self.headers.get("Content-Type", ""), raw)
        if ident is None and method == "GET":
            return files.listing(query)
        if ident is not None and action is None and method == "GET":
            return files.get(ident).to_dict()
        if ident is not None and action is None and method == "DELETE":
            return files.delete(ident)
        if ident is not None and action == "content" and method == "GET":
            return files.get(ident).data
        raise Reply(404, f"Invalid URL ({method} {self.path})", outcome="404")

    def _batches(
        self,
        method: str,
        ident: str | None,
        action: str | None,
        query: dict[str, str],
        raw: bytes,
        api_key: str | None,
    ) -> dict[str, Any]:
        batches = self.server.app.batches
        if ident is None and method == "POST":
            try:
                body = json.loads(raw or b"{}")
            except ValueError as exc:
                raise Reply(
                    400, f"We could not parse the JSON body of your request: {exc}", outcome="400"
                ) from exc
            if not isinstance(body, dict):
                raise Reply(400, "We could not parse the JSON body of your request.", outcome="400")
            return batches.create(body, api_key)
        if ident is None and method == "GET":
            return batches.listing(query)
        if ident is not None and action is None and method == "GET":
            return batches.view(ident)
        if ident is not None and action == "cancel" and method == "POST":
            return batches.cancel(ident)
        raise Reply(404, f"Invalid URL ({method} {self.path})", outcome="404")

    # --- plumbing

    def _send_raw(self, status: int, data: bytes, content_type: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True

    def _api_key(self) -> str | None:
        """Returns the bearer key of the request, or None when there is none."""
        auth = self.headers.get("Authorization", "")
        key = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        return key or None

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
