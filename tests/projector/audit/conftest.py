"""Fixtures for the audit tests: journals with known usage on every backend, and the CLI."""

from __future__ import annotations

import json
import socket
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import pytest
from click.testing import CliRunner, Result

from genjournal.cli import cli
from genjournal.testing import samples
from journal.blobs import BlobStore
from journal.events import Event, ImageGenerated, Meta, RunStarted, StepStarted, StepStartedData
from journal.store import EventStore, LeaseHolder
from tests.journal.backends import Backend

#: 3 styles, 2 rooms each, 1 style image and 1 image per room: 3 images per style
PLAN = samples.small_plan(styles=3, rooms=2, images_per_style=1, images_per_room=1)
TEXT_MODEL, IMAGE_MODEL = "gpt-5.4-mini", "dall-e-3"
#: a text call of the standard journal: 1,000 tokens in, 2,000 out at $0.75 / $4.50 per 1M
TEXT_CALL_USD = 1000 * 0.75 / 1e6 + 2000 * 4.50 / 1e6
#: a DALL·E 3 1024x1024 standard image
IMAGE_USD = 0.040
#: the billed failed gpt-image-1 attempt: 100 tokens in at $5, 1,056 out at $40 per 1M
FAILED_IMAGE_USD = 100 * 5.0 / 1e6 + 1056 * 40.0 / 1e6
STANDARD_TOTAL_USD = 6 * TEXT_CALL_USD + 3 * IMAGE_USD + FAILED_IMAGE_USD


@dataclass
class Audited:
    """A journal under audit: its backend, an open store, and where its images live."""

    backend: Backend
    store: EventStore
    data_dir: Path

    @property
    def url(self) -> str:
        """Returns the journal's ``--db`` URL."""
        return str(self.backend.url)  # type: ignore[attr-defined]

    def cli(self, *args: str) -> Result:
        """Runs ``genjournal`` in-process against this journal (stderr kept apart)."""
        argv = [*args, "--db", self.url, "--data-dir", str(self.data_dir)]
        return CliRunner().invoke(cli, argv, catch_exceptions=False)

    def cli_json(self, *args: str) -> Any:
        """Runs a ``--json`` command that must succeed and returns its parsed output."""
        result = self.cli(*args, "--json")
        assert result.exit_code == 0, result.stderr
        return json.loads(result.stdout)


@pytest.fixture
def audited(backend: Backend, store: EventStore, tmp_path: Path) -> Audited:
    """Yields an empty journal on each backend with a data directory for its images."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    return Audited(backend, store, data_dir)


def with_meta(event: Event, run_id: str, **meta: Any) -> Event:
    """Returns the event as written by ``run_id`` with this meta."""
    return event.model_copy(update={"run_id": run_id, "meta": Meta(**meta)})


def text_meta(
    model: str = TEXT_MODEL, tokens: tuple[int, int] = (1000, 2000), **extra: Any
) -> dict[str, Any]:
    """Returns the meta of a text call."""
    return {
        "provider": "openai",
        "model": model,
        "input_tokens": tokens[0],
        "output_tokens": tokens[1],
        "attempts": 1,
        **extra,
    }


def image_meta(
    model: str = IMAGE_MODEL, size: str = "1024x1024", quality: str = "standard"
) -> dict[str, Any]:
    """Returns the meta of an image call billed per image (no token usage)."""
    return {
        "provider": "openai",
        "model": model,
        "images": 1,
        "image_size": size,
        "image_quality": quality,
        "attempts": 1,
    }


def image_event(data_dir: Path, slug: str, index: int, room: str | None, run_id: str) -> ImageGenerated:
    """Returns an ImageGenerated event whose blob really exists in the data dir."""
    event = samples.image_generated(index, room=room, run_id=run_id)
    ref = BlobStore(data_dir).put(f"png:{slug}:{event.step}".encode())
    data = event.data.model_copy(update={"sha256": ref.sha256, "path": ref.path, "bytes": ref.size})
    return event.model_copy(update={"data": data, "meta": Meta(**image_meta())})


def run_started(run_id: str) -> RunStarted:
    """Returns the RunStarted of a paid run of ``PLAN`` (models and image options recorded)."""
    event = samples.run_started(PLAN, run_id=run_id)
    data = event.data.model_copy(
        update={
            "provider": "openai",
            "text_model": TEXT_MODEL,
            "image_model": IMAGE_MODEL,
            "settings": {"image_size": "1024x1024", "image_quality": "standard"},
        }
    )
    return event.model_copy(update={"data": data})


def started(stream: str, step: str, kind: Literal["text", "image"], run_id: str) -> StepStarted:
    """Returns the StepStarted a paid run writes before a call."""
    return StepStarted(run_id=run_id, data=StepStartedData(stream=stream, step=step, kind=kind))


def fill_complete_style(store: EventStore, data_dir: Path, slug: str, run_id: str) -> None:
    """Journals every planned step of one style of ``PLAN`` as done, with known usage."""
    stream = f"style:{slug}"
    store.append(stream, [with_meta(samples.style_created(slug), run_id, **text_meta())])
    store.append(stream, [image_event(data_dir, slug, 0, None, run_id)])
    for room in ("room-0", "room-1"):
        store.append(stream, [with_meta(samples.room_generated(room), run_id, **text_meta())])
        store.append(stream, [image_event(data_dir, slug, 0, room, run_id)])


def dead_holder(run_id: str) -> LeaseHolder:
    """Returns a lease holder on this host whose process has exited (a crashed run's)."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    now = datetime.now(UTC)
    return LeaseHolder(
        run_id=run_id,
        host=socket.gethostname(),
        pid=proc.pid,
        since=now,
        heartbeat=now,
        proc_start="gone",
    )


def standard_journal(audited: Audited) -> None:
    """Writes a journal with a finished run and a crashed one, all usage known.

    run-a (finished, outcome failed): style-0 complete (3 text calls, 3 DALL·E images);
    style-1 content and room-0 (2 text calls), room-0's image failed after a billed
    gpt-image-1 attempt. run-b (crashed: no RunFinished, its lease holder is dead)
    started 3 paid calls on style-2 and journaled one (the content).
    """
    store, data = audited.store, audited.data_dir
    store.append("run:run-a", [run_started("run-a")])
    fill_complete_style(store, data, "style-0", "run-a")
    store.append("style:style-1", [with_meta(samples.style_created("style-1"), "run-a", **text_meta())])
    store.append("style:style-1", [with_meta(samples.room_generated("room-0"), "run-a", **text_meta())])
    failed = with_meta(
        samples.image_failed(0, room="room-0"),
        "run-a",
        **text_meta(
            model="gpt-image-1",
            tokens=(100, 1056),
            images=1,
            image_size="1024x1024",
            image_quality="medium",
            attempts=3,
        ),
    )
    store.append("style:style-1", [failed])
    store.append("run:run-a", [samples.run_finished("failed", run_id="run-a")])
    store.append("run:run-b", [run_started("run-b")])
    for step, kind in (("content", "text"), ("image:style:0", "image"), ("room:room-0", "text")):
        store.append("run:run-b", [started("style:style-2", step, kind, "run-b")])  # type: ignore[arg-type]
    store.append("style:style-2", [with_meta(samples.style_created("style-2"), "run-b", **text_meta())])
    store.acquire_lease(dead_holder("run-b"))


@pytest.fixture
def journal_a(audited: Audited) -> Audited:
    """Returns the standard journal (a finished run and a crashed one) on each backend."""
    standard_journal(audited)
    return audited
