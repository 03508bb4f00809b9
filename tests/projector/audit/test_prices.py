"""The price table: lookups by model, date, size, quality; unknown is never zero; bad files fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from journal.errors import ConfigError
from projector.prices import load_prices, parse_prices

TABLE = """
version = 1
as_of = 2026-05-01

[[model]]
name = "text-a"
from = 2026-01-01
input_per_1m = 1.0
output_per_1m = 2.0

[[model]]
name = "text-a"
from = 2026-03-01
input_per_1m = 0.5
output_per_1m = 1.0

[[model]]
name = "img"
from = 2026-01-01
[model.images]
"1024x1024" = { low = 0.01, high = 0.10 }
"*" = { "*" = 0.5 }

[[model]]
name = "local-*"
from = 2020-01-01
input_per_1m = 0.0
output_per_1m = 0.0
"""


def test_the_shipped_table_prices_every_default_model_and_offline_at_zero() -> None:
    """The shipped table has the six example models and prices offline-* calls at $0."""
    table = load_prices()
    for model in (
        "gpt-5.4-mini",
        "gpt-5.4",
        "gpt-image-2",
        "gpt-image-1.5",
        "gpt-image-1",
        "dall-e-3",
    ):
        assert table.lookup(model) is not None, model
    assert table.cost("offline-text-1", None, input_tokens=5000) == 0.0
    assert table.cost("offline-image-1", None, unmetered_images=4, image_size="256x256") == 0.0
    assert (
        table.cost("gpt-image-1", None, unmetered_images=1, image_size="1024x1024", image_quality="high")
        == 0.167
    )


def test_an_unknown_model_is_none_never_zero() -> None:
    """A model the table does not list has no price: cost is None, not 0."""
    table = parse_prices(TABLE, source="t")
    assert table.lookup("nope") is None
    assert table.cost("nope", None, input_tokens=1) is None
    assert table.cost("nope", None) == 0.0  # no usage at all costs nothing, priced or not


def test_the_price_in_force_on_the_day_is_used() -> None:
    """A call is priced by the entry in force on its day; the oldest entry covers earlier days."""
    table = parse_prices(TABLE, source="t")
    assert table.cost("text-a", "2026-02-15", input_tokens=1_000_000) == 1.0
    assert table.cost("text-a", "2026-03-01", input_tokens=1_000_000) == 0.5
    assert table.cost("text-a", "2025-06-01", input_tokens=1_000_000) == 1.0
    assert table.cost("text-a", None, output_tokens=1_000_000) == 1.0  # no day: the newest


def test_image_size_and_quality_variants_and_wildcards() -> None:
    """Per-image prices depend on size and quality; "*" catches the rest; token-less sizes work."""
    table = parse_prices(TABLE, source="t")
    assert table.cost("img", None, unmetered_images=2, image_size="1024x1024", image_quality="low") == 0.02
    assert table.cost("img", None, unmetered_images=1, image_size="1024x1024", image_quality="high") == 0.10
    assert table.cost("img", None, unmetered_images=1, image_size="1024x1024", image_quality="medium") is None
    assert table.cost("img", None, unmetered_images=1, image_size="2048x2048", image_quality=None) == 0.5
    assert table.cost("img", None, input_tokens=10) is None  # no token prices for this model


def test_families_and_dated_snapshots_fall_back_to_their_entries() -> None:
    """ "local-*" matches local-anything; "text-a-2026-03-05" uses text-a's prices."""
    table = parse_prices(TABLE, source="t")
    assert table.cost("local-llm", None, input_tokens=99) == 0.0
    assert table.cost("text-a-2026-03-05", "2026-04-01", input_tokens=1_000_000) == 0.5


def test_meta_cost_prices_tokens_when_recorded_and_images_otherwise() -> None:
    """An event with token usage is priced by tokens; one with only images, per image."""
    table = load_prices()
    tokens = {
        "model": "gpt-image-1",
        "input_tokens": 100,
        "output_tokens": 1056,
        "images": 1,
        "image_size": "1024x1024",
        "image_quality": "medium",
    }
    assert table.meta_cost(tokens, None) == pytest.approx(100 * 5 / 1e6 + 1056 * 40 / 1e6)
    per_image = {"model": "dall-e-3", "images": 2, "image_size": "1792x1024", "image_quality": "hd"}
    assert table.meta_cost(per_image, None) == pytest.approx(0.24)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("not toml ===", "not valid TOML"),
        (
            'as_of = 2026-01-01\n[[model]]\nname = "x"\nfrom = 2026-01-01\ninput_per_1m = -1',
            "input_per_1m",
        ),
        ('as_of = 2026-01-01\n[[model]]\nname = "x"\nfrom = 2026-01-01\nprice = 3', "price"),
        (
            'as_of = 2026-01-01\n[[model]]\nname = "x"\nfrom = 2026-01-01\n[model.images]\n"1k" = { a = -2 }',
            "negative",
        ),
        ("[[model]]\nname = 'x'\n", "as_of"),
    ],
)
def test_a_bad_table_is_one_config_error_naming_the_problem(text: str, words: str) -> None:
    """Invalid TOML, negative prices, unknown keys and missing fields raise one ConfigError line."""
    with pytest.raises(ConfigError) as caught:
        parse_prices(text, source="bad.toml")
    message = str(caught.value)
    assert words in message
    assert "bad.toml" in message
    assert "\n" not in message


def test_a_missing_prices_file_is_a_config_error(tmp_path: Path) -> None:
    """--prices naming a file that does not exist is a ConfigError, not a traceback."""
    with pytest.raises(ConfigError, match="no such file"):
        load_prices(tmp_path / "none.toml")
