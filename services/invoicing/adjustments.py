"""Adjustment lines: what changed in a month after it was issued, billed on a later document.

For a month already issued, the billed amount per line key (provider, model, price row)
is the sum of every line for that month on documents that are not void: the issued
invoice's own lines, adjustment lines on later invoices, credit notes. The live totals
in ClickHouse are what the month should cost now. Their difference is the adjustment:

- tokens and events: live minus billed;
- ``amount_exact``: live exact cost minus the billed exact cost;
- ``amount``: the live cost rounded to cents minus the amounts already billed, so what
  a month has been billed in total always equals its live cost rounded per line,
  however many adjustments it took (no cent drifts away).

One mechanism covers late events, quarantined events priced later and re-rating. Pure
functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from libs.common.money import round_cents
from libs.common.periods import Period
from services.invoicing.amounts import trim
from services.invoicing.domain import BUCKETS, UsageTotals
from services.invoicing.schemas import Invoice, InvoiceLine, LinePrice, UnitPrices

__all__ = ["adjustment_lines", "billed_lines_by_month", "line_key", "net_of_billed"]

LineKey = tuple[str, str, str, str, str]
_ZERO = Decimal(0)


def line_key(line: InvoiceLine) -> LineKey:
    return (line.provider, line.model, line.price.source, line.price.price_id, line.price.tier)


def _usage_key(usage: UsageTotals) -> LineKey:
    return (usage.provider, usage.model, usage.price_source, usage.price_id, usage.price_tier)


def billed_lines_by_month(documents: Iterable[Invoice]) -> dict[str, list[InvoiceLine]]:
    """Every billed line of the documents, by the month its usage happened in."""
    by_month: dict[str, list[InvoiceLine]] = {}
    for document in documents:
        for line in document.lines:
            by_month.setdefault(line.service_period or document.period, []).append(line)
    return by_month


@dataclass
class _Billed:
    events: int = 0
    tokens: dict[str, int] = field(default_factory=dict)
    exact: Decimal = _ZERO
    amount: Decimal = _ZERO
    prices: UnitPrices | None = None


def _description(period: Period, provider: str, model: str, tokens: dict[str, int], prices: UnitPrices,
                 amount: Decimal) -> str:
    used = [(label, tokens[name], getattr(prices, price)) for label, name, price in BUCKETS if tokens[name]]
    money = f"-${-amount:,.2f}" if amount < 0 else f"${amount:,.2f}"
    if not used:
        body = "0 tokens"
    elif len({price for _, _, price in used}) == 1:
        body = f"{sum(t for _, t, _ in used):,} tokens @ ${used[0][2]:,.2f}/1M"
    else:
        body = " + ".join(f"{t:,} {label} @ ${price:,.2f}/1M" for label, t, price in used)
    return f"Usage adjustment for {period.label} — {provider} {model}: {body} = {money}"


def adjustment_lines(period: Period, live: Sequence[UsageTotals], billed: Sequence[InvoiceLine]) -> list[InvoiceLine]:
    """The lines that bring what ``period`` was billed (``billed``) to its live totals (``live``)."""
    done: dict[LineKey, _Billed] = {}
    for line in billed:
        entry = done.setdefault(line_key(line), _Billed())
        entry.events += line.events
        for _, name, _ in BUCKETS:
            entry.tokens[name] = entry.tokens.get(name, 0) + getattr(line, name)
        entry.exact += line.amount_exact
        entry.amount += line.amount
        entry.prices = entry.prices or line.unit_prices
    now = {_usage_key(u): u for u in live}
    lines = []
    for key in sorted(set(done) | set(now)):
        was = done.get(key, _Billed())
        usage = now.get(key)
        tokens = {name: (getattr(usage, name) if usage else 0) - was.tokens.get(name, 0) for _, name, _ in BUCKETS}
        exact = (usage.cost_usd if usage else _ZERO) - was.exact
        amount = (round_cents(usage.cost_usd) if usage else _ZERO) - was.amount
        events = (usage.events if usage else 0) - was.events
        if not any(tokens.values()) and events == 0 and amount == 0 and exact == 0:
            continue
        if usage is not None:
            prices = UnitPrices(**{price: trim(getattr(usage, price), 2) for _, _, price in BUCKETS})
        else:  # the key is gone from the live totals (a correction): keep the prices it was billed at
            prices = was.prices or UnitPrices(**{price: Decimal("0.00") for _, _, price in BUCKETS})
        provider, model, source, price_id, tier = key
        lines.append(InvoiceLine(
            provider=provider, model=model,
            description=_description(period, provider, model, tokens, prices, amount),
            events=events, **tokens, total_tokens=sum(tokens.values()),
            unit_prices=prices, price=LinePrice(source=source, price_id=price_id, tier=tier),
            amount_exact=trim(exact, 2), amount=amount,
            kind="adjustment", service_period=str(period),
        ))
    return lines


def net_of_billed(live: Sequence[UsageTotals], billed: Sequence[InvoiceLine]) -> list[UsageTotals]:
    """``live`` minus what other documents already billed for the month, per line key (keys left at zero drop)."""
    rest = {_usage_key(u): u for u in live}
    for line in billed:
        key = line_key(line)
        was = rest.get(key)
        prices = {price: (getattr(was, price) if was else getattr(line.unit_prices, price)) for _, _, price in BUCKETS}
        rest[key] = UsageTotals(
            provider=line.provider, model=line.model, price_source=line.price.source, price_id=line.price.price_id,
            price_tier=line.price.tier, **prices,
            events=(was.events if was else 0) - line.events,
            **{name: (getattr(was, name) if was else 0) - getattr(line, name) for _, name, _ in BUCKETS},
            cost_usd=(was.cost_usd if was else _ZERO) - line.amount_exact,
        )
    return [u for u in rest.values() if u.events or u.total_tokens or u.cost_usd]
