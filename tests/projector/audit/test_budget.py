"""BudgetGuard alone: estimates, reservations for calls in flight, settling, unknown prices."""

from __future__ import annotations

import pytest

from generator.budget import BudgetGuard
from generator.settings import ProviderSettings
from generator.steps import plan_steps
from genjournal.testing import samples
from journal.errors import ConfigError
from journal.events import Meta

STEPS = plan_steps(samples.small_plan(styles=1, rooms=1, images_per_style=2, images_per_room=0))
CONTENT, IMAGE_0, IMAGE_1, ROOM = STEPS
DALL_E = ProviderSettings(text_model="gpt-5.4-mini", image_model="dall-e-3", image_quality="standard")


def guard(limit: float) -> BudgetGuard:
    """Returns a guard for an OpenAI run with a per-image-priced image model."""
    return BudgetGuard.prepare(limit, None, "openai", DALL_E)


def test_calls_in_flight_are_reserved_until_settled() -> None:
    """Two images in flight reserve their estimates; a third call past the cap is refused."""
    budget = guard(0.085)
    assert budget.admit(IMAGE_0)
    assert budget.admit(IMAGE_1)
    assert budget.reserved_usd == pytest.approx(0.08)
    assert not budget.admit(ROOM)  # the default text estimate does not fit in what is left
    budget.settle(IMAGE_1, None)  # released without a result: nothing was spent
    assert budget.reserved_usd == pytest.approx(0.04)


def test_settling_replaces_the_estimate_by_the_recorded_usage() -> None:
    """A settled call adds what its meta says it cost; later text estimates follow real usage."""
    budget = guard(1.0)
    assert budget.admit(CONTENT)
    meta = Meta(model="gpt-5.4-mini", input_tokens=1000, output_tokens=2000)
    budget.settle(CONTENT, meta)
    assert budget.spent_now == pytest.approx(0.00975)
    assert budget.reserved_usd == 0
    assert budget.estimate(ROOM) == pytest.approx(0.00975)


def test_an_exhausted_budget_admits_nothing() -> None:
    """With the spend at the cap, even the cheapest call is refused."""
    budget = guard(0.04)
    budget.spent_before = 0.04
    assert not budget.admit(CONTENT)
    assert not budget.admit(IMAGE_0)


def test_the_offline_provider_is_free_under_any_budget() -> None:
    """offline-* prices are $0, so a zero budget admits every offline call."""
    budget = BudgetGuard.prepare(0.0, None, "offline", ProviderSettings())
    assert all(budget.admit(step) for step in STEPS)


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        (ProviderSettings(text_model="mystery-1"), "mystery-1"),
        (
            ProviderSettings(image_model="dall-e-3", image_size="640x480", image_quality="hd"),
            "640x480",
        ),
    ],
)
def test_unknown_prices_are_refused_up_front(settings: ProviderSettings, words: str) -> None:
    """A text model without token prices, or an unpriced image size, is a ConfigError."""
    with pytest.raises(ConfigError, match=words):
        BudgetGuard.prepare(10.0, None, "openai", settings)
