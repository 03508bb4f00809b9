"""Prices: dollars per token and per image, by model and date, from layered sources.

A model is priced by the first source that knows it:

1. the user's own table (``--prices FILE``), to override or add models;
2. the maintained price database of ``genai-prices`` (bundled data, read offline; it
   follows OpenAI's price pages, dated price changes included);
3. the shipped ``projector/prices.toml`` (its header documents the format), for what the
   database does not price — per-image prices of models that report no token usage.

Every price says which source it came from (``ModelPrice.source``), and ``costs`` shows
it per line. ``load_prices(path)`` refuses a bad file with a one-line ``ConfigError``.

Pricing rule for one call (or a sum of calls of one model, size, quality and day):
tokens are priced at the model's per-million rates — input image tokens and output text
tokens at their own rates where the model has them (GPT image models report the
breakdown); images whose call reported no token usage (``unmetered``) are priced per
image by size and quality. A model, or a size or quality, with no price makes the cost
*unknown* (None) — never zero. A gateway's ``openai/`` prefix names the same model.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from journal.errors import ConfigError

SHIPPED = "prices.toml"
#: the Batch API's price against the live one: OpenAI bills batch requests at half the
#: live rates, tokens and images alike (openai.com/api/pricing, "Batch API"); applied to
#: results whose ``meta.batch_id`` says they came from a batch
BATCH_PRICE_FACTOR = 0.5
#: the prefix a gateway (LiteLLM) puts before an OpenAI model's name
PROVIDER_PREFIX = "openai/"
_SNAPSHOT = re.compile(r"^(?P<base>.+)-\d{4}-\d{2}-\d{2}$")
WILDCARD = "*"


#: a price: a finite, non-negative number (TOML can spell nan and inf)
Price = Annotated[float, Field(ge=0, allow_inf_nan=False)]
#: an image price: finite (its sign is checked with the entry's name in the message)
ImagePrice = Annotated[float, Field(allow_inf_nan=False)]


class _ModelEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(min_length=1)
    effective: date = Field(alias="from")
    input_per_1m: Price | None = None
    output_per_1m: Price | None = None
    input_image_per_1m: Price | None = None
    output_text_per_1m: Price | None = None
    images: dict[str, dict[str, ImagePrice]] = Field(default_factory=dict)


class _PriceFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(default=1, ge=1, le=1)
    currency: str = "USD"
    as_of: date
    model: list[_ModelEntry] = Field(default_factory=list)


@dataclass(frozen=True)
class ModelPrice:
    """The prices of one model from one date on (None: not priced that way)."""

    name: str
    effective: date
    input_per_1m: float | None = None
    #: the output rate; for an image model, that of image tokens (most of its output)
    output_per_1m: float | None = None
    #: input image tokens, where they cost more than text (None: at ``input_per_1m``)
    input_image_per_1m: float | None = None
    #: output text tokens of an image model (None: at ``output_per_1m``)
    output_text_per_1m: float | None = None
    images: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    #: where this price came from: a file, or the database and its version
    source: str = ""
    #: where the per-image prices came from, when not from ``source``
    images_source: str = ""

    def image_price(self, size: str | None, quality: str | None) -> float | None:
        """Returns the price of one image of this size and quality, or None if unlisted."""
        by_quality = self.images.get(size or "") or self.images.get(WILDCARD)
        if by_quality is None:
            return None
        found = by_quality.get(quality or "")
        return found if found is not None else by_quality.get(WILDCARD)

    def cost(
        self,
        *,
        input_tokens: int = 0,
        output_tokens: int = 0,
        unmetered_images: int = 0,
        image_size: str | None = None,
        image_quality: str | None = None,
        input_image_tokens: int = 0,
        output_text_tokens: int = 0,
    ) -> float | None:
        """Returns the dollars for this usage, or None when part of it has no price.

        ``input_tokens`` and ``output_tokens`` are totals; the image and text parts of
        them are priced at their own rates where the model has them.
        """
        total = 0.0
        if input_tokens:
            if self.input_per_1m is None:
                return None
            image = min(input_image_tokens, input_tokens)
            image_rate = self.input_image_per_1m if self.input_image_per_1m is not None else self.input_per_1m
            total += ((input_tokens - image) * self.input_per_1m + image * image_rate) / 1_000_000
        if output_tokens:
            if self.output_per_1m is None:
                return None
            text = min(output_text_tokens, output_tokens)
            text_rate = self.output_text_per_1m if self.output_text_per_1m is not None else self.output_per_1m
            total += ((output_tokens - text) * self.output_per_1m + text * text_rate) / 1_000_000
        if unmetered_images:
            each = self.image_price(image_size, image_quality)
            if each is None:
                return None
            total += unmetered_images * each
        return total


class PriceTable:
    """Looks up the price of a model on a day."""

    def __init__(
        self, entries: list[ModelPrice], *, as_of: date, source: str, fallback: PriceTable | None = None
    ) -> None:
        self.as_of = as_of
        self.own_source = source
        #: the table asked for a model this one does not price
        self.fallback = fallback
        #: every layer, in the order a model is looked up
        self.source: str = source if fallback is None else f"{source}, then {fallback.source}"
        self._exact: dict[str, list[ModelPrice]] = {}
        self._families: list[tuple[str, list[ModelPrice]]] = []
        families: dict[str, list[ModelPrice]] = {}
        for entry in entries:
            if entry.name.endswith(WILDCARD):
                families.setdefault(entry.name[:-1], []).append(entry)
            else:
                self._exact.setdefault(entry.name, []).append(entry)
        for periods in (*self._exact.values(), *families.values()):
            periods.sort(key=lambda p: p.effective)
        # Longest prefix first, so "gpt-image-*" beats "gpt-*".
        self._families = sorted(families.items(), key=lambda item: len(item[0]), reverse=True)
        # Reports price thousands of rows of a handful of (model, day) pairs.
        self._cache: dict[tuple[str | None, str | None], ModelPrice | None] = {}

    def models(self) -> list[str]:
        """Returns the model names (and family patterns) this table itself prices."""
        return sorted([*self._exact, *(prefix + WILDCARD for prefix, _ in self._families)])

    def _periods(self, model: str) -> list[ModelPrice] | None:
        found = self._exact.get(model)
        if found is not None:
            return found
        snapshot = _SNAPSHOT.match(model)
        if snapshot is not None and snapshot.group("base") in self._exact:
            return self._exact[snapshot.group("base")]
        for prefix, periods in self._families:
            if model.startswith(prefix):
                return periods
        return None

    def lookup(self, model: str | None, day: str | None = None) -> ModelPrice | None:
        """Returns the price in force for a model on a UTC day (``YYYY-MM-DD``), or None."""
        key = (model, day)
        try:
            return self._cache[key]
        except KeyError:
            found = self._cache[key] = self._find(model, day)
            return found

    def _find(self, model: str | None, day: str | None) -> ModelPrice | None:
        if not model:
            return None
        model = bare_model(model)
        periods = self._periods(model)
        if not periods:
            return self.fallback.lookup(model, day) if self.fallback is not None else None
        if day is None:
            return periods[-1]
        try:
            when = date.fromisoformat(day[:10])
        except ValueError:
            return periods[-1]
        chosen = periods[0]  # the oldest entry also covers the days before it
        for period in periods:
            if period.effective <= when:
                chosen = period
        return chosen

    def cost(
        self,
        model: str | None,
        day: str | None,
        *,
        input_tokens: int = 0,
        output_tokens: int = 0,
        unmetered_images: int = 0,
        image_size: str | None = None,
        image_quality: str | None = None,
        input_image_tokens: int = 0,
        output_text_tokens: int = 0,
    ) -> float | None:
        """Returns the dollars for some usage of a model on a day, or None if unpriced."""
        if not (input_tokens or output_tokens or unmetered_images):
            return 0.0
        price = self.lookup(model, day)
        if price is None:
            return None
        return price.cost(
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            unmetered_images=unmetered_images,
            image_size=image_size,
            image_quality=image_quality,
            input_image_tokens=input_image_tokens,
            output_text_tokens=output_text_tokens,
        )

    def meta_cost(self, meta: Mapping[str, Any], day: str | None) -> float | None:
        """Returns what one event's recorded usage cost, or None if unpriced (a batch's at the batch tier)."""
        live = self.live_meta_cost(meta, day)
        if live is None or not meta.get("batch_id"):
            return live
        return live * BATCH_PRICE_FACTOR

    def live_meta_cost(self, meta: Mapping[str, Any], day: str | None) -> float | None:
        """Returns what one event's recorded usage costs at the live price (None if unpriced)."""
        metered = "input_tokens" in meta or "output_tokens" in meta
        return self.cost(
            meta.get("model"),
            day,
            input_tokens=meta.get("input_tokens") or 0,
            output_tokens=meta.get("output_tokens") or 0,
            unmetered_images=0 if metered else (meta.get("images") or 0),
            image_size=meta.get("image_size"),
            image_quality=meta.get("image_quality"),
            input_image_tokens=meta.get("input_image_tokens") or 0,
            output_text_tokens=meta.get("output_text_tokens") or 0,
        )


