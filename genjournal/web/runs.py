"""Starting and stopping runs from the dashboard: ordinary ``genjournal run`` subprocesses.

A run started here is the same command a terminal would run, in its own session (so a
Ctrl-C on ``serve``, or the server crashing, never reaches it), with the journal named
through the environment (a ``--db`` URL with a password never shows in ``ps``). It runs
the plan the journal last recorded — written to a TOML file when it is not the shipped
catalogue — so a run from the page never switches the plan that ``status`` measures
against. Stopping sends SIGTERM, which a run answers with a clean stop (exit 130).

The run lease says which run is live: stop signals the live holder when it runs on this
host (its pid *and* start time must match, so a recycled pid is never signalled),
whether the dashboard or a terminal started it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from journal.events import PlanSpec
from journal.store import EventStore, format_time

LOG_TAIL_LINES = 20


class RunControlError(Exception):
    """A run cannot be started or stopped now; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class RunRequest:
    """What the page asked for: like ``genjournal run --limit N --subcategory SLUG…``."""

    limit: int | None = None
    subcategories: tuple[str, ...] = ()

    def arguments(self) -> list[str]:
        """Returns the command-line options of this request."""
        args: list[str] = []
        if self.limit is not None:
            args += ["--limit", str(self.limit)]
        for slug in self.subcategories:
            args += ["--subcategory", slug]
        return args


def _toml_string(text: str) -> str:
    # JSON strings are TOML basic strings once DEL (which JSON leaves raw) is escaped.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def plan_toml(plan: PlanSpec) -> str:
    """Writes a plan as the TOML ``load_plan`` reads."""
    lines = [
        "languages = [" + ", ".join(_toml_string(lang) for lang in plan.languages) + "]",
        f"images_per_style = {plan.images_per_style}",
        f"images_per_room = {plan.images_per_room}",
    ]
    for table, entries in (("subcategories", plan.subcategories), ("room_types", plan.room_types)):
        for entry in entries:
            lines += [
                "",
                f"[[{table}]]",
                f"slug = {_toml_string(entry.slug)}",
                f"name = {_toml_string(entry.name)}",
            ]
    return "\n".join(lines) + "\n"


class RunManager:
    """Starts runs as subprocesses and stops the live one."""

    def __init__(self, *, data_dir: Path, db_url: str, workdir: Path) -> None:
        self.data_dir = data_dir
        self.db_url = db_url
        self.workdir = workdir
        self.child: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None
        self.command: str | None = None
        self._count = 0

    def _child_alive(self) -> bool:
        return self.child is not None and self.child.poll() is None

    def start(self, request: RunRequest, *, plan: PlanSpec | None, store: EventStore) -> dict[str, Any]:
        """Starts ``genjournal run`` with the request's options; refuses while a run is live."""
        if self._child_alive():
            raise RunControlError("a run started from this dashboard is still running")
        holder = store.read_lease()
        if holder is not None and holder.is_alive(heartbeat_timeout_s=60.0):
            raise RunControlError(f"run {holder.run_id} (pid {holder.pid} on {holder.host}) is running")
        if plan is not None:
            known = {entry.slug for entry in plan.subcategories}
            unknown = [slug for slug in request.subcategories if slug not in known]
            if unknown:
                raise RunControlError(f"subcategory {unknown[0]!r} is not in the plan", 400)
        args = [sys.executable, "-m", "genjournal", "run", "--data-dir", str(self.data_dir)]
        shown = ["genjournal", "run"]
        if plan is not None and not _is_shipped(plan):
            self._count += 1
            plan_file = self.workdir / f"plan-{self._count}.toml"
            plan_file.write_text(plan_toml(plan), encoding="utf-8")
            args += ["--plan", str(plan_file)]
            shown += ["--plan", "<the journal's plan>"]
        args += request.arguments()
        shown += request.arguments()
        self._count += 1
        self.log_path = self.workdir / f"run-{self._count}.log"
        env = {**os.environ, "GENJOURNAL_DB": self.db_url, "PYTHONUNBUFFERED": "1"}
        with self.log_path.open("wb") as log:
            self.child = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                env=env,
                cwd=self.workdir,
                start_new_session=True,
            )
        self.command = " ".join(shown)
        return {"started": True, "pid": self.child.pid, "command": self.command}

    def stop(self, store: EventStore) -> dict[str, Any]:
        """Sends SIGTERM to the live run (ours, or the lease holder on this host)."""
        holder = store.read_lease()
        live = holder if holder is not None and holder.is_alive(heartbeat_timeout_s=60.0) else None
        if self._child_alive():
            assert self.child is not None
            self.child.send_signal(signal.SIGTERM)
            run_id = live.run_id if live is not None and live.pid == self.child.pid else None
            return {"stopping": True, "pid": self.child.pid, "run_id": run_id}
        if live is None:
            raise RunControlError("no run is in progress")
        if live.host != socket.gethostname():
            raise RunControlError(f"run {live.run_id} runs on {live.host}; stop it there")
        try:
            os.kill(live.pid, signal.SIGTERM)
        except ProcessLookupError as exc:
            raise RunControlError("the run has just ended") from exc
        return {"stopping": True, "pid": live.pid, "run_id": live.run_id}

    def status(self, store: EventStore) -> dict[str, Any]:
        """Describes the live run (if any) and the last run started from this dashboard."""
        holder = store.read_lease()
        active = None
        if holder is not None and holder.is_alive(heartbeat_timeout_s=60.0):
            active = {
                "run_id": holder.run_id,
                "pid": holder.pid,
                "host": holder.host,
                "since": format_time(holder.since),
                "started_here": self.child is not None and self.child.pid == holder.pid,
            }
        last = None
        if self.child is not None:
            code = self.child.poll()
            last = {
                "pid": self.child.pid,
                "command": self.command,
                "running": code is None,
                "exit_code": code,
                "log_tail": self.log_tail(),
            }
        # What `genjournal run` will choose without --provider (never the key itself).
        provider = "openai" if os.environ.get("OPENAI_API_KEY") else "offline"
        return {"active": active, "last_started_here": last, "provider": provider}

    def log_tail(self) -> list[str]:
        """Returns the last lines the dashboard's latest run wrote on stderr (secrets redacted)."""
        from journal.redaction import redact_secrets

        if self.log_path is None or not self.log_path.exists():
            return []
        with self.log_path.open("rb") as fh:
            lines = _last_lines(fh, LOG_TAIL_LINES)
        return [redact_secrets(line) for line in lines]


def _last_lines(fh: IO[bytes], count: int) -> list[str]:
    fh.seek(0, os.SEEK_END)
    size = fh.tell()
    fh.seek(max(0, size - 16_384))
    text = fh.read().decode("utf-8", "replace")
    return [line for line in text.splitlines() if line.strip()][-count:]


def _is_shipped(plan: PlanSpec) -> bool:
    from generator.plan import load_plan

    return load_plan(None).spec == plan
