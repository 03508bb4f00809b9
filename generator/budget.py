"""The budget cap of ``genjournal run --budget-usd X``: a ``SpendGuard`` for the runner.

Before each paid call the runner asks ``admit(step)``. The guard admits it only if

    spent by earlier runs of this plan (crash overhead included)
    + spent by this run's settled calls
    + the estimated cost of the calls in flight
    + the estimated cost of submitted batches not yet collected (``run --batch``)
    + the estimated cost of this call            <=  X

and then reserves the estimate; ``settle(step, meta)`` replaces the reservation by what
the call cost according to its recorded usage. A refused call makes the runner stop
scheduling new steps; ``RunFinished.outcome`` is ``budget`` and the exit code 1.

Estimates: an image call costs the price table's per-image price for the run's model,
size and quality; a text call costs the mean priced cost of the text calls of that model
recorded so far (in the journal and in this run), or 2,000 + 2,000 tokens when there are
none yet. Actual token usage can exceed an estimate, so the cap is on what the guard
knows before a call — the reason a text estimate follows what the journal has seen.

Unknown prices are refused before any call: ``prepare`` (before the data directory is
touched) checks the run's models against the table, and ``attach`` checks that the
journal's earlier spend for the plan is fully priced. Both raise ``ConfigError`` (one
line, exit 2).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from journal.errors import ConfigError
from journal.events import Meta

if TYPE_CHECKING:
    from generator.plan import LoadedPlan
    from generator.settings import ProviderSettings
    from generator.steps import Step
    from journal.store import EventStore
    from projector.prices import PriceTable

#: tokens assumed for a text call before the journal has priced any of that model
DEFAULT_TEXT_TOKENS = (2_000, 2_000)


@dataclass(frozen=True)
class RunModels:
    """The models and image options a run will call (as its provider resolves them)."""

    provider: str
    text_model: str
    image_model: str
    image_size: str | None
    image_quality: str | None

    @classmethod
    def resolve(cls, provider_name: str, settings: ProviderSettings) -> RunModels:
        """Returns what the named provider will use with these settings (no client is built)."""
        if provider_name == "openai":
            from generator.providers.openai import OpenAISettings
            from generator.providers.openai.models import default_quality

            chosen = OpenAISettings.from_run(settings)
            return cls(
                "openai",
                chosen.text_model,
                chosen.image_model,
                chosen.image_size,
                chosen.image_quality or default_quality(chosen.image_model),
            )
        if provider_name == "offline":
            from generator.providers.factory import make_provider

            offline = make_provider("offline", settings)
            return cls(
                "offline",
                offline.text_model or "offline-text",
                offline.image_model or "offline-image",
                offline.image_size,
                offline.image_quality,
            )
        raise ConfigError(f"unknown provider {provider_name!r}")


class BudgetGuard:
    """Admits paid calls while the plan's total spend stays within a cap."""

    def __init__(self, limit_usd: float, prices: PriceTable, models: RunModels) -> None:
        self.limit_usd = limit_usd
        self.prices = prices
        self.models = models
        self.spent_before = 0.0
        self.spent_now = 0.0
        self._reserved: dict[tuple[str, str], float] = {}
        self._text_usd = 0.0
        self._text_calls = 0
        price = prices.lookup(models.image_model)
        image = price.image_price(models.image_size, models.image_quality) if price is not None else None
        assert image is not None  # prepare() refused the run otherwise
        self._image_estimate = image

    @classmethod
    def prepare(
        cls,
        budget_usd: float,
        prices_file: str | os.PathLike[str] | None,
        provider_name: str,
        settings: ProviderSettings,
    ) -> BudgetGuard:
        """Builds the guard; refuses unknown prices before anything is touched (``ConfigError``)."""
        from projector.prices import load_prices

        prices = load_prices(prices_file)
        models = RunModels.resolve(provider_name, settings)
        text = prices.lookup(models.text_model)
        if text is None or text.input_per_1m is None or text.output_per_1m is None:
            raise ConfigError(
                f"--budget-usd needs token prices for the text model {models.text_model!r},"
                " and the price "
                f"table {prices.source} has none; add it with --prices FILE"
            )
        image = prices.lookup(models.image_model)
        if image is None or image.image_price(models.image_size, models.image_quality) is None:
            raise ConfigError(
                f"--budget-usd needs a per-image price for {models.image_model!r} at "
                f"{models.image_size or 'the default size'}/"
                f"{models.image_quality or 'the default quality'}, "
                f"and the price table {prices.source} has none; add it with --prices FILE"
            )
        return cls(budget_usd, prices, models)

    def attach(self, store: EventStore, plan: LoadedPlan) -> None:
        """Reads what earlier runs of this plan spent (crashes included); refuses unpriced spend."""
        from projector.audit import AuditLog

        with AuditLog(store, prices=self.prices) as journal:
            spend = journal.spend(plan_hash=plan.plan_hash)
            if spend.usd is None:
                raise ConfigError(
                    "--budget-usd: earlier runs of this plan used models with no price "
                    f"({', '.join(spend.unknown_models)}); add them with --prices FILE"
                )
            if spend.crash_overhead_usd is None:
                raise ConfigError(
                    "--budget-usd: the cost of calls lost in earlier crashes cannot be estimated "
                    "(a model has no price); add it with --prices FILE"
                )
            self.spent_before = spend.usd + spend.crash_overhead_usd + self._committed(store)
            average = journal.average_text_cost(self.models.text_model)
        if average is not None:
            # Seed this run's running mean with the journal's, as one observation.
            self._text_usd, self._text_calls = average, 1

    @staticmethod
    def _committed(store: EventStore) -> float:
        """Returns the estimated cost of the batches submitted and not yet collected (committed spend).

        A batch collected later in this run is then counted twice (its estimate and its
        results): the cap errs on the side of spending less.
        """
        from projector.batches import read_batches

        committed = 0.0
        for record in read_batches(store).values():
            if record.open:
                committed += record.submitted.estimated_cost_usd or 0.0
        return committed

    @property
    def reserved_usd(self) -> float:
        """Returns the estimated cost of the calls in flight."""
        return sum(self._reserved.values())

    def estimate(self, step: Step) -> float:
        """Returns the estimated cost of a step's paid call."""
        if step.call_kind == "image":
            return self._image_estimate
        if self._text_calls:
            return self._text_usd / self._text_calls
        price = self.prices.lookup(self.models.text_model)
        assert price is not None
        return price.cost(input_tokens=DEFAULT_TEXT_TOKENS[0], output_tokens=DEFAULT_TEXT_TOKENS[1]) or 0.0

    def admit(self, step: Step) -> bool:
        """Reserves the estimated cost of a call; False when it would exceed the budget."""
        cost = self.estimate(step)
        if self.spent_before + self.spent_now + self.reserved_usd + cost > self.limit_usd:
            return False
        self._reserved[(step.stream, step.key)] = cost
        return True

    def settle(self, step: Step, meta: Meta | None) -> None:
        """Replaces the step's reservation by what it actually cost (None: released)."""
        estimate = self._reserved.pop((step.stream, step.key), None)
        if meta is None:
            return
        cost = self.prices.meta_cost(meta.model_dump(exclude_none=True), None)
        if cost is None:
            cost = estimate or 0.0  # a model the provider reported differently: keep the estimate
        self.spent_now += cost
        if step.call_kind == "text" and cost:
            self._text_usd += cost
            self._text_calls += 1
