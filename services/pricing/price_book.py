"""Which price applies to a call: the agency's override in force, else the public catalog.

Precedence, so every invoice line is reproducible:

1. overrides for the exact (provider, model), case-insensitive, in force at the call's time
   (``effective_from <= at < effective_to``); among several, the latest ``effective_from``
   wins, then the latest ``created_at`` (then the larger id, only to stay deterministic);
2. the bundled catalog (``CatalogPrices``);
3. nothing: the event is unpriced.

A ``PriceBook`` is immutable; reloads build a new one (``replace_overrides`` and friends)
and swap it in, so a pricing worker never sees a half-applied change.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict

from libs.common.events import AppliedPrice, TokenUsage
from services.pricing.catalog import CatalogEntry, CatalogMiss, CatalogPrices
from services.pricing.overrides import PriceOverride

__all__ = ["PriceBook", "PriceExplanation"]

_NO_USAGE = TokenUsage()
_UNSEEN = object()
_FIXED_KEPT = 16_384


class PriceExplanation(BaseModel):
    """What applies to (provider, model) at a time, and why (for the admin API)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: str
    model: str
    at: AwareDatetime
    price: AppliedPrice | None
    """The price that applies, or ``None`` if the call would be unpriced."""
    catalog_price: AppliedPrice | None
    """What the catalog alone would charge (equal to ``price`` when no override applies)."""
    overrides_in_force: list[str]
    """Ids of every override in force at ``at``, winner first."""
    reason: str


@dataclass(frozen=True, slots=True)
class _Entry:
    """An override with its price row prebuilt."""

    effective_from: datetime
    effective_to: datetime | None
    price: AppliedPrice
    override: PriceOverride


