"""Every client's month in one pass, to the cent of each client's own invoice, without building invoices.

``GET /v1/clients/{id}/invoices/{period}`` builds one invoice: its lines (each rounded
half-up to cents), adjustment lines for earlier issued months that changed since, the
markup on their sum. The overview needs only the sums, for every client, so this module
takes the same rules to their totals:

- an issued (not void) invoice of the month: its frozen ``base_cost`` and ``markup``;
- a draft: ``base_cost`` = the month's lines, each rounded to cents, plus, per earlier
  month with an invoice that counts, what the month should cost now (its lines rounded)
  minus what documents billed for it, when that is not negative (a negative change is a
  credit note, not a line of the draft: ``InvoiceDesk.pending``); ``markup`` on that base.

One case is left to the invoice itself (``needs_draft``): a month without a live invoice
whose usage other documents already billed (its invoice was voided after a credit note
or an adjustment billed part of it); the draft then nets per line, which sums cannot.
Pure functions: the caller reads ClickHouse and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from libs.common.money import markup_of, round_cents
from libs.common.periods import Period
from libs.common.settings import BillingDefaults
from services.invoicing.amounts import trim
from services.invoicing.ledger import BilledDocument
from services.invoicing.domain import ClientTerms, LineCosts
from services.invoicing.schemas import ClientMonthTotals, Invoice

__all__ = ["MonthTotals", "adjusted_months", "month_totals"]

_ZERO = Decimal("0.00")


@dataclass(frozen=True, slots=True)
class MonthTotals:
    totals: list[ClientMonthTotals]
    needs_draft: list[str]
    """Clients whose draft nets usage other documents billed: ask ``InvoiceDesk.pending`` for them."""


def adjusted_months(period: Period, documents: Iterable[BilledDocument]) -> list[Period]:
    """The months before ``period`` with an invoice that counts: their live lines are needed too."""
    return sorted({Period.parse(d.period) for d in documents
                   if d.kind == "invoice" and d.status != "void" and d.period < str(period)})


def _rounded(lines: LineCosts | None) -> Decimal:
    return sum((round_cents(cost) for cost in lines.costs), _ZERO) if lines is not None else _ZERO


def _last_month_status(documents: Sequence[BilledDocument], record: ClientTerms | None, previous: Period,
                       now: datetime) -> str:
    statuses = {d.status for d in documents if d.kind == "invoice" and d.period == str(previous)}
    for status in ("paid", "issued", "void"):
        if status in statuses:
            return status
    if record is None or record.created_at >= previous.end:
        return "none"
    return "draft" if previous.is_closed(now) else "open"


def month_totals(
    *,
    period: Period,
    now: datetime,
    lines: Mapping[tuple[str, str], LineCosts],
    clients: Iterable[ClientTerms],
    documents: Iterable[BilledDocument],
    defaults: BillingDefaults,
    drafts: Mapping[str, Invoice] | None = None,
) -> MonthTotals:
    """Each client's month: the issued invoice's totals, else the draft's (see the module's rules).

    ``drafts``: the drafts of the clients a first call put in ``needs_draft``."""
    month, previous = str(period), period.previous()
    records = {c.client_id: c for c in clients}
    by_client: dict[str, list[BilledDocument]] = {}
    for document in documents:
        by_client.setdefault(document.client_id, []).append(document)
    end = period.end
    client_ids = ({cid for cid, m in lines if m == month} | {cid for cid, c in records.items() if c.created_at < end}
                  | {cid for cid, docs in by_client.items() if any(d.status != "void" for d in docs)})
    totals, needs_draft = [], []
    for client_id in sorted(client_ids):
        docs = by_client.get(client_id, [])
        record = records.get(client_id)
        live = [d for d in docs if d.kind == "invoice" and d.period == month and d.status != "void"]
        counted = [d for d in docs if d.status != "void"]
        own = lines.get((client_id, month))
        events = own.events if own is not None else 0
        if live and live[0].amounts is not None:
            invoice, frozen = live[0], live[0].amounts
            base, markup_percent = frozen.base_cost or _ZERO, frozen.markup_percent or _ZERO
            name, status, number = frozen.name, invoice.status, invoice.number
            margin = frozen.markup if frozen.markup is not None else markup_of(base, markup_percent)
        else:
            draft = (drafts or {}).get(client_id)
            if draft is None and any(d.billed_by_month.get(month) is not None for d in counted):
                needs_draft.append(client_id)
                continue
            base = _rounded(own) if draft is None else draft.base_cost
            for earlier in sorted({d.period for d in counted if d.kind == "invoice" and d.period < month}
                                  if draft is None else ()):
                billed = sum((d.billed_by_month.get(earlier, _ZERO) for d in counted), _ZERO)
                change = _rounded(lines.get((client_id, earlier))) - billed
                if change >= 0:  # a negative change is a credit note, not a line of this draft
                    base += change
            if record is None and own is None and base == 0:
                continue  # no record, nothing to bill: the invoice would be a 404
            markup_percent = record.markup_percent if record is not None else defaults.default_markup_percent
            margin = markup_of(base, markup_percent)
            name, status, number = (record.name if record is not None else None), "draft", None
        totals.append(ClientMonthTotals(
            client_id=client_id, name=name, events=events, cost=base, markup_percent=trim(markup_percent),
            margin=margin, billed=base + margin, invoice_status=status, invoice_number=number,  # type: ignore[arg-type]
            last_month_invoice_status=_last_month_status(docs, record, previous, now),  # type: ignore[arg-type]
            monthly_budget=record.monthly_budget if record is not None else None,
            budget_basis=record.budget_basis if record is not None else "cost"))  # type: ignore[arg-type]
    return MonthTotals(totals, needs_draft)
