"""GET /events on a real `genjournal serve` while `genjournal run` appends from another process."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from journal.backends.sqlite import SqliteEventStore
from tests.genjournal.web.conftest import SSE, Served, clean_env, run_offline, write_plan

pytestmark = pytest.mark.slow


def start_run(data: Path, *args: str, sleep_s: float = 0.01) -> subprocess.Popen[str]:
    """Starts an offline `genjournal run` whose every step takes about ``sleep_s`` seconds."""
    env = clean_env(GENJOURNAL_FAILPOINTS=f"step-before-call=sleep:{sleep_s}")
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "genjournal",
            "run",
            "--data-dir",
            str(data),
            "--provider",
            "offline",
            *args,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )


def journal(data: Path, after: int = 0) -> list[dict[str, Any]]:
    """Returns the envelopes after a position, straight from the store."""
    store = SqliteEventStore(data / "journal.db", create=False)
    try:
        return [e.to_envelope() for e in store.iter_all(after_position=after)]
    finally:
        store.close()


def head(data: Path) -> int:
    """Returns the journal's last position."""
    store = SqliteEventStore(data / "journal.db", create=False)
    try:
        return store.last_position()
    finally:
        store.close()


def finished_after(position: int) -> Callable[[dict[str, Any]], bool]:
    """Returns a predicate: a RunFinished recorded after ``position``."""
    return lambda env: env["type"] == "RunFinished" and env["position"] > position


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """Returns a data dir with one finished offline run of one style of the small plan."""
    directory = tmp_path / "data"
    run_offline(directory, write_plan(tmp_path), "--limit", "1")
    return directory


def test_events_appended_by_another_process_arrive_in_order(data: Path, serve: Callable[..., Served]) -> None:
    """A live client and one replaying from 0 get every event a run appends, in order."""
    served = serve(data)
    start = head(data)
    live = SSE(f"{served.url}/events")
    replay = SSE(f"{served.url}/events?after=0")
    time.sleep(0.2)
    run = start_run(data, "--plan", str(data.parent / "plan.toml"))
    try:
        got_live = live.read_until(finished_after(start))
        got_replay = replay.read_until(finished_after(start))
    finally:
        live.close()
        replay.close()
        assert run.wait(timeout=60) == 0
    expected = journal(data, after=start)
    assert [env for _, env in got_live] == expected
    assert [ident for ident, _ in got_live] == [env["position"] for env in expected]
    assert [env for _, env in got_replay] == journal(data)
    history = httpx.get(f"{served.url}/api/history", params={"run": expected[0]["run_id"]}).json()
    assert history == [env for env in expected if env["run_id"] == expected[0]["run_id"]]


def test_reconnect_with_last_event_id_loses_and_duplicates_nothing(
    data: Path, serve: Callable[..., Served]
) -> None:
    """A client that drops mid-run and resumes with Last-Event-ID gets every event exactly once."""
    served = serve(data)
    start = head(data)
    first = SSE(f"{served.url}/events")
    time.sleep(0.2)
    run = start_run(data, "--plan", str(data.parent / "plan.toml"), sleep_s=0.05)
    try:
        before = [first.next_event() for _ in range(4)]
        first.close()
        time.sleep(0.3)  # the run keeps appending while nobody listens
        second = SSE(f"{served.url}/events?after={start}", last_event_id=before[-1][0])
        after = second.read_until(finished_after(start))
        second.close()
    finally:
        assert run.wait(timeout=60) == 0
    ids = [ident for ident, _ in before + after]
    assert ids == [env["position"] for env in journal(data, after=start)]
    assert len(ids) == len(set(ids))


