"""Invoices and client records from plain data: no I/O, so every cent is unit-testable.

Rounding follows ``libs.common.money``: each line is its exact amount rounded half-up to
cents, ``base_cost`` is the sum of the rounded lines (so the lines on paper add up to
it), ``markup`` is rounded once on that base, and ``total = base_cost + markup``.

A client with a tax rate gets a tax line after the markup: ``tax = (base_cost + markup)
× tax_percent / 100``, rounded once, half-up to cents (a half cent goes up: $10.25 at 10%
is $1.025, billed $1.03; a negative amount rounds away from zero, so a credit's tax mirrors
its invoice's), and ``total = base_cost + markup + tax``. Without a rate there is no tax
line and the total is unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from libs.common.errors import NotFound
from libs.common.events import UNIT_BUCKETS
from libs.common.money import markup_of, round_cents, tax_of
from libs.common.periods import Period
from libs.common.settings import BillingDefaults
from services.invoicing.amounts import trim, usd
from services.invoicing.domain import BUCKETS, UsageTotals
from services.invoicing.parties import BillTo, ClientBilling
from services.invoicing.schemas import (
    Client,
    ClientUpdate,
    Invoice,
    InvoiceLine,
    InvoiceSummary,
    LinePrice,
    UnitPrices,
)

__all__ = ["build_invoice", "build_summaries", "client_from_update", "describe_line"]

_ZERO = Decimal("0.00")
_ONE_TICK = timedelta(microseconds=1)  # the resolution of DateTime64(6)


def describe_line(usage: UsageTotals, amount: Decimal) -> str:
    """A line a person can check by hand, e.g. ``openai gpt-4o: 2,100,000 tokens @ $2.50/1M = $5.25``.

    One price for all the line's tokens gives the short form; otherwise each used bucket
    is listed with its own price.
    """
    used = [
        (label, getattr(usage, tokens), getattr(usage, price))
        for label, tokens, price in BUCKETS
        if getattr(usage, tokens) > 0
    ]
    if not used:
        body = "0 tokens"
    elif len({price for _, _, price in used}) == 1:
        body = f"{usage.total_tokens:,} tokens @ {usd(used[0][2])}/1M"
    else:
        body = " + ".join(f"{tokens:,} {label} @ {usd(price)}/1M" for label, tokens, price in used)
    return f"{usage.provider} {usage.model}: {body} = {usd(amount)}"


def _line(usage: UsageTotals) -> InvoiceLine:
    amount = round_cents(usage.cost_usd)
    return InvoiceLine(
        provider=usage.provider,
        model=usage.model,
        description=describe_line(usage, amount),
        events=usage.events,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_tokens,
        reasoning_tokens=usage.reasoning_tokens,
        total_tokens=usage.total_tokens,
        **{unit.tokens: getattr(usage, unit.tokens) for unit in UNIT_BUCKETS},
        unit_prices=UnitPrices(**{price: trim(getattr(usage, price), 2) for _, _, price in BUCKETS}),
        price=LinePrice(source=usage.price_source, price_id=usage.price_id, tier=usage.price_tier),
        amount_exact=trim(usage.cost_usd, 2),
        amount=amount,
    )


def build_invoice(
    *,
    client_id: str,
    period: Period,
    usage: Iterable[UsageTotals],
    client: Client | None,
    defaults: BillingDefaults,
    now: datetime,
    adjustments: Sequence[InvoiceLine] = (),
    billing: ClientBilling | None = None,
) -> Invoice:
    """The draft invoice of ``client_id`` for ``period``.

    ``usage`` holds one entry per line key (already summed); ``client`` is the stored
    record, whose markup applies, or None to bill at the default markup. With neither
    usage nor record there is nothing to bill and no such client: ``NotFound``.
    ``adjustments`` (changes to months already issued) follow the usage lines; the
    markup applies to them as to any line. ``billing`` (the client's billing details and tax
    rate) names who the invoice is to, and adds the tax line when it has a rate.
    """
    lines = [_line(u) for u in usage]
    if client is None and not lines and not adjustments:
        raise NotFound(f"client '{client_id}' has no record and no usage in {period}")
    lines.sort(key=lambda line: (-line.amount, line.provider, line.model, line.price.price_id, line.price.tier))
    lines.extend(adjustments)
    markup_percent = client.markup_percent if client is not None else defaults.default_markup_percent
    base_cost = sum((line.amount for line in lines), _ZERO)
    markup = markup_of(base_cost, markup_percent)
    tax_percent = trim(billing.tax_percent) if billing is not None and billing.tax_percent is not None else None
    tax = tax_of(base_cost + markup, tax_percent) if tax_percent is not None else _ZERO
    return Invoice(
        client_id=client_id,
        name=client.name if client is not None else None,
        period=str(period),
        period_start=period.start,
        period_end=period.end,
        status="draft",
        currency=defaults.currency,
        lines=lines,
        base_cost=base_cost,
        markup_percent=trim(markup_percent),
        markup=markup,
        tax_percent=tax_percent,
        tax_label=billing.tax_label if billing is not None and tax_percent is not None else None,
        tax=tax,
        total=base_cost + markup + tax,
        bill_to=billing.bill_to if billing is not None else BillTo(),
        generated_at=now,
    )


def build_summaries(
    *,
    period: Period,
    usage_by_client: Mapping[str, Sequence[UsageTotals]],
    clients: Iterable[Client],
    defaults: BillingDefaults,
    now: datetime,
    billing: Mapping[str, ClientBilling] | None = None,
) -> list[InvoiceSummary]:
    """Every client's totals for ``period``, each from ``build_invoice`` so they match to the cent.

    A client appears when it has usage in the period, or a record created before the
    period ended (a client added in June has no March invoice to show). ``billing``: the
    clients with billing details (their tax rate adds tax to their total).
    """
    records = {c.client_id: c for c in clients}
    client_ids = set(usage_by_client) | {cid for cid, c in records.items() if c.created_at < period.end}
    summaries = []
    for client_id in sorted(client_ids):
        usage = usage_by_client.get(client_id, ())
        invoice = build_invoice(
            client_id=client_id, period=period, usage=usage, client=records.get(client_id),
            defaults=defaults, now=now, billing=(billing or {}).get(client_id),
        )
        summaries.append(
            InvoiceSummary(
                client_id=client_id,
                name=invoice.name,
                base_cost=invoice.base_cost,
                markup_percent=invoice.markup_percent,
                markup=invoice.markup,
                tax=invoice.tax,
                total=invoice.total,
                events=sum(line.events for line in invoice.lines),
            )
        )
    return summaries


def client_from_update(
    client_id: str, update: ClientUpdate, existing: Client | None, defaults: BillingDefaults, now: datetime
) -> Client:
    """The new version of a client record.

    ``clients`` is a ReplacingMergeTree(updated_at): the version with the highest
    ``updated_at`` wins, so it must grow even if the clock repeats or steps back, and
    ``created_at`` is carried over from the version it replaces.
    """
    updated_at = now
    if existing is not None and updated_at <= existing.updated_at:
        updated_at = existing.updated_at + _ONE_TICK
    return Client(
        client_id=client_id,
        name=update.name,
        markup_percent=trim(
            update.markup_percent if update.markup_percent is not None else defaults.default_markup_percent
        ),
        monthly_budget=round_cents(update.monthly_budget) if update.monthly_budget is not None else None,
        alert_thresholds=[trim(t) for t in update.alert_thresholds],
        notify=list(update.notify),
        budget_basis=update.budget_basis or (existing.budget_basis if existing is not None else "billed"),
        created_at=existing.created_at if existing is not None else now,
        updated_at=updated_at,
    )
