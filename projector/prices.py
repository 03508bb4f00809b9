"""The price table: dollars per token and per image, by model and date.

The shipped table is ``projector/prices.toml`` (its header documents the format; its
prices are examples to check against the provider's page). ``load_prices(path)`` reads
another file of the same format (``--prices FILE``) and refuses a bad one with a
one-line ``ConfigError``.

Pricing rule for one call (or a sum of calls of one model, size, quality and day):
tokens are priced at the model's per-million rates; images whose call reported no token
usage (``unmetered``) are priced per image by size and quality. A model, or a size or
quality, with no price makes the cost *unknown* (None) — never zero.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from journal.errors import ConfigError

SHIPPED = "prices.toml"
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
    output_per_1m: float | None = None
    images: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

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
    ) -> float | None:
        """Returns the dollars for this usage, or None when part of it has no price."""
        total = 0.0
        if input_tokens:
            if self.input_per_1m is None:
                return None
            total += input_tokens * self.input_per_1m / 1_000_000
        if output_tokens:
            if self.output_per_1m is None:
                return None
            total += output_tokens * self.output_per_1m / 1_000_000
        if unmetered_images:
            each = self.image_price(image_size, image_quality)
            if each is None:
                return None
            total += unmetered_images * each
        return total


class PriceTable:
    """Looks up the price of a model on a day."""

    def __init__(self, entries: list[ModelPrice], *, as_of: date, source: str) -> None:
        self.as_of = as_of
        self.source = source
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
        """Returns the model names (and family patterns) the table prices."""
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
        periods = self._periods(model)
        if not periods:
            return None
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
        )

    def meta_cost(self, meta: Mapping[str, Any], day: str | None) -> float | None:
        """Returns what one event's recorded usage cost, or None if unpriced."""
        metered = "input_tokens" in meta or "output_tokens" in meta
        return self.cost(
            meta.get("model"),
            day,
            input_tokens=meta.get("input_tokens") or 0,
            output_tokens=meta.get("output_tokens") or 0,
            unmetered_images=0 if metered else (meta.get("images") or 0),
            image_size=meta.get("image_size"),
            image_quality=meta.get("image_quality"),
        )


def _describe(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first.get("loc", ()))
    return f"{where}: {first.get('msg')}" if where else str(first.get("msg"))


def parse_prices(text: str, *, source: str) -> PriceTable:
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
                images=item.images,
            )
        )
    return PriceTable(entries, as_of=parsed.as_of, source=source)


def load_prices(path: str | os.PathLike[str] | None = None) -> PriceTable:
    """Loads a price table file, or the shipped one when ``path`` is None."""
    if path is None:
        text = resources.files("projector").joinpath(SHIPPED).read_text(encoding="utf-8")
        return parse_prices(text, source=f"(shipped {SHIPPED})")
    chosen = Path(path)
    try:
        text = chosen.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"--prices {chosen}: no such file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--prices {chosen}: cannot read it ({exc})") from exc
    return parse_prices(text, source=str(chosen))
