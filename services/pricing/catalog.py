"""Public list prices from the catalog bundled with ``genai-prices`` (offline, read-only).

We read ``genai_prices.data.providers`` directly and never touch ``UpdatePrices`` or the
package's snapshot machinery, so pricing never depends on the network and a given package
version always yields the same price for the same call.

Mapping of genai-prices price keys onto our disjoint buckets:

- ``input_mtok`` → input. A model without one is not priced per token: no price.
- ``output_mtok`` → output; absent (embedding models) means output is free, as in genai-prices.
- ``cache_read_mtok`` → cache read; absent means the catalog does not discount cached tokens,
  so they cost the input price (they are input tokens after all).
- ``cache_write_mtok`` → cache write (Anthropic's default 5-minute cache); absent → input price.
- ``output_reasoning_mtok`` → reasoning when the catalog prices it apart, else the output price.
- the unit buckets (``libs.common.events.UNIT_BUCKETS``): ``cache_write_1h_mtok`` → 1-hour cache
  writes, ``input_audio_mtok`` / ``output_audio_mtok`` / ``cache_audio_read_mtok`` → audio,
  ``input_image_mtok`` / ``cache_image_read_mtok`` → images. Absent → no price (``None``), not
  the parent's: genai-prices lists a unit price only where it knows one, and a missing one is as
  often a gap (OpenAI's gpt-4o-audio-preview: $2.50 text, $40 audio, listed without audio) as a
  unit billed like text. Pricing quarantines a call with tokens in an unpriced unit rather than
  bill it at a guess (``services.pricing.service``). One exception, a rule rather than a guess:
  a Claude model (model id containing ``claude``, on any provider: Bedrock, Vertex, OpenRouter…)
  whose row has no ``cache_write_1h_mtok`` gets ``ONE_HOUR_WRITE_MULTIPLIER`` (2) × its input
  price, Anthropic's published price for 1-hour writes; every one of the catalog's 79 listed
  1-hour prices is exactly that (``tests/pricing/test_unit_buckets.py`` checks the whole catalog).
  And for a Gemini model (model id containing ``gemini``): Google publishes one price for every
  modality and lists audio or images apart only where they cost more, which is how genai-prices
  records them, so a modality its row does not list costs what text does (audio and image input
  the input price, their cache reads the cache-read price, audio and image output the output price).

Tiers follow genai-prices' ``calc_unit_price``: a tier applies to *all* tokens of the call once
the prompt size is strictly greater than the tier start. genai-prices' ``input_tokens`` is the
whole prompt, cached or not, so our prompt size is ``input + cache_read + cache_write``.

Catalog prices with more than ``PRICE_SCALE`` (12) decimals, float artefacts such as
``0.18000000000000002``, are rounded half-even to 12 decimals, our stored price precision.

Historic prices follow ``ModelInfo.get_prices``: the last conditional price whose constraint is
active at the call's time wins, else the first one. Standard prices only: request-context
price variants (service tiers such as "flex"/"priority") are not applied.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache
from typing import Final

from genai_prices.data import providers as _bundled_providers
from genai_prices.data_snapshot import find_provider_by_id
from genai_prices.types import (
    ConditionalPrice,
    ModelInfo,
    Provider,
    StartDateConstraint,
    TieredPrices,
    TimeOfDateConstraint,
)

from libs.common.events import UNIT_BUCKETS, AppliedPrice, TokenUsage
from libs.common.money import PRICE_SCALE

__all__ = ["PROVIDER_ALIASES", "CatalogEntry", "CatalogMiss", "CatalogPrices", "prompt_tokens"]

#: Provider names seen in the wild that genai-prices' own ``provider_match`` does not map (or
#: maps elsewhere). Everything else goes through genai-prices: the exact id first, then the
#: provider's match clause (e.g. anything containing "google", "gemini" or "vertex" → google).
PROVIDER_ALIASES: Final[dict[str, str]] = {
    "claude": "anthropic",
    "grok": "x-ai",
    "azure-openai": "azure",
    "azure_openai": "azure",
    "azure-ai": "azure",
    "azure_ai": "azure",
    "fireworks-ai": "fireworks",
    "fireworks_ai": "fireworks",
    "mistralai": "mistral",
    "moonshot": "moonshotai",
}

ONE_HOUR_WRITE_MULTIPLIER: Final = Decimal(2)
"""Anthropic's price of a 1-hour cache write: this many times the base input price (5-minute: 1.25)."""

_TOKEN_KEYS: Final = (
    "input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok", "output_reasoning_mtok",
    *(unit.catalog_key for unit in UNIT_BUCKETS),
)
_ZERO: Final = Decimal(0)
_MIDNIGHT_UTC: Final = time(0, tzinfo=UTC)
_PRICE_QUANTUM: Final = Decimal(1).scaleb(-PRICE_SCALE)


def prompt_tokens(usage: TokenUsage) -> int:
    """The prompt size tiers are decided on: every input-side bucket."""
    return (usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens
            + usage.cache_write_1h_tokens + usage.input_audio_tokens + usage.cache_audio_read_tokens
            + usage.input_image_tokens + usage.cache_image_read_tokens)


