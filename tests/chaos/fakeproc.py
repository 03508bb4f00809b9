"""The fault-injecting OpenAI server, as a subprocess or in-process, behind one small interface."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol


class LedgerSource(Protocol):
    """Something that serves the fake server's billing ledger and fault settings."""

    base_url: str

    def ledger(self) -> list[dict[str, Any]]:
        """Returns every API request the server saw, in arrival order."""
        ...

    def configure(self, patch: dict[str, Any]) -> None:
        """Applies a settings patch (e.g. ``{"clear": True}``)."""
        ...


class FakeServerProcess:
    """Runs ``python -m genjournal.testing.fake_openai`` as a subprocess and talks to it over HTTP."""

    def __init__(self, settings: dict[str, Any], log: Path) -> None:
        self.settings = settings
        self.log = log
        self.proc: subprocess.Popen[str] | None = None
        self.base_url = ""

    def __enter__(self) -> FakeServerProcess:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self._stderr = self.log.open("w")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "genjournal.testing.fake_openai",
                "--port",
                "0",
                "--rules",
                json.dumps(self.settings),
            ],
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line.startswith("http://"):
            self.__exit__()
            raise RuntimeError(f"the fake server did not start (see {self.log})")
        self.base_url = line
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
        self._stderr.close()

    @property
    def root(self) -> str:
        """Returns the URL of the control endpoints."""
        return self.base_url.removesuffix("/v1")

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.root + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as reply:
            return json.loads(reply.read())

    def ledger(self) -> list[dict[str, Any]]:
        """Returns every API request the server saw, in arrival order."""
        return list(self._call("GET", "/_ledger"))

    def configure(self, patch: dict[str, Any]) -> None:
        """Applies a settings patch over ``POST /_faults``."""
        self._call("POST", "/_faults", patch)


class InProcessServer:
    """Adapts an in-process ``FakeOpenAI`` to the same interface (for the in-process legs)."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.base_url = server.base_url

    def ledger(self) -> list[dict[str, Any]]:
        """Returns every API request the server saw, in arrival order."""
        return [asdict(entry) for entry in self.server.ledger()]

    def configure(self, patch: dict[str, Any]) -> None:
        """Applies a settings patch in-process."""
        self.server.configure(patch)


def settle(source: LedgerSource, *, quiet_s: float = 0.3, timeout_s: float = 10.0) -> list[dict[str, Any]]:
    """Waits until the ledger stops growing for ``quiet_s`` (a killed client's requests land)."""
    deadline = time.monotonic() + timeout_s
    last = source.ledger()
    stable_since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = source.ledger()
        if len(now) != len(last):
            last, stable_since = now, time.monotonic()
        elif time.monotonic() - stable_since >= quiet_s:
            return now
    return last
