"""Builds a synthetic journal fast: many complete styles of 75 events each.

The rows are exactly what ``SqliteEventStore.append`` writes (same columns, payload JSON
and checksums), inserted in large transactions so a million events take seconds rather
than the ~4 minutes that a million separate durable commits would. Used by the rebuild
and audit benchmarks::

    python -m benchmarks.synth --events 1000000 --out /tmp/gj-1m
"""

from __future__ import annotations

import argparse
import hashlib
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from journal.backends.sqlite import SqliteEventStore, event_row
from journal.events import (
    CatalogEntry,
    Color,
    Event,
    ImageFailed,
    ImageFailedData,
    ImageGenerated,
    ImageGeneratedData,
    Meta,
    PlanSpec,
    Prose,
    RoomGenerated,
    RoomGeneratedData,
    RunFinished,
    RunFinishedData,
    RunStarted,
    RunStartedData,
    StepError,
    StyleCreated,
    StyleCreatedData,
    blob_relpath,
)
from journal.store import format_time

ROOMS = 24
MODELS_TEXT = ("gpt-5.4-mini", "gpt-5.4")
MODELS_IMAGE = ("gpt-image-2", "gpt-image-1.5")


def _events_for_style(slug: str, number: int, rooms: list[CatalogEntry], run_id: str) -> list[Event]:
    """Returns the 75 events of one style: content, 3 images, 24 rooms × (room, image, failed image)."""
    text_model = MODELS_TEXT[number % 2]
    image_model = MODELS_IMAGE[number % 2]
    events: list[Event] = [
        StyleCreated(
            run_id=run_id,
            step="content",
            data=StyleCreatedData(
                subcategory=slug,
                name={"en": slug.title()},
                approach=f"Approach of {slug}",
                color=Color(name="Ochre", hex="#cc7722"),
                content={"en": Prose(poetic=f"Light over {slug}.", factual=f"{slug} began long ago.")},
                keywords=("oak", "linen"),
            ),
            meta=Meta(
                provider="openai",
                model=text_model,
                prompt_version="p1",
                input_tokens=420,
                output_tokens=910,
                latency_ms=2100,
                attempts=1,
                request_id=f"req-{number}",
            ),
        )
    ]

    def image(step: str, target: str, room: str | None, index: int) -> ImageGenerated:
        sha = hashlib.sha256(f"{slug}/{step}".encode()).hexdigest()
        return ImageGenerated(
            run_id=run_id,
            step=step,
            data=ImageGeneratedData(
                target=target,
                room_type=room,
                index=index,
                sha256=sha,  # type: ignore[arg-type]
                path=blob_relpath(sha),
                bytes=180_000,
                width=1024,
                height=1024,
                prompt="An interior photograph",
            ),
            meta=Meta(
                provider="openai",
                model=image_model,
                images=1,
                image_size="1024x1024",
                image_quality="medium",
                latency_ms=9000,
                attempts=1,
            ),
        )

    for i in range(3):
        events.append(image(f"image:style:{i}", "style", None, i))
    for room in rooms:
        events.append(
            RoomGenerated(
                run_id=run_id,
                step=f"room:{room.slug}",
                data=RoomGeneratedData(
                    room_type=room.slug,
                    name={"en": room.name},
                    content={"en": Prose(poetic="Quiet.", factual="Oak floor.")},
                    key_pieces=("sofa",),
                    materials=("oak",),
                ),
                meta=Meta(
                    provider="openai",
                    model=text_model,
                    input_tokens=380,
                    output_tokens=700,
                    latency_ms=1800,
                    attempts=1,
                ),
            )
        )
        events.append(image(f"image:room:{room.slug}:0", "room", room.slug, 0))
        events.append(
            ImageFailed(
                run_id=run_id,
                step=f"image:room:{room.slug}:1",
                data=ImageFailedData(
                    target="room",
                    room_type=room.slug,
                    index=1,
                    error=StepError(kind="rate_limited", message="HTTP 429", status=429),
                ),
                meta=Meta(provider="openai", model=image_model, attempts=4),
            )
        )
    return events[:75]


def build(out: Path, events: int) -> tuple[int, float]:
    """Writes a journal of about ``events`` events under ``out``; returns (count, seconds)."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "journal.db"
    if path.exists():
        raise SystemExit(f"{path} exists; remove it first")
    SqliteEventStore(path).close()
    started = time.perf_counter()
    styles = max(1, events // 75)
    rooms = [CatalogEntry(slug=f"room-{i:02d}", name=f"Room {i}") for i in range(ROOMS)]
    plan = PlanSpec(
        subcategories=tuple(CatalogEntry(slug=f"style-{i:06d}", name=f"Style {i}") for i in range(styles)),
        room_types=tuple(rooms),
    )
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    written = 0
    version_of: dict[str, int] = {}

    def insert(rows: list[tuple[str, Event]]) -> None:
        nonlocal written
        batch = []
        for stream, event in rows:
            version = version_of.get(stream, 0) + 1
            version_of[stream] = version
            stamp = format_time(t0 + timedelta(milliseconds=written * 50))
            batch.append(event_row(event, stream, version, stamp))
            written += 1
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO events (id, stream, version, type, schema_version, recorded_at, run_id, step,"
            " success, data, meta, checksum) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            batch,
        )
        conn.execute("COMMIT")

    run_id = "run-synthetic"
    insert(
        [
            (
                f"run:{run_id}",
                RunStarted(
                    run_id=run_id,
                    data=RunStartedData(
                        plan=plan,
                        plan_hash=plan.plan_hash(),
                        plan_source="synthetic",
                        provider="openai",
                        text_model=MODELS_TEXT[0],
                        image_model=MODELS_IMAGE[0],
                        code_version="bench",
                        host="bench",
                        pid=1,
                        steps_planned=styles * 75,
                        steps_pending=styles * 75,
                    ),
                ),
            )
        ]
    )
    pending: list[tuple[str, Event]] = []
    for number, entry in enumerate(plan.subcategories):
        pending += [(f"style:{entry.slug}", e) for e in _events_for_style(entry.slug, number, rooms, run_id)]
        if len(pending) >= 20_000:
            insert(pending)
            pending = []
    pending.append(
        (
            f"run:{run_id}",
            RunFinished(
                run_id=run_id,
                data=RunFinishedData(outcome="failed", counts={"succeeded": written}, duration_ms=1),
            ),
        )
    )
    insert(pending)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return written, time.perf_counter() - started


def main() -> None:
    """Parses arguments and builds the journal."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    count, seconds = build(args.out, args.events)
    print(f"wrote {count:,} events to {args.out / 'journal.db'} in {seconds:.1f} s")


if __name__ == "__main__":
    main()
