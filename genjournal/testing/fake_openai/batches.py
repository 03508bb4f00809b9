"""The Batch API: ``validating → in_progress → finalizing → completed``, time-scaled, in a thread.

Each batch runs in its own daemon thread. Its lines go through the same answer logic as
the live endpoints (rules and per-family fault probabilities apply), but not through the
live rate limits, latency or outage: the Batch API has its own pool. A line's *step* (what
rules match and the ledger records) comes from its ``custom_id``: ``<stream>|<step>|<n>``
becomes ``<stream>/<step>`` (what the live ``X-Genjournal-Step`` header carries); any other
custom_id is the step itself.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from genjournal.testing.fake_openai.batch_input import (
    BatchSettings,
    bad_request,
    check_metadata,
    line_error,
    validate_lines,
)
from genjournal.testing.fake_openai.config import ORGANIZATION
from genjournal.testing.fake_openai.errors import Drop, Reply
from genjournal.testing.fake_openai.files import FileStore, page

if TYPE_CHECKING:
    from genjournal.testing.fake_openai.server import FakeOpenAI

#: the endpoints the fake runs batches for (the API lists more; the fake refuses those)
SERVED_ENDPOINTS = ("/v1/chat/completions", "/v1/images/generations")
#: every endpoint ``batches.create`` names (``openai.types.batch_create_params``)
API_ENDPOINTS = (
    "/v1/responses", "/v1/chat/completions", "/v1/embeddings", "/v1/completions",
    "/v1/moderations", "/v1/images/generations", "/v1/images/edits",
)  # fmt: skip
EXPIRED_MESSAGE = "This request could not be executed before the completion window expired."
_CUSTOM_ID = re.compile(r"^(.+)\|(.+)\|\d+$")
TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})


def step_of(custom_id: str) -> str:
    """Returns the step a line's custom_id names (``a|b|1`` → ``a/b``; else the custom_id)."""
    found = _CUSTOM_ID.match(custom_id)
    return f"{found.group(1)}/{found.group(2)}" if found else custom_id


@dataclass
class BatchState:
    """One batch: its API object and the lines done so far."""

    obj: dict[str, Any]
    api_key: str | None
    started: float = field(default_factory=time.monotonic)
    output: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    cancel: threading.Event = field(default_factory=threading.Event)


def _now() -> int:
    return int(time.time())


