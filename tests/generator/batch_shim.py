"""A Files + Batch API in front of the fake server, for the batch tests.

It answers ``/v1/files`` and ``/v1/batches`` itself and forwards every other request to
a ``FakeOpenAI``. A batch runs its lines when it ends (at the poll that reaches
``polls_to_finish``): each line is POSTed to the fake with ``X-Genjournal-Step`` taken
from its custom_id, so the fake's ledger bills every line as the live call would be
billed. ``expire_after`` lines makes a batch end ``expired`` with the rest unanswered
(their error lines say ``batch_expired``); ``hold`` keeps batches ``in_progress`` until
released; ``cancel`` ends one ``cancelled`` with nothing run.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from genjournal.testing.fake_openai import FakeOpenAI


class BatchShim:
    """Serves the Batch API over a fake OpenAI server (start with ``with``)."""

    def __init__(self, fake: FakeOpenAI, *, polls_to_finish: int = 1) -> None:
        self.fake = fake
        self.polls_to_finish = polls_to_finish
        self.expire_after: int | None = None
        self.hold = False
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.polls: dict[str, int] = {}
        self.calls: dict[str, int] = {}
        self._lock = threading.RLock()
        self._seq = 0
        shim = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                shim.handle(self, "GET")

            def do_POST(self) -> None:
                shim.handle(self, "POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """Returns the base URL clients use (``…/v1``)."""
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> BatchShim:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _id(self, prefix: str) -> str:
        with self._lock:
            self._seq += 1
            return f"{prefix}_{self._seq:06d}"

    def _count(self, kind: str) -> None:
        with self._lock:
            self.calls[kind] = self.calls.get(kind, 0) + 1

    # --- routes

    def handle(self, req: BaseHTTPRequestHandler, method: str) -> None:
        path = req.path.split("?", 1)[0]
        length = int(req.headers.get("Content-Length") or 0)
        body = req.rfile.read(length) if length else b""
        if path == "/v1/files" and method == "POST":
            self._count("upload")
            content = _multipart_file(req.headers.get("Content-Type", ""), body)
            file_id = self._id("file")
            self.files[file_id] = content
            return _send(req, 200, _file(file_id, len(content)))
        if path.startswith("/v1/files/") and path.endswith("/content"):
            self._count("download")
            file_id = path.split("/")[3]
            if file_id not in self.files:
                return _send(req, 404, {"error": {"message": "no such file"}})
            return _send_bytes(req, self.files[file_id])
        if path == "/v1/batches" and method == "POST":
            self._count("create")
            params = json.loads(body)
            batch_id = self._id("batch")
            lines = self.files[params["input_file_id"]].splitlines()
            with self._lock:
                self.batches[batch_id] = {
                    "id": batch_id,
                    "object": "batch",
                    "endpoint": params["endpoint"],
                    "input_file_id": params["input_file_id"],
                    "completion_window": params["completion_window"],
                    "status": "in_progress",
                    "created_at": int(time.time()),
                    "output_file_id": None,
                    "error_file_id": None,
                    "metadata": params.get("metadata"),
                    "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
                }
            return _send(req, 200, self.batches[batch_id])
        if path == "/v1/batches" and method == "GET":
            self._count("list")
            with self._lock:
                data = list(reversed(list(self.batches.values())))
            return _send(req, 200, {"object": "list", "data": data, "has_more": False})
        if path.startswith("/v1/batches/") and path.endswith("/cancel"):
            self._count("cancel")
            batch_id = path.split("/")[3]
            return _send(req, 200, self._end(batch_id, "cancelled", run=0))
        if path.startswith("/v1/batches/"):
            self._count("poll")
            batch_id = path.split("/")[3]
            with self._lock:
                batch = self.batches[batch_id]
                self.polls[batch_id] = self.polls.get(batch_id, 0) + 1
                due = self.polls[batch_id] >= self.polls_to_finish and not self.hold
                if batch["status"] == "in_progress" and due:
                    total = batch["request_counts"]["total"]
                    if self.expire_after is not None:
                        self._end(batch_id, "expired", run=min(self.expire_after, total))
                    else:
                        self._end(batch_id, "completed", run=total)
                return _send(req, 200, batch)
        return self._forward(req, method, body)

    def _end(self, batch_id: str, status: str, *, run: int) -> dict[str, Any]:
        """Runs the first ``run`` lines of a batch against the fake and ends it with ``status``."""
        with self._lock:
            batch = self.batches[batch_id]
            if batch["status"] != "in_progress":
                return batch
            lines = [
                json.loads(raw) for raw in self.files[batch["input_file_id"]].splitlines() if raw.strip()
            ]
            out, errors = [], []
            for index, line in enumerate(lines):
                line_id = f"batch_req_{batch_id}_{index}"
                if index >= run:
                    code = "batch_expired" if status == "expired" else "batch_cancelled"
                    errors.append(
                        {
                            "id": line_id,
                            "custom_id": line["custom_id"],
                            "response": None,
                            "error": {"code": code, "message": f"This request was not run ({status})."},
                        }
                    )
                    continue
                stream, step, _ = line["custom_id"].split("|")
                status_code, reply, request_id = self._post(line["url"], line["body"], f"{stream}/{step}")
                entry = {
                    "id": line_id,
                    "custom_id": line["custom_id"],
                    "response": {"status_code": status_code, "request_id": request_id, "body": reply},
                    "error": None,
                }
                (out if status_code == 200 else errors).append(entry)
            counts = batch["request_counts"]
            counts["completed"] = sum(1 for e in out)
            counts["failed"] = (
                len(errors) if status == "completed" else sum(1 for e in errors if e["response"] is not None)
            )
            if out:
                batch["output_file_id"] = self._id("file")
                self.files[batch["output_file_id"]] = _jsonl(out)
            if errors:
                batch["error_file_id"] = self._id("file")
                self.files[batch["error_file_id"]] = _jsonl(errors)
            batch["status"] = status
            return batch

    def _post(self, url: str, body: dict[str, Any], step: str) -> tuple[int, dict[str, Any], str | None]:
        request = urllib.request.Request(
            self.fake.base_url.rstrip("/").removesuffix("/v1") + url,
            data=json.dumps(body).encode(),
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Authorization": "Bearer sk-test-batchshim-000000000000",
                "X-Genjournal-Step": step,
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as reply:
                return reply.status, json.loads(reply.read()), reply.headers.get("x-request-id")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}"), exc.headers.get("x-request-id")

    def _forward(self, req: BaseHTTPRequestHandler, method: str, body: bytes) -> None:
        target = self.fake.base_url.rstrip("/").removesuffix("/v1") + req.path
        headers = {k: v for k, v in req.headers.items() if k.lower() not in ("host", "content-length")}
        request = urllib.request.Request(
            target, data=body if method == "POST" else None, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=120) as reply:
                status, data, reply_headers = reply.status, reply.read(), reply.headers
        except urllib.error.HTTPError as exc:
            status, data, reply_headers = exc.code, exc.read(), exc.headers
        except OSError:
            req.close_connection = True
            return
        req.send_response(status)
        for name, value in reply_headers.items():
            if name.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                req.send_header(name, value)
        req.send_header("Content-Length", str(len(data)))
        req.end_headers()
        req.wfile.write(data)


def _file(file_id: str, size: int) -> dict[str, Any]:
    return {
        "id": file_id,
        "object": "file",
        "bytes": size,
        "created_at": int(time.time()),
        "filename": "input.jsonl",
        "purpose": "batch",
        "status": "processed",
    }


def _jsonl(items: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(item).encode() + b"\n" for item in items)


def _multipart_file(content_type: str, body: bytes) -> bytes:
    message = BytesParser().parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    for part in message.walk():
        if part.get_param("name", header="content-disposition") == "file":
            payload = part.get_payload(decode=True)
            return payload if isinstance(payload, bytes) else b""
    return b""


def _send(req: BaseHTTPRequestHandler, status: int, payload: Any) -> None:
    data = json.dumps(payload).encode()
    req.send_response(status)
    req.send_header("Content-Type", "application/json")
    req.send_header("Content-Length", str(len(data)))
    req.end_headers()
    req.wfile.write(data)


def _send_bytes(req: BaseHTTPRequestHandler, data: bytes) -> None:
    req.send_response(200)
    req.send_header("Content-Type", "application/octet-stream")
    req.send_header("Content-Length", str(len(data)))
    req.end_headers()
    req.wfile.write(data)
