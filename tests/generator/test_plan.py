"""Plan loading: the shipped catalogue, and one clear line for every kind of bad plan."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from generator import plan as plan_module
from generator.plan import DEFAULT_SOURCE, LoadedPlan, PlanError, load_plan, parse_plan
from journal.errors import ConfigError
from journal.events import SLUG_PATTERN

GOOD = """\
languages = ["en"]
images_per_style = 3
images_per_room = 3

[[subcategories]]
slug = "art-deco"
name = "Art Deco"

[[subcategories]]
slug = "japandi"
name = "Japandi"

[[room_types]]
slug = "kitchen"
name = "Kitchen"
"""


def write(tmp_path: Path, text: str | bytes, name: str = "my.toml") -> Path:
    """Writes a plan file and returns its path."""
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def refusal(path: Path | None) -> str:
    """Loads a plan that must be refused and returns the one-line message."""
    with pytest.raises(PlanError) as caught:
        load_plan(path)
    message = str(caught.value)
    assert "\n" not in message
    assert "\r" not in message
    return message


# --- the shipped catalogue -----------------------------------------------------------------


def test_default_catalogue_is_60_styles_by_24_rooms() -> None:
    """The packaged catalogue is 60 sub-categories x 24 room types, 3 + 3 images, in English."""
    loaded = load_plan(None)
    assert isinstance(loaded, LoadedPlan)
    assert loaded.source == DEFAULT_SOURCE == "default"
    spec = loaded.spec
    assert len(spec.subcategories) == 60
    assert len(spec.room_types) == 24
    assert (spec.images_per_style, spec.images_per_room) == (3, 3)
    assert spec.languages == ("en",)
    assert loaded.plan_hash == spec.plan_hash()
    images = len(spec.subcategories) * (spec.images_per_style + len(spec.room_types) * spec.images_per_room)
    assert images == 4500


def test_default_catalogue_names_real_distinct_styles_and_rooms() -> None:
    """The catalogue holds well-known styles and rooms, with unique valid slugs and unique names."""
    spec = load_plan(None).spec
    styles = {entry.name for entry in spec.subcategories}
    rooms = {entry.name for entry in spec.room_types}
    for name in (
        "Art Deco",
        "Japandi",
        "Wabi-Sabi",
        "Mid-Century Modern",
        "Scandinavian",
        "Bauhaus",
    ):
        assert name in styles
    for name in ("Living Room", "Kitchen", "Bedroom", "Bathroom", "Home Office", "Nursery"):
        assert name in rooms
    for entries in (spec.subcategories, spec.room_types):
        slugs = [entry.slug for entry in entries]
        assert len(set(slugs)) == len(slugs)
        assert len({entry.name.casefold() for entry in entries}) == len(entries)
        assert all(re.match(SLUG_PATTERN, slug) for slug in slugs)


def test_catalogue_file_given_by_path_has_the_same_hash(tmp_path: Path) -> None:
    """A copy of the catalogue loaded by path has the same plan hash and the path as source."""
    packaged = Path(plan_module.__file__).with_name("catalog.toml")
    copy = write(tmp_path, packaged.read_bytes(), "catalog.toml")
    loaded = load_plan(copy)
    assert loaded.source == str(copy)
    assert loaded.plan_hash == load_plan(None).plan_hash


def test_minimal_plan_takes_the_defaults(tmp_path: Path) -> None:
    """A plan with only sub-categories gets English, 3 images each and no rooms."""
    loaded = load_plan(write(tmp_path, '[[subcategories]]\nslug = "x"\nname = "X"\n'))
    assert loaded.spec.languages == ("en",)
    assert (loaded.spec.images_per_style, loaded.spec.images_per_room) == (3, 3)
    assert loaded.spec.room_types == ()


def test_plan_text_with_a_byte_order_mark_loads(tmp_path: Path) -> None:
    """A UTF-8 byte-order mark (added by some editors) is ignored."""
    loaded = load_plan(write(tmp_path, "\ufeff" + GOOD))
    assert [entry.slug for entry in loaded.spec.subcategories] == ["art-deco", "japandi"]


def test_parse_plan_accepts_text_and_names_its_source() -> None:
    """parse_plan validates text directly and records the given source."""
    loaded = parse_plan(GOOD, source="inline")
    assert loaded.source == "inline"
    assert loaded.plan_hash == loaded.spec.plan_hash()


# --- bad plans: one line naming the file, the entry and the problem ------------------------

ROOMS_1001 = "".join(f'[[room_types]]\nslug = "r{i}"\nname = "R{i}"\n' for i in range(1001))

BROKEN: list[tuple[str, str, str, str]] = [
    # (id, plan text, the entry named, the problem stated)
    (
        "slug with spaces",
        GOOD.replace('"japandi"', '"Art Deco 2"'),
        'subcategories[1] (slug "Art Deco 2", line 9)',
        f"slug must match {SLUG_PATTERN}",
    ),
    (
        "slug path traversal",
        GOOD.replace('"art-deco"', '"../../etc"'),
        'subcategories[0] (slug "../../etc"',
        "slug must match",
    ),
    (
        "slug absolute path",
        GOOD.replace('"kitchen"', '"/tmp/x"'),
        'room_types[0] (slug "/tmp/x"',
        "slug must match",
    ),
    (
        "slug uppercase",
        GOOD.replace('"kitchen"', '"Kitchen"'),
        'room_types[0] (slug "Kitchen"',
        '(try "kitchen")',
    ),
    ("slug empty", GOOD.replace('"kitchen"', '""'), 'room_types[0] (slug ""', "slug must match"),
    (
        "slug too long",
        GOOD.replace('"kitchen"', '"' + "k" * 64 + '"'),
        "room_types[0]",
        "slug must match",
    ),
    (
        "slug leading dash",
        GOOD.replace('"kitchen"', '"-kitchen"'),
        "room_types[0]",
        "slug must match",
    ),
    (
        "slug not a string",
        GOOD.replace('"japandi"', "7"),
        "subcategories[1] (line 9)",
        "slug must be a string, got integer 7",
    ),
    (
        "slug missing",
        GOOD.replace('slug = "japandi"\n', ""),
        "subcategories[1] (line 9)",
        'missing key "slug"',
    ),
    (
        "name missing",
        GOOD.replace('name = "Kitchen"\n', ""),
        'room_types[0] (slug "kitchen", line 13)',
        'missing key "name"',
    ),
    (
        "name empty",
        GOOD.replace('"Japandi"', '""'),
        'subcategories[1] (slug "japandi"',
        "name must not be empty",
    ),
    (
        "name blank",
        GOOD.replace('"Japandi"', '"   "'),
        'subcategories[1] (slug "japandi"',
        "name must not be blank",
    ),
    (
        "name multi-line",
        GOOD.replace('"Japandi"', '"""Jap\nandi"""'),
        'subcategories[1] (slug "japandi"',
        "name must be one line",
    ),
    (
        "name too long",
        GOOD.replace('"Japandi"', '"' + "J" * 201 + '"'),
        'subcategories[1] (slug "japandi"',
        "name is too long (201 characters; at most 200)",
    ),
    (
        "name wrong type",
        GOOD.replace('"Japandi"', "['Japandi']"),
        'subcategories[1] (slug "japandi"',
        "name must be a string, got an array",
    ),
    (
        "duplicate style slug",
        GOOD.replace('"japandi"', '"art-deco"'),
        'subcategories[1] (slug "art-deco", line 9)',
        "duplicate slug, already used by subcategories[0]",
    ),
    (
        "duplicate room slug",
        GOOD + '\n[[room_types]]\nslug = "kitchen"\nname = "Cook"\n',
        'room_types[1] (slug "kitchen"',
        "duplicate slug, already used by room_types[0]",
    ),
    (
        "unknown top-level key",
        GOOD.replace("images_per_room", "image_per_room"),
        'unknown key "image_per_room"',
        'did you mean "images_per_room"',
    ),
    (
        "unknown entry key",
        GOOD.replace('name = "Kitchen"', 'name = "Kitchen"\ncolour = "red"'),
        'room_types[0] (slug "kitchen"',
        'unknown key "colour" (known keys: slug, name)',
    ),
    (
        "misspelt entry key",
        GOOD.replace('name = "Japandi"', 'nmae = "Japandi"'),
        'subcategories[1] (slug "japandi"',
        'did you mean "name"',
    ),
    (
        "count too high",
        GOOD.replace("images_per_style = 3", "images_per_style = 21"),
        "images_per_style (line 2)",
        "must be between 0 and 20, got integer 21",
    ),
    (
        "count negative",
        GOOD.replace("images_per_room = 3", "images_per_room = -1"),
        "images_per_room (line 3)",
        "must be between 0 and 20, got integer -1",
    ),
    (
        "count quoted",
        GOOD.replace("images_per_style = 3", 'images_per_style = "3"'),
        "images_per_style",
        'must be an integer, got string "3"',
    ),
    (
        "count boolean",
        GOOD.replace("images_per_style = 3", "images_per_style = true"),
        "images_per_style",
        "must be an integer, got boolean true",
    ),
    (
        "count float",
        GOOD.replace("images_per_style = 3", "images_per_style = 3.0"),
        "images_per_style",
        "must be an integer, got float 3.0",
    ),
    (
        "count date",
        GOOD.replace("images_per_style = 3", "images_per_style = 2024-01-01"),
        "images_per_style",
        "must be an integer, got a date",
    ),
    (
        "no sub-categories key",
        'languages = ["en"]\n',
        "subcategories",
        "missing; a plan needs at least one sub-category",
    ),
    (
        "empty sub-categories",
        "subcategories = []\n",
        "subcategories (line 1)",
        "needs at least 1 sub-category, got 0",
    ),
    (
        "sub-categories as a table",
        '[subcategories]\nslug = "a"\nname = "A"\n',
        "subcategories",
        "must be an array of tables ([[subcategories]] blocks), got a table",
    ),
    (
        "sub-category not a table",
        'subcategories = ["art-deco"]\n',
        "subcategories[0]",
        'each entry must be a table, got string "art-deco"',
    ),
    (
        "too many room types",
        '[[subcategories]]\nslug = "a"\nname = "A"\n' + ROOMS_1001,
        "room_types",
        "has 1001 room types; at most 1000 are allowed",
    ),
    (
        "no languages",
        GOOD.replace('languages = ["en"]', "languages = []"),
        "languages (line 1)",
        "needs at least 1 language, got 0",
    ),
    (
        "languages not an array",
        GOOD.replace('languages = ["en"]', 'languages = "en"'),
        "languages (line 1)",
        'must be an array, got string "en"',
    ),
    (
        "language not a string",
        GOOD.replace('languages = ["en"]', 'languages = ["en", 2]'),
        "languages[1]",
        "must be a string, got integer 2",
    ),
    (
        "language not a tag",
        GOOD.replace('languages = ["en"]', 'languages = ["en", "English"]'),
        "languages[1]",
        '"English" is not a language tag',
    ),
    (
        "language with spaces",
        GOOD.replace('languages = ["en"]', 'languages = ["en us"]'),
        "languages[0]",
        '"en us" is not a language tag',
    ),
    (
        "language twice",
        GOOD.replace('languages = ["en"]', 'languages = ["en", "fr", "en"]'),
        "languages[2]",
        '"en" appears twice',
    ),
    (
        "toml missing value",
        GOOD.replace("images_per_room = 3", "images_per_room ="),
        "line 3, column 18",
        "invalid TOML: invalid value",
    ),
    (
        "toml key declared twice",
        "images_per_room = 4\n" + GOOD,
        "invalid TOML",
        "cannot overwrite a value",
    ),
    (
        "toml unterminated string",
        GOOD.replace('name = "Kitchen"', 'name = "Kitchen'),
        "line 15",
        "invalid TOML",
    ),
    (
        "toml control character",
        GOOD.replace("Japandi", "Jap\x00andi"),
        "line 11, column 12",
        "invalid TOML: illegal character",
    ),
    (
        "toml table declared twice",
        GOOD + '[subcategories]\nslug = "a"\n',
        "invalid TOML",
        "cannot declare",
    ),
]


@pytest.mark.parametrize(
    ("text", "entry", "problem"), [case[1:] for case in BROKEN], ids=[case[0] for case in BROKEN]
)
def test_broken_plan_gives_one_line_naming_file_entry_and_problem(
    tmp_path: Path, text: str, entry: str, problem: str
) -> None:
    """Each kind of broken plan raises PlanError: one line naming file, entry and problem."""
    path = write(tmp_path, text)
    message = refusal(path)
    assert message.startswith(f"plan {path}: "), message
    assert entry in message, message
    assert problem in message, message


def test_plan_error_is_a_config_error(tmp_path: Path) -> None:
    """PlanError is a ConfigError, so the CLI reports it as bad input (exit 2)."""
    with pytest.raises(ConfigError):
        load_plan(write(tmp_path, "subcategories = []\n"))


def test_syntax_error_carries_line_and_column(tmp_path: Path) -> None:
    """A TOML syntax error keeps its line and column as fields of the error."""
    with pytest.raises(PlanError) as caught:
        load_plan(write(tmp_path, GOOD.replace("images_per_room = 3", "images_per_room = 3 4")))
    assert (caught.value.line, caught.value.column) == (3, 21)
    assert caught.value.source == str(tmp_path / "my.toml")


def test_inline_array_entries_are_named_without_a_line(tmp_path: Path) -> None:
    """Entries written as an inline array are still named by index and slug."""
    path = write(tmp_path, 'subcategories = [{slug = "a", name = "A"}, {slug = "B b", name = "B"}]\n')
    message = refusal(path)
    assert 'subcategories[1] (slug "B b"): slug must match' in message
    assert '(try "b-b")' in message


def test_control_characters_in_a_slug_stay_on_one_line(tmp_path: Path) -> None:
    """A slug holding a newline is shown escaped, so the message stays one line."""
    message = refusal(write(tmp_path, GOOD.replace('"kitchen"', '"kit\\nchen"')))
    assert 'slug "kit\\nchen"' in message


# --- files that cannot be read ---------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    """A plan path that does not exist is named with "file not found"."""
    path = tmp_path / "nope.toml"
    assert refusal(path) == f"plan {path}: file not found"


def test_directory_instead_of_file(tmp_path: Path) -> None:
    """A directory given as the plan is refused as a directory."""
    assert refusal(tmp_path) == f"plan {tmp_path}: is a directory, not a plan file"


def test_bytes_that_are_not_utf8(tmp_path: Path) -> None:
    """Non-UTF-8 bytes are refused with the line and offset of the first bad byte."""
    path = write(tmp_path, GOOD.encode() + "# café\n".encode("latin-1"))
    message = refusal(path)
    assert message.startswith(f"plan {path}: line 16: not UTF-8 text (byte 0xe9 at offset ")


def test_binary_file(tmp_path: Path) -> None:
    """A binary file (here a PNG header) is refused as not being UTF-8 text."""
    assert "not UTF-8 text (byte 0x89 at offset 0)" in refusal(
        write(tmp_path, b"\x89PNG\r\n\x1a\n", "x.toml")
    )


@pytest.mark.parametrize(
    ("error", "problem"),
    [
        (PermissionError(13, "Permission denied"), "cannot be read: permission denied"),
        (OSError(5, "Input/output error"), "cannot be read: Input/output error"),
    ],
)
def test_unreadable_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: OSError, problem: str
) -> None:
    """A file the OS refuses to read is named with the reason (and no traceback)."""
    path = write(tmp_path, GOOD)

    def refuse(*args: object, **kwargs: object) -> None:
        raise error

    # Simulated, because a test running as root could read a chmod-000 file anyway.
    monkeypatch.setattr(Path, "open", refuse)
    assert refusal(path) == f"plan {path}: {problem}"


def test_oversized_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file above the size limit is refused before it is parsed."""
    monkeypatch.setattr(plan_module, "MAX_PLAN_BYTES", 1024 * 1024)
    path = write(tmp_path, GOOD + "#" * (1024 * 1024) + "\n")
    assert refusal(path) == f"plan {path}: is larger than 1 MiB; a plan is a small TOML file"


def test_loading_a_plan_writes_nothing(tmp_path: Path) -> None:
    """Loading good and bad plans leaves the directory exactly as it was."""
    write(tmp_path, GOOD, "good.toml")
    write(tmp_path, "subcategories = []\n", "bad.toml")
    before = sorted(p.name for p in tmp_path.iterdir())
    load_plan(tmp_path / "good.toml")
    refusal(tmp_path / "bad.toml")
    assert sorted(p.name for p in tmp_path.iterdir()) == before