class DatabasePrices(PriceTable):
    """Prices from the ``genai-prices`` database (bundled with the package; no network).

    OpenAI's models are looked up by name (a dated snapshot resolves to its model) and
    priced as of the call's day. Long-context tiers are ignored: one call of this job is
    far below them. A model the database does not know falls through to ``fallback``.
    """

    def __init__(self, fallback: PriceTable | None = None) -> None:
        from importlib.metadata import version

        self.version = version("genai-prices")
        super().__init__([], as_of=date.today(), source=f"genai-prices {self.version}", fallback=fallback)

    def _find(self, model: str | None, day: str | None) -> ModelPrice | None:
        if not model:
            return None
        model = bare_model(model)
        found = self._from_database(model, day)
        if self.fallback is None:
            return found
        if found is None:
            return self.fallback.lookup(model, day)
        below = self.fallback.lookup(model, day)
        if below is not None and below.images:
            # The database prices tokens; per-image prices (for calls that report no
            # usage, and for --budget-usd's estimate of a call) come from the layer below.
            found = replace(found, images=below.images, images_source=below.source)
        return found

    def _from_database(self, model: str, day: str | None) -> ModelPrice | None:
        from genai_prices import data_snapshot

        try:
            _, info = data_snapshot.get_snapshot().find_provider_model(model, None, "openai", None)
        except LookupError:
            return None
        when = datetime.now(UTC)
        if day is not None:
            try:
                when = datetime.combine(date.fromisoformat(day[:10]), time(12), tzinfo=UTC)
            except ValueError:
                pass
        price = info.get_prices(when)
        text_in, text_out = _rate(price.input_mtok), _rate(price.output_mtok)
        image_in, image_out = _rate(price.input_image_mtok), _rate(price.output_image_mtok)
        if text_in is None and text_out is None:
            return None
        return ModelPrice(
            name=model,
            effective=when.date(),
            input_per_1m=text_in,
            output_per_1m=image_out if image_out is not None else text_out,
            input_image_per_1m=image_in,
            output_text_per_1m=text_out if image_out is not None else None,
            source=self.own_source,
        )


