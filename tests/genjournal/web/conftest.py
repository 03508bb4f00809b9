"""Dashboard test fixtures: offline journals, an in-process app, a real `serve`, SSE clients."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from genjournal.testing import samples
from genjournal.web.app import create_app
from genjournal.web.service import WebConfig

PLAN = samples.PLAN_TOML

BASE_URL = "http://127.0.0.1:8765"
TOKEN = "tok-" + "0123456789abcdef" * 2


def clean_env(**extra: str) -> dict[str, str]:
    """Returns the environment for a child process, without a developer's OpenAI settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "GENJOURNAL_TOKEN")
    }
    env.update(extra)
    return env


def write_plan(directory: Path, text: str = PLAN) -> Path:
    """Writes a plan file and returns its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "plan.toml"
    path.write_text(text, encoding="utf-8")
    return path


def genjournal(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Runs the real `genjournal` command in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "genjournal", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env or clean_env(),
    )


def run_offline(
    data: Path, plan: Path, *extra: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Runs `genjournal run` on the offline provider and returns the finished process."""
    done = genjournal(
        "run",
        "--plan",
        str(plan),
        "--data-dir",
        str(data),
        "--provider",
        "offline",
        *extra,
        env=env,
    )
    assert done.returncode in (0, 1), done.stderr
    return done


def cli_json(*args: str) -> Any:
    """Runs a `genjournal … --json` command and returns the JSON it printed."""
    done = genjournal(*args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def journal_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Returns a data dir where an offline run did two of the plan's three styles."""
    root = tmp_path_factory.mktemp("journal")
    data = root / "data"
    run_offline(data, write_plan(root), "--limit", "2")
    return data


def make_client(
    data: Path, *, base_url: str = BASE_URL, db_url: str | None = None, **settings: Any
) -> TestClient:
    """Returns a TestClient (use it as a context manager) on the dashboard over a data dir."""
    config = WebConfig(data_dir=data, db_url=db_url or f"sqlite:///{data / 'journal.db'}", **settings)
    return TestClient(create_app(config), base_url=base_url)


@pytest.fixture
def client(journal_dir: Path) -> Iterator[TestClient]:
    """Yields a TestClient on the dashboard over the shared offline journal."""
    with make_client(journal_dir) as test_client:
        yield test_client


class Served:
    """A real `genjournal serve` subprocess on a free loopback port."""

    def __init__(
        self, data: Path, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "genjournal",
                "serve",
                "--data-dir",
                str(data),
                "--port",
                "0",
                *args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env or clean_env(),
            cwd=cwd,
        )
        assert self.process.stderr is not None
        line = self.process.stderr.readline()
        found = re.search(r"on (http://\S+)/", line)
        if found is None:
            rest = self.process.stderr.read() if self.process.poll() is not None else ""
            self.stop()
            raise AssertionError(f"serve did not start: {line}{rest}")
        self.url = found.group(1)

    def stop(self) -> None:
        """Stops the server (SIGTERM, then SIGKILL) and reaps it."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stderr is not None:
            self.process.stderr.close()


@pytest.fixture
def serve() -> Iterator[Callable[..., Served]]:
    """Yields a starter of real `genjournal serve` processes, all stopped at the end."""
    started: list[Served] = []

    def start(data: Path, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Served:
        served = Served(data, *args, env=env, cwd=cwd)
        started.append(served)
        return served

    yield start
    for served in started:
        served.stop()


class SSE:
    """A Server-Sent Events client over httpx that collects (id, envelope) pairs."""

    def __init__(self, url: str, *, last_event_id: int | None = None, timeout: float = 30.0) -> None:
        headers = {"accept": "text/event-stream"}
        if last_event_id is not None:
            headers["last-event-id"] = str(last_event_id)
        self._client = httpx.Client(timeout=httpx.Timeout(timeout))
        self._stream = self._client.stream("GET", url, headers=headers)
        self.response = self._stream.__enter__()
        self._lines = self.response.iter_lines()
        self.received: list[tuple[int, dict[str, Any]]] = []

    def next_event(self) -> tuple[int, dict[str, Any]]:
        """Reads until the next event with data; returns (id, envelope)."""
        ident: int | None = None
        data: list[str] = []
        for line in self._lines:
            if line.startswith("id:"):
                ident = int(line[3:].strip())
            elif line.startswith("data:"):
                data.append(line[5:].strip())
            elif line == "" and data:
                assert ident is not None, "an event without an id"
                event = (ident, json.loads("\n".join(data)))
                self.received.append(event)
                return event
        raise EOFError("the stream ended")

    def read_until(
        self, done: Callable[[dict[str, Any]], bool], *, limit: int = 100_000
    ) -> list[tuple[int, dict[str, Any]]]:
        """Reads events until one satisfies ``done``; returns those read by this call."""
        got = []
        for _ in range(limit):
            event = self.next_event()
            got.append(event)
            if done(event[1]):
                return got
        raise AssertionError("too many events")

    def drain(self) -> list[tuple[int, dict[str, Any]]]:
        """Reads until the server ends the stream; returns the events read (a stall times out)."""
        got = []
        while True:
            try:
                got.append(self.next_event())
            except EOFError:
                return got

    def close(self) -> None:
        """Closes the stream and the client."""
        self._stream.__exit__(None, None, None)
        self._client.close()


def wait_until(condition: Callable[[], Any], *, timeout: float = 30.0, interval: float = 0.05) -> Any:
    """Polls until ``condition()`` is truthy and returns it."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)
