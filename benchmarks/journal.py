"""Journal benchmarks (issue 3), measured side by side in one run on this machine.

    .venv/bin/python -m benchmarks.journal [--rounds 5] [--appends 1000]

(a) One durable single-event append through ``SqliteEventStore.append`` against a bare
    ``sqlite3`` INSERT + COMMIT of a row of the same payload with identical pragmas (WAL,
    synchronous=FULL, BEGIN IMMEDIATE) → the ratio. The two alternate operation by
    operation, so machine noise hits both alike; the median of the rounds is reported.
(b) Batched appends, 100 events per call: ``append(stream, 100 events)`` and
    ``append_many`` of 100 one-event batches (the generator's group commit) → events/s.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.generator import machine
from genjournal.testing import samples
from journal.backends.sqlite import SqliteEventStore
from journal.events import dump_data, dump_meta
from journal.store import AppendBatch


def single_appends(store: SqliteEventStore, raw_path: Path, count: int, round_: int) -> tuple[float, float]:
    """Alternates one bare durable INSERT+COMMIT and one store append; returns seconds per op of each."""
    conn = sqlite3.connect(raw_path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS events (position INTEGER PRIMARY KEY, stream TEXT, version INTEGER,"
        " data TEXT, UNIQUE (stream, version))"
    )
    version = conn.execute("SELECT COALESCE(MAX(version), 0) FROM events").fetchone()[0]
    events = [
        samples.image_generated(i, room=f"r{round_}", payload=f"{round_}-{i}".encode()) for i in range(count)
    ]
    payloads = [dump_data(e) + dump_meta(e) for e in events]
    raw_s = store_s = 0.0
    clock = time.perf_counter
    for event, payload in zip(events, payloads, strict=True):
        version += 1
        t0 = clock()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO events (stream, version, data) VALUES (?, ?, ?)", ("s", version, payload))
        conn.execute("COMMIT")
        t1 = clock()
        store.append("style:bench", [event])
        t2 = clock()
        raw_s += t1 - t0
        store_s += t2 - t1
    conn.close()
    return raw_s / count, store_s / count


def batched(store: SqliteEventStore, calls: int, round_: int) -> tuple[float, float]:
    """Returns events/s for ``append`` of 100-event batches and for ``append_many`` of 100 batches."""
    batches = [[samples.image_failed(i, room=f"b{round_}-{c}") for i in range(100)] for c in range(calls)]
    started = time.perf_counter()
    for c, events in enumerate(batches):
        store.append(f"style:batch-{round_}-{c}", events)
    one_stream = calls * 100 / (time.perf_counter() - started)
    groups = [
        [
            AppendBatch(
                f"style:group-{round_}-{c}", [samples.image_generated(i, payload=f"g{round_}{c}{i}".encode())]
            )
            for i in range(100)
        ]
        for c in range(calls)
    ]
    started = time.perf_counter()
    for group in groups:
        store.append_many(group)
    many = calls * 100 / (time.perf_counter() - started)
    return one_stream, many


def main() -> None:
    """Runs the benchmarks and prints one JSON object of figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--appends", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=50)
    args = parser.parse_args()
    ratios, raw_us, store_us, one_stream, many = [], [], [], [], []
    with tempfile.TemporaryDirectory(prefix="gj-bench-") as tmp:
        store = SqliteEventStore(Path(tmp) / "journal.db")
        try:
            for round_ in range(args.rounds):
                raw, ours = single_appends(store, Path(tmp) / "raw.db", args.appends, round_)
                raw_us.append(raw * 1e6)
                store_us.append(ours * 1e6)
                ratios.append(ours / raw)
                a, b = batched(store, args.calls, round_)
                one_stream.append(a)
                many.append(b)
        finally:
            store.close()
    print(
        json.dumps(
            {
                "machine": machine(),
                "single_append": {
                    "raw_commit_us_median": round(statistics.median(raw_us), 1),
                    "store_append_us_median": round(statistics.median(store_us), 1),
                    "ratio_median": round(statistics.median(ratios), 3),
                    "ratio_per_round": [round(r, 3) for r in ratios],
                },
                "batched_100": {
                    "append_100_events_per_s_median": round(statistics.median(one_stream)),
                    "append_many_100_batches_per_s_median": round(statistics.median(many)),
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