class BatchRunner:
    """Holds the batches and runs each one in a daemon thread."""

    def __init__(self, app: FakeOpenAI, files: FileStore) -> None:
        self.app = app
        self.files = files
        self.settings = BatchSettings()
        self._lock = threading.Lock()
        self._batches: dict[str, BatchState] = {}

    def configure(self, patch: dict[str, Any]) -> None:
        """Applies the ``"batch"`` settings patch."""
        self.settings = BatchSettings.from_dict(patch, self.settings)

    def settings_dict(self) -> dict[str, Any]:
        """Returns the batch settings."""
        return asdict(self.settings)

    def get(self, batch_id: str) -> BatchState:
        """Returns a batch; raises the API's 404 for an unknown id."""
        with self._lock:
            found = self._batches.get(batch_id)
        if found is None:
            raise Reply(404, f"No batch found with id '{batch_id}'.", outcome="404", param="batch_id")
        return found

    def view(self, batch_id: str) -> dict[str, Any]:
        """Returns a batch's API object (a copy)."""
        state = self.get(batch_id)
        with self._lock:
            return json.loads(json.dumps(state.obj))  # type: ignore[no-any-return]

    def server_state(self) -> list[dict[str, Any]]:
        """Returns every batch with its server-side progress (``GET /_batches``)."""
        with self._lock:
            return [
                {
                    "batch": json.loads(json.dumps(s.obj)),
                    "done_lines": [o["custom_id"] for o in s.output],
                    "error_lines": [e["custom_id"] for e in s.errors],
                    "cancel_requested": s.cancel.is_set(),
                }
                for s in self._batches.values()
            ]

    # --- the API

    def create(self, body: dict[str, Any], api_key: str | None) -> dict[str, Any]:
        """Answers ``POST /v1/batches``."""
        for name in ("input_file_id", "endpoint", "completion_window"):
            if not body.get(name):
                raise bad_request(
                    f"Missing required parameter: '{name}'.", name, "missing_required_parameter"
                )
        endpoint, window = body["endpoint"], body["completion_window"]
        if endpoint not in SERVED_ENDPOINTS:
            listed = ", ".join(f"'{e}'" for e in API_ENDPOINTS)
            served = endpoint in API_ENDPOINTS
            raise bad_request(
                f"Invalid value: '{endpoint}'. Supported values are: {listed}."
                + (
                    " (The fake serves only /v1/chat/completions and /v1/images/generations.)"
                    if served
                    else ""
                ),
                "endpoint",
            )
        if window != "24h":
            raise bad_request(f"Invalid value: '{window}'. Supported values are: '24h'.", "completion_window")
        check_metadata(body.get("metadata"))
        created = _now()
        batch_id = f"batch_{secrets.token_hex(12)}"
        obj: dict[str, Any] = {
            "id": batch_id,
            "object": "batch",
            "endpoint": endpoint,
            "model": None,
            "errors": None,
            "input_file_id": str(body["input_file_id"]),
            "completion_window": window,
            "status": "validating",
            "output_file_id": None,
            "error_file_id": None,
            "created_at": created,
            "in_progress_at": None,
            "expires_at": created + 24 * 3600,
            "finalizing_at": None,
            "completed_at": None,
            "failed_at": None,
            "expired_at": None,
            "cancelling_at": None,
            "cancelled_at": None,
            "request_counts": {"total": 0, "completed": 0, "failed": 0},
            "usage": None,
            "metadata": body.get("metadata"),
        }
        state = BatchState(obj, api_key)
        with self._lock:
            self._batches[batch_id] = state
        threading.Thread(target=self._run, args=(state,), name=f"fake-batch-{batch_id}", daemon=True).start()
        return self.view(batch_id)

    def cancel(self, batch_id: str) -> dict[str, Any]:
        """Answers ``POST /v1/batches/{id}/cancel``."""
        state = self.get(batch_id)
        with self._lock:
            status = state.obj["status"]
            if status in ("completed", "failed", "expired"):
                raise Reply(409, f"Cannot cancel a batch with status '{status}'.", outcome="409")
            if status not in ("cancelling", "cancelled"):
                state.obj.update(status="cancelling", cancelling_at=_now())
                state.cancel.set()
        return self.view(batch_id)

    def listing(self, query: dict[str, str]) -> dict[str, Any]:
        """Answers ``GET /v1/batches`` (newest first, ``limit`` 1-100, ``after`` cursor)."""
        with self._lock:
            items = [json.loads(json.dumps(s.obj)) for s in reversed(self._batches.values())]
        return page(items, query, default_limit=20, max_limit=100)

    # --- the lifecycle (runs in the batch's thread)

    def _update(self, state: BatchState, **changes: Any) -> None:
        with self._lock:
            state.obj.update(changes)

    def _expired(self, state: BatchState) -> bool:
        limit = self.settings.expire_after_s
        return limit is not None and time.monotonic() - state.started >= limit

    def _wait(self, state: BatchState, seconds: float) -> None:
        """Sleeps, waking early for a cancel, an expiry or the server stopping."""
        end = time.monotonic() + seconds
        while not self.app.stopping.is_set() and not state.cancel.is_set() and not self._expired(state):
            left = end - time.monotonic()
            if left <= 0:
                return
            self.app.stopping.wait(min(left, 0.02))

    def _run(self, state: BatchState) -> None:
        obj = state.obj
        self._wait(state, self.settings.validate_s)
        if self._stop_early(state, []):
            return
        source = self.files.find(obj["input_file_id"])
        lines: list[dict[str, Any]] = []
        if source is None:
            errors = [
                line_error(
                    "invalid_request",
                    f"Cannot find file {obj['input_file_id']}, or organization "
                    f"{self.app_organization()} does not have access to it.",
                    None,
                    "file_id",
                )
            ]
        elif self.settings.fail_validation:
            errors = [
                line_error(
                    "invalid_request", "The batch failed validation (fail_validation is set).", None, None
                )
            ]
        else:
            lines, errors = validate_lines(source.data, obj["endpoint"], self.settings)
        if errors:
            self._update(state, status="failed", failed_at=_now(), errors={"object": "list", "data": errors})
            return
        model = next((str(line["body"]["model"]) for line in lines if line["body"].get("model")), None)
        self._update(
            state,
            status="in_progress",
            in_progress_at=_now(),
            model=model,
            request_counts={"total": len(lines), "completed": 0, "failed": 0},
        )
        for index, line in enumerate(lines):
            while self.settings.hold and not self._interrupted(state):
                self.app.stopping.wait(0.02)
            if self._stop_early(state, lines[index:]):
                return
            self._line(state, line)
            self._wait(state, self.settings.line_s)
        if self._stop_early(state, []):
            return
        self._update(state, status="finalizing", finalizing_at=_now())
        self.app.stopping.wait(self.settings.finalize_s)
        self._write_files(state)
        self._update(state, status="completed", completed_at=_now())

    def _interrupted(self, state: BatchState) -> bool:
        return self.app.stopping.is_set() or state.cancel.is_set() or self._expired(state)

    def app_organization(self) -> str:
        return ORGANIZATION

    def _stop_early(self, state: BatchState, left: list[dict[str, Any]]) -> bool:
        """Ends a cancelled or expired batch (keeping the lines done); returns whether it ended."""
        if state.cancel.is_set():
            self._write_files(state)
            self._update(state, status="cancelled", cancelled_at=_now())
            return True
        if self._expired(state):
            for line in left:
                state.errors.append(
                    {
                        "id": f"batch_req_{secrets.token_hex(12)}",
                        "custom_id": line["custom_id"],
                        "response": None,
                        "error": {"code": "batch_expired", "message": EXPIRED_MESSAGE},
                    }
                )
            with self._lock:
                state.obj["request_counts"]["failed"] += len(left)
            self._write_files(state)
            self._update(state, status="expired", expired_at=_now())
            return True
        return self.app.stopping.is_set()

    def _line(self, state: BatchState, line: dict[str, Any]) -> None:
        """Answers one line through the live answer logic, outside the live rate limits."""
        app, body, url = self.app, line["body"], line["url"]
        custom_id = line["custom_id"]
        req = app.begin(url, body, step_of(custom_id))
        route = app.chat if url == "/v1/chat/completions" else app.images
        batch_id = state.obj["id"]
        status: int
        app.lane.batch = True
        try:
            reply, _, outcome = route(req, body, state.api_key)
            status, fault = 200, (outcome if outcome != "ok" else None)
            payload: Any = reply
        except Reply as fail:
            status, outcome, fault, payload = fail.status, fail.outcome, fail.fault, fail.body
        except Drop as drop:
            # The Batch API has no connection to drop: the line ends as a server error.
            status, outcome, fault = 500, "500", drop.fault
            payload = {
                "error": {
                    "message": "The server had an error while processing your request. Sorry about that!",
                    "type": "server_error",
                    "param": None,
                    "code": None,
                }
            }
        finally:
            app.lane.batch = False
        app.record("POST", url, req, status, outcome, fault, batch_id=batch_id, custom_id=custom_id)
        entry = {
            "id": f"batch_req_{secrets.token_hex(12)}",
            "custom_id": custom_id,
            "response": {"status_code": status, "request_id": req.request_id, "body": payload},
            "error": None,
        }
        with self._lock:
            counts = state.obj["request_counts"]
            if status == 200:
                state.output.append(entry)
                counts["completed"] += 1
                self._add_usage(state.obj, req.usage_in or 0, req.usage_out or 0)
            else:
                state.errors.append(entry)
                counts["failed"] += 1

    @staticmethod
    def _add_usage(obj: dict[str, Any], used_in: int, used_out: int) -> None:
        usage = obj["usage"] or {
            "input_tokens": 0,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 0,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 0,
        }
        usage["input_tokens"] += used_in
        usage["output_tokens"] += used_out
        usage["total_tokens"] += used_in + used_out
        obj["usage"] = usage

    def _write_files(self, state: BatchState) -> None:
        """Stores the output and error files (each only when it has lines)."""
        batch_id = state.obj["id"]
        with self._lock:
            output, errors = list(state.output), list(state.errors)
        changes: dict[str, Any] = {}
        for key, rows, suffix in (("output_file_id", output, "output"), ("error_file_id", errors, "error")):
            if rows:
                data = "".join(json.dumps(r) + "\n" for r in rows).encode()
                changes[key] = self.files.add(data, f"{batch_id}_{suffix}.jsonl", "batch_output").id
        self._update(state, **changes)
