"""Margins under the three billing approaches, and what-if model swaps: pure, exact Decimal.

- Margins: per client and month, what they would have paid at cost, with their markup
  (the invoice's total), and under a flat monthly fee typed in; a flat fee below the month's
  cost lost money.
- What-if: the stored token counts of one model's calls (per bucket, from the daily totals)
  priced at another model's price row: ``tokens × price per million / 1,000,000`` for each
  bucket, never a float. Tiered prices (by prompt size) use the tier the pricing API returns
  for an empty prompt, because daily totals no longer know each call's prompt size; the page
  says so when the target price is tiered. Every bucket counts, the unit buckets (audio,
  images, 1-hour cache writes) too: tokens in a unit the target's row does not price are
  listed as unpriced, never priced at 0 or at a guess (the pipeline would quarantine them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from libs.common.events import UNIT_BUCKETS
from libs.common.money import round_cents, token_cost
from libs.common.periods import Period
from services.dashboard.formatting import to_decimal

__all__ = ["ClientMargins", "MonthMargin", "SwapResult", "build_margins", "parse_fee", "swap_cost"]

_ZERO = Decimal(0)
BUCKETS: tuple[tuple[str, str], ...] = (
    ("input_tokens", "input_per_mtok"), ("output_tokens", "output_per_mtok"),
    ("cache_read_tokens", "cache_read_per_mtok"), ("cache_write_tokens", "cache_write_per_mtok"),
    ("reasoning_tokens", "reasoning_per_mtok"),
    *((unit.tokens, unit.price) for unit in UNIT_BUCKETS),
)
"""Each token count of the daily totals, and the ``AppliedPrice`` field that prices it."""


def parse_fee(text: str, field_name: str) -> tuple[Decimal | None, str | None]:
    """A flat fee typed in: dollars, at most cents, not negative. ``(fee, error)``."""
    text = text.strip().replace(",", "").lstrip("$")
    if not text:
        return None, None
    try:
        fee = Decimal(text)
    except InvalidOperation:
        return None, f"{field_name}: not an amount (e.g. 250 or 250.00)"
    if not fee.is_finite() or fee < 0:
        return None, f"{field_name}: must be zero or more"
    if fee != fee.quantize(Decimal("0.01")):
        return None, f"{field_name}: at most two decimals (cents)"
    if fee > Decimal("1e12"):
        return None, f"{field_name}: too large"
    return fee, None


@dataclass(frozen=True, slots=True)
class MonthMargin:
    period: Period
    cost: Decimal
    billed: Decimal
    fee: Decimal | None

    @property
    def markup_margin(self) -> Decimal:
        return self.billed - self.cost

    @property
    def flat_margin(self) -> Decimal | None:
        return None if self.fee is None else self.fee - self.cost

    @property
    def flat_lost(self) -> bool:
        return self.fee is not None and self.fee < self.cost


@dataclass(frozen=True, slots=True)
class ClientMargins:
    client_id: str
    name: str
    fee: Decimal | None
    months: list[MonthMargin]

    @property
    def cost(self) -> Decimal:
        return sum((m.cost for m in self.months), _ZERO)

    @property
    def billed(self) -> Decimal:
        return sum((m.billed for m in self.months), _ZERO)

    @property
    def markup_margin(self) -> Decimal:
        return self.billed - self.cost

    @property
    def flat_margin(self) -> Decimal | None:
        """Over the months the client was billed at all (a month before it existed pays no fee)."""
        margins = [m.flat_margin for m in self.months if m.flat_margin is not None]
        return sum(margins, _ZERO) if margins else None

    @property
    def months_lost(self) -> int:
        return sum(1 for m in self.months if m.flat_lost)


@dataclass(frozen=True, slots=True)
class Margins:
    periods: list[Period]
    clients: list[ClientMargins]
    errors: list[str] = field(default_factory=list)

    @property
    def losing(self) -> list[ClientMargins]:
        return [c for c in self.clients if c.months_lost]


def build_margins(periods: Sequence[Period], summaries: Mapping[Period, Iterable[Mapping[str, Any]]],
                  fees: Mapping[str, Decimal | None], default_fee: Decimal | None,
                  errors: Sequence[str] = ()) -> Margins:
    """``summaries``: invoicing's every-client month per month (``/v1/usage/{period}/clients``): cost and
    billed (cost + markup, before any tax: a tax line is no margin) as on each client's invoice."""
    by_client: dict[str, dict[Period, Mapping[str, Any]]] = {}
    names: dict[str, str] = {}
    for period in periods:
        for summary in summaries.get(period, ()):
            by_client.setdefault(summary["client_id"], {})[period] = summary
            names[summary["client_id"]] = summary.get("name") or summary["client_id"]
    clients = []
    for client_id in sorted(by_client, key=lambda c: (names[c].lower(), c)):
        fee = fees.get(client_id, default_fee)
        months = []
        for period in periods:
            summary = by_client[client_id].get(period)
            if summary is None:  # not a client yet (or no record and no usage): no fee either
                months.append(MonthMargin(period=period, cost=_ZERO, billed=_ZERO, fee=None))
                continue
            months.append(MonthMargin(period=period, cost=to_decimal(summary.get("cost"), _ZERO) or _ZERO,
                                      billed=to_decimal(summary.get("billed"), _ZERO) or _ZERO, fee=fee))
        clients.append(ClientMargins(client_id=client_id, name=names[client_id], fee=fee, months=months))
    return Margins(periods=list(periods), clients=clients, errors=list(errors))


