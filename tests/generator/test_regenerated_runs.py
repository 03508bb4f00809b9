"""A run after `regenerate`: the steps it does wait for every regenerated result they are built from."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from genjournal.cli import cli
from genjournal.testing import samples


def _cli(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), env={"OPENAI_API_KEY": None, "OPENAI_BASE_URL": None})
    assert result.exit_code == 0, result.output + result.stderr
    return result.stdout


def _journal(tmp_path: Path) -> tuple[str, str]:
    plan = tmp_path / "plan.toml"
    plan.write_text(samples.PLAN_TOML, encoding="utf-8")
    data = str(tmp_path / "data")
    _cli("run", "--provider", "offline", "--plan", str(plan), "--data-dir", data)
    return str(plan), data


def _history(data: str, *steps: str) -> list[dict[str, object]]:
    args = ["history", "art-deco", "--json", "--data-dir", data]
    for step in steps:
        args += ["--step", step]
    return json.loads(_cli(*args))


def test_a_room_image_waits_for_its_styles_regenerated_content(tmp_path: Path) -> None:
    """With the content and a room image marked (no --cascade), the image starts only after the new content."""
    plan, data = _journal(tmp_path)
    _cli(
        "regenerate",
        "art-deco",
        "--step",
        "content",
        "--step",
        "image:room:kitchen:0",
        "--reason",
        "redo",
        "--data-dir",
        data,
    )
    _cli("run", "--provider", "offline", "--plan", plan, "--data-dir", data)
    events = _history(data, "content", "image:room:kitchen:0")
    new_content = next(e for e in events if e["type"] == "StyleCreated" and e["data"].get("generation") == 2)
    new_image = next(e for e in events if e["type"] == "ImageGenerated" and e["data"].get("generation") == 2)
    assert new_content["position"] < new_image["position"]
    assert new_content["data"]["color"]["hex"] in str(new_image["data"]["prompt"])


def test_regenerated_content_alone_leaves_its_rooms_and_images_as_they_were(tmp_path: Path) -> None:
    """Without --cascade only the content gets a generation 2; every room and image keeps its event."""
    plan, data = _journal(tmp_path)
    before = json.loads(_cli("export", "--data-dir", data))
    _cli("regenerate", "art-deco", "--step", "content", "--reason", "colour too loud", "--data-dir", data)
    _cli("run", "--provider", "offline", "--plan", plan, "--data-dir", data)
    after = json.loads(_cli("export", "--data-dir", data))
    old, new = before[0], after[0]
    assert (old["generation"], new["generation"]) == (1, 2)
    assert new["roomProfiles"] == old["roomProfiles"]
    assert new["images"] == old["images"]
    successes = [e for e in _history(data) if e["type"].endswith(("Created", "Generated"))]
    assert sum(1 for e in successes if e["data"].get("generation", 1) == 2) == 1