def test_fifty_clients_stay_served_while_a_run_appends(tmp_path: Path, serve: Callable[..., Served]) -> None:
    """Fifty concurrent SSE clients each receive all of a ~200-step run's events, in order."""
    data = tmp_path / "data"
    run_offline(data, write_plan(tmp_path), "--limit", "1")
    served = serve(data)
    start = head(data)
    clients = [SSE(f"{served.url}/events", timeout=60) for _ in range(50)]
    results: list[list[int] | BaseException] = [[] for _ in clients]

    def read(i: int) -> None:
        try:
            results[i] = [ident for ident, _ in clients[i].read_until(finished_after(start))]
        except BaseException as exc:
            results[i] = exc
        finally:
            clients[i].close()

    threads = [threading.Thread(target=read, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    # The shipped catalogue (not the small plan): two styles of 100 steps each.
    run = start_run(data, "--limit", "2", sleep_s=0.002)
    assert run.wait(timeout=120) == 0
    for thread in threads:
        thread.join(timeout=60)
    expected = [env["position"] for env in journal(data, after=start)]
    assert len(expected) > 150
    for result in results:
        assert result == expected


def test_a_run_started_from_the_page_survives_the_server_dying(
    data: Path, serve: Callable[..., Served], tmp_path: Path
) -> None:
    """A run started from the dashboard keeps going, and finishes, when the server is SIGKILLed."""
    env = clean_env(GENJOURNAL_FAILPOINTS="step-before-call=sleep:0.05", TMPDIR=str(tmp_path))
    served = serve(data, env=env)
    page = httpx.get(f"{served.url}/").text
    csrf = re.search(r'<meta name="csrf" content="([^"]+)">', page)
    assert csrf is not None
    started = httpx.post(
        f"{served.url}/api/runs",
        json={},
        headers={"origin": served.url, "x-genjournal-csrf": csrf.group(1)},
    )
    assert started.status_code == 202, started.text
    pid = started.json()["pid"]
    deadline = time.monotonic() + 30
    while httpx.get(f"{served.url}/api/runs").json()["active"] is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    served.process.kill()
    served.process.wait()
    while pid_alive(pid):
        assert time.monotonic() < deadline + 60, "the run did not finish"
        time.sleep(0.1)
    finished = [env for env in journal(data) if env["type"] == "RunFinished"]
    assert finished[-1]["data"]["outcome"] == "completed"
    assert finished[-1]["data"]["counts"]["succeeded"] == 12  # the plan's two remaining styles


def pid_alive(pid: int) -> bool:
    """Tells whether a process (not a zombie) with this pid exists."""
    from journal.store import pid_exists

    return pid_exists(pid)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_the_server_stops_at_once_with_streams_open(
    data: Path, serve: Callable[..., Served], signum: signal.Signals
) -> None:
    """Ctrl-C (or SIGTERM) ends open SSE streams and stops the server quietly within a second."""
    served = serve(data)
    clients = [
        SSE(f"{served.url}/events", timeout=5),
        SSE(f"{served.url}/events?after=0", timeout=5),
    ]
    clients[1].next_event()
    started = time.monotonic()
    served.process.send_signal(signum)
    code = served.process.wait(timeout=10)
    elapsed = time.monotonic() - started
    for client in clients:
        client.drain()  # the server ended the stream: no stall, no reset
        client.close()
    assert served.process.stderr is not None
    errors = served.process.stderr.read()
    assert elapsed < 1.0, errors
    assert code in (130, -signal.SIGTERM), errors
    assert "Traceback" not in errors, errors
    assert "ERROR" not in errors, errors


def test_clients_past_the_cap_get_503_with_retry_after(data: Path, serve: Callable[..., Served]) -> None:
    """With `--max-clients 2` a third stream is refused (503, Retry-After); a freed slot is reused."""
    served = serve(data, "--max-clients", "2")
    first, second = SSE(f"{served.url}/events?after=0"), SSE(f"{served.url}/events?after=0")
    try:
        first.next_event()
        second.next_event()
        refused = httpx.get(f"{served.url}/events", headers={"accept": "text/event-stream"}, timeout=10)
        assert refused.status_code == 503
        assert int(refused.headers["retry-after"]) > 0
        assert "2 live streams" in refused.json()["error"]
    finally:
        first.close()
    deadline = time.monotonic() + 10
    while True:
        again = SSE(f"{served.url}/events?after=0")
        if again.response.status_code == 200:
            break
        again.close()
        assert time.monotonic() < deadline, "the closed stream's slot was never freed"
        time.sleep(0.1)
    try:
        assert again.next_event()[0] == journal(data)[0]["position"]
    finally:
        again.close()
        second.close()


def test_many_clients_replaying_the_same_range_all_get_every_event(
    data: Path, serve: Callable[..., Served]
) -> None:
    """Forty clients replaying from 0 at once (shared, cached pages) each get the journal in order."""
    served = serve(data)
    expected = [env["position"] for env in journal(data)]
    last = expected[-1]
    clients = [SSE(f"{served.url}/events", last_event_id=0, timeout=60) for _ in range(40)]
    results: list[list[int] | BaseException] = [[] for _ in clients]

    def read(i: int) -> None:
        try:
            results[i] = [ident for ident, _ in clients[i].read_until(lambda env: env["position"] == last)]
        except BaseException as exc:
            results[i] = exc
        finally:
            clients[i].close()

    threads = [threading.Thread(target=read, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(result == expected for result in results)