@dataclass(frozen=True, slots=True)
class SwapResult:
    """Last month's calls of one model, priced as another."""

    source: str
    target: str
    tokens: dict[str, int]
    events: int
    actual_cost: Decimal
    """What those calls cost, exactly, as stored."""
    swapped_cost: Decimal
    """The same tokens at the target's price row, exactly."""
    month_cost: Decimal
    """The client's whole month at cost, as it was."""
    markup_percent: Decimal
    target_price: Mapping[str, Any]
    unpriced: dict[str, int] = field(default_factory=dict)
    """Tokens in units the target's price row does not price (e.g. audio on a text-only model):
    left out of ``swapped_cost``; the page says so, since such calls would not be billed there."""

    @property
    def month_cost_after(self) -> Decimal:
        return self.month_cost - self.actual_cost + self.swapped_cost

    @property
    def saving(self) -> Decimal:
        return self.actual_cost - self.swapped_cost

    @property
    def billed_after(self) -> Decimal:
        """The month billed at the current markup, rounded once (an invoice rounds per line)."""
        base = round_cents(self.month_cost_after)
        return base + round_cents(base * self.markup_percent / 100)

    @property
    def tiered(self) -> bool:
        return bool(self.target_price.get("tier"))


def swap_cost(daily: Iterable[Mapping[str, Any]], source: tuple[str, str], target: tuple[str, str],
              target_price: Mapping[str, Any], markup_percent: Decimal) -> SwapResult:
    """Re-price ``source``'s stored tokens at ``target_price`` (the pricing API's ``AppliedPrice``)."""
    tokens = {bucket: 0 for bucket, _ in BUCKETS}
    events = 0
    actual = month = _ZERO
    for row in daily:
        cost = to_decimal(row.get("cost_usd"), _ZERO) or _ZERO
        month += cost
        if (str(row["provider"]), str(row["model"])) != source:
            continue
        actual += cost
        events += int(row.get("events", 0))
        for bucket, _ in BUCKETS:
            tokens[bucket] += int(row.get(bucket, 0))
    swapped = _ZERO
    unpriced: dict[str, int] = {}
    for bucket, price_field in BUCKETS:
        price = to_decimal(target_price.get(price_field))
        if price is not None:
            swapped += token_cost(tokens[bucket], price)
        elif tokens[bucket]:
            unpriced[bucket] = tokens[bucket]
    return SwapResult(source="/".join(source), target="/".join(target), tokens=tokens, events=events,
                      actual_cost=actual, swapped_cost=swapped, month_cost=month, markup_percent=markup_percent,
                      target_price=target_price, unpriced=unpriced)