@dataclass(frozen=True, slots=True)
class CatalogMiss:
    """Why the catalog has no token price for a (provider, model)."""

    reason: str


@dataclass(frozen=True, slots=True)
class _TieredPrice:
    """Prebuilt prices of one catalog period, one per prompt-size tier."""

    base: AppliedPrice
    tiers: tuple[tuple[int, AppliedPrice], ...]
    """``(start, price)`` pairs, highest start first."""

    def pick(self, prompt_size: int) -> AppliedPrice:
        for start, price in self.tiers:
            if prompt_size > start:
                return price
        return self.base


@dataclass(frozen=True, slots=True)
class _Period:
    """One of a model's conditional prices, with its constraint unpacked for speed."""

    start_date: date | None
    time_of_day: TimeOfDateConstraint | None
    prices: _TieredPrice

    def active(self, at: datetime) -> bool:
        if self.start_date is not None:
            return at.astimezone(UTC).date() >= self.start_date
        if self.time_of_day is not None:
            return self.time_of_day.active(at)
        return True


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """A resolved catalog model: its price id and its price periods in catalog order."""

    price_id: str
    periods: tuple[_Period, ...]
    one_hour_by_rule: bool = False
    """1-hour cache writes priced by Anthropic's rule (2 × input): a Claude model the catalog lists without them."""

    @property
    def fixed_price(self) -> AppliedPrice | None:
        """The price of every call, whatever its time and size (one period, no tiers), else ``None``."""
        if len(self.periods) == 1 and not self.periods[0].prices.tiers:
            return self.periods[0].prices.base
        return None

    def price_at(self, at: datetime, usage: TokenUsage) -> AppliedPrice:
        """The last period active at ``at`` wins; if none is, the first (as genai-prices does)."""
        periods = self.periods
        chosen = periods[0]
        if len(periods) > 1:
            for period in reversed(periods):
                if period.active(at):
                    chosen = period
                    break
        return chosen.prices.pick(prompt_tokens(usage))


class CatalogPrices:
    """Per-million-token list prices in force at a given time, from the bundled catalog.

    Resolution of (provider, model) to a catalog entry, with all its prices prebuilt, is cached
    (bounded LRU, since names come from clients); a lookup then only picks the period and tier.
    """

    def __init__(self, providers: Sequence[Provider] | None = None, *, cache_size: int = 16_384) -> None:
        self._providers: list[Provider] = list(_bundled_providers if providers is None else providers)
        self._entry = lru_cache(maxsize=cache_size)(self._resolve_entry)

    def lookup(self, provider: str, model: str, at: datetime, usage: TokenUsage) -> AppliedPrice | None:
        """The catalog's price for one call, or ``None`` if the catalog cannot price it."""
        if at.tzinfo is None:
            raise ValueError("'at' must be timezone-aware")
        entry = self._entry(provider.lower(), model.lower())
        if isinstance(entry, CatalogMiss):
            return None
        return entry.price_at(at, usage)

    def entry(self, provider: str, model: str) -> CatalogEntry | CatalogMiss:
        """The resolved catalog entry, or the reason there is none (for explanations)."""
        return self._entry(provider.lower(), model.lower())

    def find_provider(self, provider: str) -> Provider | None:
        """genai-prices' provider for a provider name, after our aliases."""
        name = provider.strip().lower()
        if not name:
            return None
        name = PROVIDER_ALIASES.get(name, name)
        return find_provider_by_id(self._providers, name)

    def _resolve_entry(self, provider: str, model: str) -> CatalogEntry | CatalogMiss:
        found = self.find_provider(provider)
        if found is None:
            return CatalogMiss(f"unknown provider {provider!r}")
        model_ref = model.strip()
        info = found.find_model(model_ref, all_providers=self._providers) if model_ref else None
        if info is None:
            return CatalogMiss(f"unknown model {model!r} for provider {found.id!r}")
        # The price id names the provider whose list actually holds the entry (a fallback
        # provider such as anthropic for claude on google), so it points at one catalog row.
        owner = found.id if any(m is info for m in found.models) else _owner_id(self._providers, info, found.id)
        price_id = f"{owner}/{info.id}"
        claude = "claude" in info.id.lower()
        gemini = "gemini" in info.id.lower()
        conditional = (
            info.prices if isinstance(info.prices, list) else [ConditionalPrice(constraint=None, prices=info.prices)]
        )
        periods: list[_Period] = []
        for cond in conditional:
            tiered = _build_tiered(price_id, cond, claude=claude, gemini=gemini)
            if isinstance(tiered, CatalogMiss):
                return tiered
            start = cond.constraint.start_date if isinstance(cond.constraint, StartDateConstraint) else None
            tod = cond.constraint if isinstance(cond.constraint, TimeOfDateConstraint) else None
            periods.append(_Period(start_date=start, time_of_day=tod, prices=tiered))
        if not periods:
            return CatalogMiss(f"catalog entry {price_id} has no prices")
        by_rule = claude and any(
            (cond.prices.__dict__.get("cache_write_1h_mtok") is None) for cond in conditional)
        return CatalogEntry(price_id=price_id, periods=tuple(periods), one_hour_by_rule=by_rule)


