"""Dashboard benchmark (issue 12, item 7): many SSE clients replaying a journal from the start.

    .venv/bin/python -m benchmarks.sse_replay                 # 500 clients, the offline catalogue
    .venv/bin/python -m benchmarks.sse_replay --data DIR --code ../old-checkout

Journals the shipped catalogue with the offline provider (6,000 steps: about 6,000
events, the rooms' prose and the images' metadata as a real run writes them; or reuses
``--data DIR``), starts a real ``genjournal serve`` on a loopback port at default flags
(``--code DIR`` runs another checkout's code, to compare old and new in one sitting),
then opens N raw HTTP connections at once, each sending ``GET /events`` with
``Last-Event-ID: 0``. A client is complete when it has read the id of the journal's last
event. Reported: clients complete within the time limit, the slowest client's time, and
the server's peak resident memory (``VmHWM`` from /proc).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks.generator import clean_env, machine
from journal.backends.sqlite import SqliteEventStore


async def client(host: str, port: int, last: int, deadline: float) -> float | None:
    """Replays /events from 0 until the id of the last event; returns seconds, or None."""
    started = time.monotonic()
    needle = f"id: {last}\n".encode()
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), deadline - started)
    except (OSError, TimeoutError):
        return None
    try:
        writer.write(
            f"GET /events HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n"
            "Last-Event-ID: 0\r\n\r\n".encode()
        )
        await writer.drain()
        tail = b""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            chunk = await asyncio.wait_for(reader.read(1 << 16), left)
            if not chunk:
                return None
            tail = tail[-len(needle) :] + chunk
            if needle in tail:
                return time.monotonic() - started
    except (OSError, TimeoutError):
        return None
    finally:
        writer.close()


def peak_rss_mib(pid: int) -> float:
    """Returns a process's peak resident set size in MiB (Linux ``VmHWM``)."""
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(found.group(1)) / 1024 if found else float("nan")


async def scenario(clients: int, data: Path | None, limit_s: float, code: Path | None) -> dict[str, Any]:
    """Runs one measurement; returns its figures."""
    if data is None:
        data = Path(tempfile.mkdtemp(prefix="genjournal-sse-replay-")) / "data"
        run = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "genjournal", "run", "--data-dir", str(data), "--provider", "offline",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL, env=clean_env(),
        )  # fmt: skip
        assert await run.wait() == 0, "the offline run failed"
    store = SqliteEventStore(data / "journal.db", create=False)
    try:
        last = store.last_position()
    finally:
        store.close()
    env = clean_env()
    if code is not None:
        env["PYTHONPATH"] = str(code.resolve())
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
        line = await server.stderr.readline()
        found = re.search(rb"on http://([\d.]+):(\d+)/", line)
        assert found is not None, f"serve did not start: {line!r}"
        host, port = found.group(1).decode(), int(found.group(2))
        baseline = peak_rss_mib(server.pid)
        started = time.monotonic()
        deadline = started + limit_s
        times = await asyncio.gather(*(client(host, port, last, deadline) for _ in range(clients)))
        wall = time.monotonic() - started
        done = [t for t in times if t is not None]
        return {
            "clients": clients,
            "events": last,
            "complete": len(done),
            "slowest_s": round(max(done), 2) if done else None,
            "wall_s": round(wall, 2),
            "server_rss_start_mib": round(baseline, 1),
            "server_peak_rss_mib": round(peak_rss_mib(server.pid), 1),
            "code": str(code) if code else "this checkout",
        }
    finally:
        server.terminate()
        await server.wait()


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark and prints its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=500, help="SSE clients replaying at once")
    parser.add_argument("--data", type=Path, default=None, help="replay this data dir's journal instead")
    parser.add_argument("--limit", type=float, default=120.0, help="seconds a client may take")
    parser.add_argument("--code", type=Path, default=None, help="run serve from this checkout instead")
    args = parser.parse_args(argv)
    print(f"machine: {machine()}; {datetime.now().astimezone():%Y-%m-%d}", file=sys.stderr)
    result = asyncio.run(scenario(args.clients, args.data, args.limit, args.code))
    print(
        f"{result['clients']} clients x {result['events']} events ({result['code']}): "
        f"{result['complete']}/{result['clients']} complete in {args.limit:.0f} s, "
        f"slowest {result['slowest_s']} s; server peak RSS {result['server_peak_rss_mib']} MiB "
        f"(idle {result['server_rss_start_mib']} MiB)",
        file=sys.stderr,
    )
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