def _rate(value: Any) -> float | None:
    """Returns a database rate as a float (a tiered rate by its base tier)."""
    if value is None:
        return None
    return float(getattr(value, "base", value))


def bare_model(model: str) -> str:
    """Returns a model's name without a gateway's provider prefix (``openai/gpt-5.4-mini``)."""
    return model.removeprefix(PROVIDER_PREFIX)


def _describe(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first.get("loc", ()))
    return f"{where}: {first.get('msg')}" if where else str(first.get("msg"))


def parse_prices(text: str, *, source: str, fallback: PriceTable | None = None) -> PriceTable:
    """Parses a price table's TOML text; raises ``ConfigError`` naming what is wrong."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"price table {source} is not valid TOML: {exc}") from exc
    try:
        parsed = _PriceFile.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"price table {source} is invalid: {_describe(exc)}") from exc
    entries = []
    for item in parsed.model:
        for size, qualities in item.images.items():
            for quality, price in qualities.items():
                if price < 0:
                    raise ConfigError(
                        f"price table {source} is invalid: {item.name} image {size}/{quality} "
                        "has a negative price"
                    )
        entries.append(
            ModelPrice(
                name=item.name,
                effective=item.effective,
                input_per_1m=item.input_per_1m,
                output_per_1m=item.output_per_1m,
                input_image_per_1m=item.input_image_per_1m,
                output_text_per_1m=item.output_text_per_1m,
                images=item.images,
                source=source,
            )
        )
    return PriceTable(entries, as_of=parsed.as_of, source=source, fallback=fallback)


def shipped_prices() -> PriceTable:
    """Returns the shipped ``prices.toml`` alone (the last layer)."""
    text = resources.files("projector").joinpath(SHIPPED).read_text(encoding="utf-8")
    return parse_prices(text, source=f"shipped {SHIPPED}")


def load_prices(path: str | os.PathLike[str] | None = None) -> PriceTable:
    """Returns the layered prices: the file at ``path`` (if any), the database, the shipped table."""
    default = DatabasePrices(fallback=shipped_prices())
    if path is None:
        return default
    chosen = Path(path)
    try:
        text = chosen.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"--prices {chosen}: no such file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--prices {chosen}: cannot read it ({exc})") from exc
    return parse_prices(text, source=str(chosen), fallback=default)