def _owner_id(providers: Sequence[Provider], info: ModelInfo, default: str) -> str:
    for candidate in providers:
        if any(m is info for m in candidate.models):
            return candidate.id
    return default


def _build_tiered(price_id: str, cond: ConditionalPrice, *, claude: bool = False,
                  gemini: bool = False) -> _TieredPrice | CatalogMiss:
    """Prebuild the ``AppliedPrice`` of every tier of one conditional price."""
    raw: dict[str, Decimal | TieredPrices | None] = {key: cond.prices.__dict__.get(key) for key in _TOKEN_KEYS}
    if raw["input_mtok"] is None:
        return CatalogMiss(f"catalog entry {price_id} has no per-token price")
    if claude and raw["cache_write_1h_mtok"] is None:
        raw["cache_write_1h_mtok"] = _times(raw["input_mtok"], ONE_HOUR_WRITE_MULTIPLIER)
    if gemini:
        cache_read = raw["input_mtok"] if raw["cache_read_mtok"] is None else raw["cache_read_mtok"]
        output = Decimal(0) if raw["output_mtok"] is None else raw["output_mtok"]
        for key, text_price in (("input_audio_mtok", raw["input_mtok"]), ("input_image_mtok", raw["input_mtok"]),
                                ("cache_audio_read_mtok", cache_read), ("cache_image_read_mtok", cache_read),
                                ("output_audio_mtok", output), ("output_image_mtok", output)):
            if raw[key] is None:
                raw[key] = text_price
    starts = sorted(
        {tier.start for value in raw.values() if isinstance(value, TieredPrices) for tier in value.tiers},
        reverse=True,
    )
    effective_from = (
        datetime.combine(cond.constraint.start_date, _MIDNIGHT_UTC)
        if isinstance(cond.constraint, StartDateConstraint)
        else None
    )
    try:
        base = _applied(price_id, effective_from, raw, prompt_size=0, tier="")
        tiers = tuple(
            (start, _applied(price_id, effective_from, raw, prompt_size=start + 1, tier=f"input>{start}"))
            for start in starts
        )
    except ValueError:  # pydantic's ValidationError is a ValueError too
        return CatalogMiss(f"catalog entry {price_id} has a price we cannot represent, or no input price")
    return _TieredPrice(base=base, tiers=tiers)


def _applied(
    price_id: str,
    effective_from: datetime | None,
    raw: dict[str, Decimal | TieredPrices | None],
    *,
    prompt_size: int,
    tier: str,
) -> AppliedPrice:
    def at_size(key: str) -> Decimal | None:
        value = raw[key]
        if isinstance(value, TieredPrices):
            value = _tier_price(value, prompt_size)
        return None if value is None else _to_price_scale(value)

    input_price = at_size("input_mtok")
    if input_price is None:
        raise ValueError(f"catalog entry {price_id} has no input price")
    output_price = at_size("output_mtok")
    output_price = _ZERO if output_price is None else output_price
    cache_read = at_size("cache_read_mtok")
    cache_write = at_size("cache_write_mtok")
    reasoning = at_size("output_reasoning_mtok")
    return AppliedPrice(
        source="catalog",
        price_id=price_id,
        effective_from=effective_from,
        input_per_mtok=input_price,
        output_per_mtok=output_price,
        cache_read_per_mtok=input_price if cache_read is None else cache_read,
        cache_write_per_mtok=input_price if cache_write is None else cache_write,
        reasoning_per_mtok=output_price if reasoning is None else reasoning,
        tier=tier,
        **{unit.price: at_size(unit.catalog_key) for unit in UNIT_BUCKETS},
    )


def _times(price: Decimal | TieredPrices, factor: Decimal) -> Decimal | TieredPrices:
    """A price (each tier of it) times ``factor``, exactly."""
    if isinstance(price, TieredPrices):
        return TieredPrices(base=price.base * factor,
                            tiers=[type(tier)(start=tier.start, price=tier.price * factor) for tier in price.tiers])
    return price * factor


def _to_price_scale(value: Decimal) -> Decimal:
    """Fit a catalog price into ``PRICE_SCALE`` decimals (our stored price precision).

    A few catalog entries carry float artefacts such as ``0.18000000000000002`` or
    ``0.08333333333333334``; those are rounded half-even to 12 places and trailing zeros
    dropped. Every other price passes through unchanged.
    """
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int) or exponent >= -PRICE_SCALE:
        return value
    scaled = value.quantize(_PRICE_QUANTUM, rounding=ROUND_HALF_EVEN)
    # Drop trailing zeros, without turning e.g. 10 into 1E+1.
    return scaled.quantize(Decimal(1)) if scaled == scaled.to_integral_value() else scaled.normalize()


def _tier_price(price: TieredPrices, prompt_size: int) -> Decimal:
    """Same rule as genai-prices' ``calc_unit_price``: highest tier whose start is exceeded."""
    for tier in sorted(price.tiers, key=lambda t: t.start, reverse=True):
        if prompt_size > tier.start:
            return tier.price
    return price.base
