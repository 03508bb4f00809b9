"""Prompts are data (issue 16): the shipped templates in a file, a user's file over them.

The OpenAI provider's wording comes from ``generator/prompts.toml`` or the user's
``--prompts FILE``; every call journals the ``prompt_version`` of the template it used,
and ``genjournal prompts`` shows what a run would use.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from generator.prompts import SHIPPED_PROMPTS, load_prompts
from genjournal.testing.fake_openai import FakeOpenAI
from journal.errors import ConfigError
from tests.generator.test_run import journal_events, write_plan
from tests.generator.test_run_openai import ROOMS_PLAN, run

#: the versions journals already carry: the shipped file must keep hashing to them (the
#: templates moved from constants in generator/prompts.py to prompts.toml, text unchanged)
RELEASED_VERSIONS = {"style": "8db26d2845e4", "room": "982b16f1f791", "image": "995578e89c97"}

STYLE_ONLY = '''style = """Write the catalogue entry of the "{name}" style ({slug}) in {languages}:
an approach, a signature colour, and per language a name, a poetic and a factual passage."""
'''


def genjournal(*args: str) -> subprocess.CompletedProcess[str]:
    """Runs the CLI."""
    return subprocess.run(
        [sys.executable, "-m", "genjournal", *args], capture_output=True, text=True, timeout=60
    )


def test_the_shipped_file_keeps_the_versions_journals_already_carry() -> None:
    """Moving the templates into prompts.toml changed no wording: every prompt_version is as released."""
    assert SHIPPED_PROMPTS.versions() == RELEASED_VERSIONS


def test_a_users_file_replaces_the_templates_it_names_and_keeps_the_rest(tmp_path: Path) -> None:
    """A file with only `style`: the style template and its version change, room and image do not."""
    path = tmp_path / "prompts.toml"
    path.write_text(STYLE_ONLY)
    mine = load_prompts(path)
    assert mine.style.startswith("Write the catalogue entry")
    assert mine.room == SHIPPED_PROMPTS.room
    assert mine.version("style") != RELEASED_VERSIONS["style"]
    assert (mine.version("room"), mine.version("image")) == (
        RELEASED_VERSIONS["room"],
        RELEASED_VERSIONS["image"],
    )
    assert mine.source == str(path.resolve())


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('style = "Describe {name} for {customer}"', "style uses {customer}, which it is not given"),
        ('room = "An unclosed {brace"', "room is not a valid template"),
        ('styles = "typo"', "unknown key(s) styles"),
        ("image_views = []", "image_views must be a non-empty list"),
        ('style = "', "is not valid TOML"),
    ],
)
def test_a_bad_prompts_file_is_refused_with_one_line(tmp_path: Path, text: str, words: str) -> None:
    """Unknown placeholders or keys, broken braces, empty views, bad TOML: a ConfigError naming it."""
    path = tmp_path / "prompts.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as refused:
        load_prompts(path)
    assert words in str(refused.value)


def test_a_bad_prompts_file_stops_the_run_before_anything_is_written(tmp_path: Path) -> None:
    """`run --prompts BAD`: exit 2, one line on stderr, no data dir created."""
    bad = tmp_path / "prompts.toml"
    bad.write_text('room = "{unknown_field}"')
    data = tmp_path / "data"
    done = genjournal("run", "--provider", "offline", "--prompts", str(bad), "--data-dir", str(data))
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    assert "room uses {unknown_field}" in done.stderr
    assert not data.exists()


@pytest.mark.slow
def test_a_run_with_a_users_prompts_sends_them_and_journals_their_versions(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    """The fake server receives the user's style wording; content events carry its version, rooms the shipped one."""
    path = tmp_path / "prompts.toml"
    path.write_text(STYLE_ONLY)
    plan = write_plan(tmp_path, ROOMS_PLAN)
    done = run(fake_openai, tmp_path / "data", plan, "--prompts", str(path))
    assert done.returncode == 0, done.stderr
    content_prompts = [e.prompt for e in fake_openai.ledger() if e.step and e.step.endswith("/content")]
    assert content_prompts and all("Write the catalogue entry of the" in p for p in content_prompts)
    events = journal_events(tmp_path / "data")
    mine = load_prompts(path)
    styles = [e for e in events if e["type"] == "StyleCreated"]
    rooms = [e for e in events if e["type"] == "RoomGenerated"]
    assert {e["meta"]["prompt_version"] for e in styles} == {mine.version("style")}  # type: ignore[index]
    assert {e["meta"]["prompt_version"] for e in rooms} == {RELEASED_VERSIONS["room"]}  # type: ignore[index]
    started = next(e for e in events if e["type"] == "RunStarted")
    assert started["data"]["settings"]["prompts"] == str(path.resolve())  # type: ignore[index]
    shown = json.loads(genjournal("prompts", "--prompts", str(path), "--json").stdout)
    assert shown["versions"]["style"] == mine.version("style")
    assert shown["source"] == str(path.resolve())


def test_prompts_shows_the_shipped_templates_and_their_versions() -> None:
    """`genjournal prompts`: the source, every kind's version, and each template's text."""
    done = genjournal("prompts")
    assert done.returncode == 0, done.stderr
    assert "prompts: shipped" in done.stdout
    assert f"style {RELEASED_VERSIONS['style']}" in done.stdout
    assert SHIPPED_PROMPTS.room_image in done.stdout