class PriceBook:
    """Resolves the applied price of a call from overrides and the catalog."""

    def __init__(self, catalog: CatalogPrices, overrides: Iterable[PriceOverride] = ()) -> None:
        self._catalog = catalog
        # A repeated id (e.g. a row re-read during a reload) keeps its last occurrence, the way
        # ``with_override`` replaces, rather than failing a reload.
        by_id = {override.override_id: override for override in overrides}
        self._overrides = tuple(by_id.values())
        index: dict[tuple[str, str], list[_Entry]] = {}
        for override in self._overrides:
            index.setdefault(override.key, []).append(
                _Entry(override.effective_from, override.effective_to, override.applied_price(), override)
            )
        for entries in index.values():
            # Winner first, so resolution stops at the first entry in force.
            entries.sort(key=lambda e: (e.effective_from, e.override.created_at, e.override.override_id), reverse=True)
        self._index: dict[tuple[str, str], tuple[_Entry, ...]] = {k: tuple(v) for k, v in index.items()}
        self._fixed: dict[tuple[str, str], AppliedPrice | None] = {}
        """``fixed_price`` by (provider, model) as the calls spell them (bounded: names come from clients)."""
        self._misses: dict[tuple[str, str], str] = {}
        """``unpriced_reason`` of pairs nothing can price at any time (bounded like ``_fixed``)."""

    @property
    def catalog(self) -> CatalogPrices:
        return self._catalog

    @property
    def overrides(self) -> tuple[PriceOverride, ...]:
        return self._overrides

    def resolve(self, provider: str, model: str, at: datetime, usage: TokenUsage) -> AppliedPrice | None:
        """The price a call is billed at, or ``None`` if nothing prices it."""
        if at.tzinfo is None:
            raise ValueError("'at' must be timezone-aware")
        fixed = self._fixed.get((provider, model), _UNSEEN)
        if fixed is _UNSEEN:
            fixed = self._fixed_price(provider, model)
        if fixed is not None:
            return fixed  # type: ignore[return-value]
        entries = self._index.get((provider.lower(), model.lower()))
        if entries:
            for entry in entries:
                if entry.effective_from <= at and (entry.effective_to is None or at < entry.effective_to):
                    return entry.price
        return self._catalog.lookup(provider, model, at, usage)

    def _fixed_price(self, provider: str, model: str) -> AppliedPrice | None:
        """The price of every call of (provider, model) whatever its time and size, or ``None`` when it
        depends on them (an override for the pair, catalog periods or tiers) or nothing prices it.

        Most calls are of such models: ``resolve`` then costs one lookup (the consumer's hot path).
        """
        fixed = None
        if (provider.lower(), model.lower()) not in self._index:
            entry = self._catalog.entry(provider, model)
            if isinstance(entry, CatalogEntry):
                fixed = entry.fixed_price
        if len(self._fixed) >= _FIXED_KEPT:
            self._fixed.clear()
        self._fixed[(provider, model)] = fixed
        return fixed

    def unpriced_reason(self, provider: str, model: str, at: datetime, usage: TokenUsage) -> str:
        """``explain(...).reason`` for a call ``resolve`` did not price.

        Remembered for a pair no override names and the catalog does not price (a model newer
        than the catalog: all its calls wait in the quarantine, and explaining each one cost
        pricing three times what pricing a call does).
        """
        reason = self._misses.get((provider, model))
        if reason is None:
            reason = self.explain(provider, model, at, usage).reason
            if ((provider.lower(), model.lower()) not in self._index
                    and isinstance(self._catalog.entry(provider, model), CatalogMiss)):
                if len(self._misses) >= _FIXED_KEPT:
                    self._misses.clear()
                self._misses[(provider, model)] = reason
        return reason

    def explain(self, provider: str, model: str, at: datetime, usage: TokenUsage | None = None) -> PriceExplanation:
        """The applied price plus a human reason; ``usage`` only matters for tiered prices."""
        if at.tzinfo is None:
            raise ValueError("'at' must be timezone-aware")
        usage = _NO_USAGE if usage is None else usage
        in_force = [e for e in self._index.get((provider.lower(), model.lower()), ()) if e.override.in_force(at)]
        catalog_price = self._catalog.lookup(provider, model, at, usage)
        if in_force:
            winner = in_force[0]
            price: AppliedPrice | None = winner.price
            reason = f"override {winner.override.override_id} in force since {_iso(winner.effective_from)} " + (
                "beats catalog " + catalog_price.price_id if catalog_price else "(no catalog price)"
            )
            if len(in_force) > 1:
                reason += f"; newest of {len(in_force)} overrides in force"
        elif catalog_price is not None:
            price = catalog_price
            reason = f"catalog {catalog_price.price_id}"
            if catalog_price.effective_from is not None:
                reason += f" price since {_iso(catalog_price.effective_from)}"
            if catalog_price.tier:
                reason += f", tier {catalog_price.tier}"
            entry = self._catalog.entry(provider, model)
            if isinstance(entry, CatalogEntry) and entry.one_hour_by_rule:
                reason += ("; 1-hour cache writes at 2 x the input price (Anthropic's price for them; "
                           "the catalog lists none)")
        else:
            price = None
            entry = self._catalog.entry(provider, model)
            reason = "no price: " + (entry.reason if isinstance(entry, CatalogMiss) else "not in catalog")
        return PriceExplanation(
            provider=provider,
            model=model,
            at=at,
            price=price,
            catalog_price=catalog_price,
            overrides_in_force=[e.override.override_id for e in in_force],
            reason=reason,
        )

    def replace_overrides(self, overrides: Iterable[PriceOverride]) -> PriceBook:
        """A book with the same catalog and a fresh set of overrides (e.g. after a reload)."""
        return PriceBook(self._catalog, overrides)

    def with_override(self, override: PriceOverride) -> PriceBook:
        """A book with ``override`` added, replacing any override with the same id."""
        kept = [o for o in self._overrides if o.override_id != override.override_id]
        return PriceBook(self._catalog, [*kept, override])

    def without_override(self, override_id: str) -> PriceBook:
        """A book without the override ``override_id`` (a no-op if absent)."""
        return PriceBook(self._catalog, [o for o in self._overrides if o.override_id != override_id])


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
