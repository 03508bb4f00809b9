"""Regeneration on the real API path (the openai client against the fake server): what is paid for, and once."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from generator.prompts import load_prompts
from genjournal.testing.fake_openai import FakeOpenAI
from projector.prices import load_prices
from tests.generator.test_run import journal_events, write_plan
from tests.generator.test_run_openai import ROOMS_PLAN, billed_steps, env_for, run

pytestmark = pytest.mark.slow


def cli(server: FakeOpenAI, data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Runs a genjournal command on the data dir in a subprocess pointed at the fake server."""
    return subprocess.run(
        [sys.executable, "-m", "genjournal", *args, "--data-dir", str(data)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env_for(server),
    )


def completed(server: FakeOpenAI, tmp_path: Path) -> tuple[Path, Path]:
    """Runs the rooms plan to completion against the server, then forgets its ledger."""
    data, plan = tmp_path / "data", write_plan(tmp_path, ROOMS_PLAN)
    first = run(server, data, plan)
    assert first.returncode == 0, first.stderr
    server.clear_ledger()
    return data, plan


def regenerate(server: FakeOpenAI, data: Path, *args: str) -> dict[str, object]:
    """Marks steps (exit 0 asserted) and returns the --json document."""
    done = cli(server, data, "regenerate", *args, "--reason", "curation test", "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_regenerated_image_costs_exactly_one_billable_request(tmp_path: Path) -> None:
    """After marking one image, the next run sends exactly one billable request, for that step."""
    with FakeOpenAI(seed=5) as server:
        data, plan = completed(server, tmp_path)
        regenerate(server, data, "art-deco", "--step", "image:style:0")
        assert server.ledger() == []
        again = run(server, data, plan)
        assert again.returncode == 0, again.stderr
        assert billed_steps(server) == Counter({"style:art-deco/image:style:0": 1})
        server.clear_ledger()
        idle = run(server, data, plan)
        assert idle.returncode == 0, idle.stderr
        assert billed_steps(server) == Counter()


def test_a_regenerated_room_with_its_images_costs_one_text_and_n_image_requests(tmp_path: Path) -> None:
    """A room and the images following it: exactly 1 text + N image billable calls, one per marked step."""
    with FakeOpenAI(seed=6) as server:
        data, plan = completed(server, tmp_path)
        marked = regenerate(server, data, "japandi", "--step", "room:kitchen")
        steps = [s["step"] for s in marked["steps"]]
        images = [step for step in steps if step.startswith("image:")]
        assert "room:kitchen" in steps and images
        again = run(server, data, plan)
        assert again.returncode == 0, again.stderr
        billed = [entry for entry in server.ledger() if entry.billable]
        assert Counter(e.family for e in billed) == Counter({"text": 1, "image": len(images)})
        assert billed_steps(server) == Counter(f"style:japandi/{step}" for step in steps)


def test_costs_regeneration_spend_matches_the_ledger_of_the_regenerating_run(tmp_path: Path) -> None:
    """costs --json regeneration.steps/usd equal the billed requests of that run, priced from their usage."""
    with FakeOpenAI(seed=7) as server:
        data, plan = completed(server, tmp_path)
        regenerate(server, data, "art-deco", "--step", "room:bedroom")
        again = run(server, data, plan)
        assert again.returncode == 0, again.stderr
        billed = {entry.request_id: entry for entry in server.ledger() if entry.billable}
        costs = cli(server, data, "costs", "--json")
        assert costs.returncode == 0, costs.stderr
        spend = json.loads(costs.stdout)["regeneration"]
    seconds = [
        e
        for e in journal_events(data)
        if e["type"] in ("RoomGenerated", "ImageGenerated") and e["data"].get("generation") == 2
    ]
    assert spend["steps"] == len(seconds) == len(billed)
    prices = load_prices(None)
    usd = 0.0
    for event in seconds:
        meta = event["meta"]
        entry = billed[meta["request_id"]]
        # the journal records what the server billed
        assert (meta.get("input_tokens"), meta.get("output_tokens")) == (
            entry.input_tokens,
            entry.output_tokens,
        )
        cost = prices.meta_cost(meta, str(event["recorded_at"])[:10])
        assert cost is not None
        usd += cost
    assert spend["usd"] == pytest.approx(usd, abs=1e-6)
    assert spend["usd"] > 0


def test_stale_prompts_after_a_new_room_template_selects_exactly_the_room_steps(tmp_path: Path) -> None:
    """With a prompts file changing only the room template, --stale-prompts marks every room and nothing else."""
    with FakeOpenAI(seed=8) as server:
        data, _ = completed(server, tmp_path)
        prompts = tmp_path / "prompts.toml"
        prompts.write_text(
            'room = "Style: {style_name} ({slug}). Approach: {approach}. Colour {color_name} ({color_hex}).'
            ' Room {room_name} ({room_slug}) in {languages}; be brief."\n',
            encoding="utf-8",
        )
        changed, shipped = load_prompts(prompts), load_prompts(None)
        assert [changed.version(k) == shipped.version(k) for k in ("style", "room", "image")] == [
            True,
            False,
            True,
        ]
        marked = regenerate(
            server, data, "--stale-prompts", "--keep-images", "--dry-run", "--prompts", str(prompts)
        )
    rooms = {(e["stream"], e["step"]) for e in journal_events(data) if e["type"] == "RoomGenerated"}
    chosen = {(s["stream"], s["step"]) for s in marked["steps"]}
    assert chosen == rooms
    assert {s["prompt_version"] for s in marked["steps"]} == {shipped.version("room")}
