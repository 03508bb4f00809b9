"""Dashboard benchmark (issue 8): append → visible in an SSE client, while a run appends.

    .venv/bin/python -m benchmarks.sse                 # 1 client, then 50 clients
    .venv/bin/python -m benchmarks.sse --clients 50 --seconds 20

For each scenario, on a fresh offline journal:

* a real ``genjournal serve`` subprocess on a loopback port;
* N SSE clients (one asyncio process, httpx) connected to ``/events``;
* a real ``genjournal run`` subprocess (offline provider, the shipped catalogue, each step
  slowed by a failpoint so the run keeps appending for the whole measurement);
* a *prober* subprocess appending one small event every 20 ms to its own stream and
  printing the monotonic time at which each ``append`` returned (the commit is durable).

Latency = the moment a client parsed the event's ``id`` line - the moment ``append``
returned in the prober (CLOCK_MONOTONIC is system-wide, so the two processes compare),
over every (client, probe) pair. The run's own events are reported as ``recorded_at`` →
visible (wall clock, millisecond stamps taken *before* the commit, so that figure also
includes the commit and its fsync). Every client must receive every event after its
start exactly once and in order; the server's CPU use during the scenario is reported.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from benchmarks.generator import clean_env, machine

PROBE_STREAM = "bench:probe"


# --- the prober (a separate process) -------------------------------------------------


def probe(db: str, interval_s: float, seconds: float) -> None:
    """Appends one event every ``interval_s`` and prints "position monotonic_ns" per append."""
    from journal.backends.sqlite import SqliteEventStore
    from journal.events import StepStarted, StepStartedData

    store = SqliteEventStore(db, create=False)
    deadline = time.monotonic() + seconds
    i = 0
    while time.monotonic() < deadline:
        event = StepStarted(
            run_id="bench-probe",
            data=StepStartedData(stream=PROBE_STREAM, step=f"p{i}", kind="text"),
        )
        [stored] = store.append(PROBE_STREAM, [event])
        print(stored.position, time.monotonic_ns(), flush=True)
        i += 1
        time.sleep(interval_s)
    store.close()


# --- one scenario ----------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Returns the q-th percentile (0-100) by nearest rank."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[rank]


def cpu_seconds(pid: int) -> float:
    """Returns a process's user + system CPU time."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def sse_client(
    url: str, received: list[tuple[int, int, float]], ready: asyncio.Event, stop: asyncio.Event
) -> None:
    """Reads /events, recording (id, monotonic ns, wall s) for each event until ``stop``."""
    async with (
        httpx.AsyncClient(timeout=httpx.Timeout(None)) as client,
        client.stream("GET", url) as response,
    ):
        ready.set()
        async for line in response.aiter_lines():
            if line.startswith("id: "):
                received.append((int(line[4:]), time.monotonic_ns(), time.time()))
            if stop.is_set():
                return


async def scenario(clients: int, seconds: float, step_sleep_s: float) -> dict[str, Any]:
    """Runs one measurement with ``clients`` SSE clients; returns its figures."""
    root = Path(tempfile.mkdtemp(prefix="genjournal-sse-bench-"))
    data = root / "data"
    env = clean_env()
    seed = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "genjournal",
        "run",
        "--data-dir",
        str(data),
        "--provider",
        "offline",
        "--limit",
        "1",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        env=env,
    )
    assert await seed.wait() == 0
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "genjournal",
        "serve",
        "--data-dir",
        str(data),
        "--port",
        "0",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        assert server.stderr is not None
        found = re.search(rb"on (http://\S+)/", await server.stderr.readline())
        assert found is not None, "serve did not start"
        base = found.group(1).decode()
        from journal.backends.sqlite import SqliteEventStore

        store = SqliteEventStore(data / "journal.db", create=False)
        start = store.last_position()
        received: list[list[tuple[int, int, float]]] = [[] for _ in range(clients)]
        stop = asyncio.Event()
        readies = [asyncio.Event() for _ in range(clients)]
        tasks = [
            asyncio.create_task(sse_client(f"{base}/events", received[i], readies[i], stop))
            for i in range(clients)
        ]
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 30)
        await asyncio.sleep(0.5)

        cpu_before = cpu_seconds(server.pid)
        wall_before = time.monotonic()
        run = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "genjournal",
            "run",
            "--data-dir",
            str(data),
            "--provider",
            "offline",
            "--limit",
            "60",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            env={**env, "GENJOURNAL_FAILPOINTS": f"step-before-call=sleep:{step_sleep_s}"},
        )
        prober = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "benchmarks.sse",
            "--probe",
            str(data / "journal.db"),
            "--seconds",
            str(seconds),
            stdout=asyncio.subprocess.PIPE,
            env=env,
        )
        assert prober.stdout is not None
        probes: dict[int, int] = {}
        async for raw in prober.stdout:
            position, at = raw.split()
            probes[int(position)] = int(at)
        await prober.wait()
        if run.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                run.terminate()  # SIGTERM: a clean stop, RunFinished journaled
        await run.wait()
        last = store.last_position()
        # Let every client drain what was appended up to the end.
        deadline = time.monotonic() + 30
        while any(not r or r[-1][0] < last for r in received) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        stop.set()
        cpu = cpu_seconds(server.pid) - cpu_before
        wall = time.monotonic() - wall_before
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        events = {e.position: e for e in store.iter_all(after_position=start)}
        store.close()
    finally:
        if server.returncode is None:
            server.terminate()
            await server.wait()
        shutil.rmtree(root, ignore_errors=True)

    expected = sorted(events)
    complete = sum(1 for r in received if [ident for ident, _, _ in r] == expected)
    probe_ms = [(at - probes[ident]) / 1e6 for r in received for ident, at, _ in r if ident in probes]
    run_ms = []
    for r in received:
        for ident, _, wall_at in r:
            event = events.get(ident)
            if event is not None and event.stream != PROBE_STREAM:
                run_ms.append((wall_at - event.recorded_at.timestamp()) * 1000)
    run_events = sum(1 for e in events.values() if e.stream != PROBE_STREAM)
    return {
        "clients": clients,
        "clients_complete": complete,
        "events": len(expected),
        "run_events": run_events,
        "run_events_per_s": round(run_events / wall, 1),
        "probes": len(probes),
        "probe_ms": {
            "p50": round(statistics.median(probe_ms), 1),
            "p95": round(percentile(probe_ms, 95), 1),
            "p99": round(percentile(probe_ms, 99), 1),
            "max": round(max(probe_ms), 1),
        },
        "recorded_at_ms": {
            "p50": round(statistics.median(run_ms), 1),
            "p95": round(percentile(run_ms, 95), 1),
        },
        "server_cpu_percent": round(100 * cpu / wall, 1),
        "seconds": round(wall, 1),
    }


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark scenarios and prints their figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, nargs="*", default=[1, 50], help="client counts to measure")
    parser.add_argument("--seconds", type=float, default=15.0, help="probing time per scenario")
    parser.add_argument("--step-sleep", type=float, default=0.02, help="seconds each run step takes")
    parser.add_argument("--probe", metavar="DB", help=argparse.SUPPRESS)
    parser.add_argument("--interval", type=float, default=0.02, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.probe:
        probe(args.probe, args.interval, args.seconds)
        return 0
    print(f"machine: {machine()}; {datetime.now().astimezone():%Y-%m-%d}", file=sys.stderr)
    results = []
    for clients in args.clients:
        result = asyncio.run(scenario(clients, args.seconds, args.step_sleep))
        results.append(result)
        probe_ms, run_ms = result["probe_ms"], result["recorded_at_ms"]
        print(
            f"{clients:>3} clients: append→visible p50 {probe_ms['p50']} ms, "
            f"p95 {probe_ms['p95']} ms, p99 {probe_ms['p99']} ms, max {probe_ms['max']} ms "
            f"over {result['probes']} probes x {clients}; "
            f"run events recorded_at→visible p50 {run_ms['p50']} ms, p95 {run_ms['p95']} ms; "
            f"{result['run_events']} run events ({result['run_events_per_s']}/s); "
            f"{result['clients_complete']}/{clients} clients got every event in order; "
            f"server CPU {result['server_cpu_percent']}%",
            file=sys.stderr,
        )
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
