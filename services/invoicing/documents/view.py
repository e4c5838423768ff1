"""The printed words of a document: every label and figure as text, decided in one place.

The template only places these strings, so wording and formatting are unit-testable
without rendering, and the PDF, the browser view and their tests agree by construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date

from babel import Locale
from babel.dates import format_interval

from libs.common.periods import Period
from services.invoicing.documents.formatting import Formatter
from services.invoicing.documents.model import DocumentLine, InvoiceDocument
from services.invoicing.parties import PostalAddress

__all__ = ["DocumentView", "LineView", "TotalRow", "line_usage", "view_of"]


@dataclass(frozen=True, slots=True)
class LineView:
    service: str
    usage: list[str]
    amount: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class TotalRow:
    label: str
    amount: str
    css: str = ""


@dataclass(frozen=True, slots=True)
class Party:
    name: str
    address: list[str]
    email: str = ""
    tax_id: str = ""
    po_number: str = ""
    logo: str | None = None
    footer: str = ""


@dataclass(frozen=True, slots=True)
class DocumentView:
    lang: str
    kind: str
    status: str
    title: str
    number: str | None
    watermark: str
    notice: str
    facts: list[tuple[str, str]]
    agency: Party
    bill_to: Party
    period_label: str
    lines: list[LineView]
    adjustments: list[LineView]
    adjustments_title: str
    totals: list[TotalRow]
    payment: list[str]
    created: str
    page_ref: str


def line_usage(line: DocumentLine, fmt: Formatter) -> list[str]:
    """``2,100,000 tokens @ $2.50/1M``, or one part per token kind when their prices differ."""
    buckets = [b for b in line.buckets if b.tokens]
    if not buckets:
        return ["0 tokens"]
    if len({b.price_per_mtok for b in buckets}) == 1:
        return [f"{fmt.count(line.tokens)} tokens @ {fmt.price(buckets[0].price_per_mtok)}/1M"]
    return [f"{fmt.count(b.tokens)} {b.label} tokens @ {fmt.price(b.price_per_mtok)}/1M" for b in buckets]


def _line_view(line: DocumentLine, fmt: Formatter) -> LineView:
    notes = []
    if line.kind == "adjustment":
        notes.append(f"Usage adjustment for {line.service_label}")
    if line.price_note:
        notes.append(line.price_note)
    return LineView(
        service=f"{line.provider} {line.model}",
        usage=line_usage(line, fmt),
        amount=fmt.money(line.amount),
        note="; ".join(notes),
    )


def _service_period(period: Period, locale: str) -> str:
    last_day = date.fromordinal(period.end.date().toordinal() - 1)
    return format_interval(period.first_day, last_day, skeleton="yMMMd", locale=locale)


def _title(doc: InvoiceDocument) -> str:
    return "Credit note" if doc.kind == "credit_note" else "Invoice"


def _notice(doc: InvoiceDocument) -> str:
    if doc.is_draft:
        return (
            "Draft: not yet issued and not a request for payment. "
            "Amounts may change until the invoice is issued with a number."
        )
    if doc.status == "void":
        return f"Void: {doc.void_reason or 'cancelled'}. This document is not payable."
    if doc.kind == "credit_note":
        return f"Credit note for invoice {doc.credits_number}." if doc.credits_number else "Credit note."
    if doc.status == "paid":
        return "Paid. Thank you."
    return ""


def _facts(doc: InvoiceDocument, fmt: Formatter) -> list[tuple[str, str]]:
    facts: list[tuple[str, str]] = []
    if doc.is_draft:
        facts.append(("As of", fmt.day(doc.as_of.astimezone(UTC).date())))
    if doc.issue_date is not None:
        facts.append(("Issue date", fmt.day(doc.issue_date)))
    if doc.due_date is not None and doc.kind == "invoice":
        facts.append(("Due date", fmt.day(doc.due_date)))
    facts.append(("Service period", _service_period(Period.parse(doc.period), fmt.locale)))
    if doc.credits_number:
        facts.append(("Credits invoice", doc.credits_number))
    if doc.billing.po_number:
        facts.append(("PO number", doc.billing.po_number))
    facts.append(("Currency", doc.currency))
    return facts


def _totals(doc: InvoiceDocument, fmt: Formatter) -> list[TotalRow]:
    rows = [
        TotalRow("Base AI cost", fmt.money(doc.base_cost)),
        TotalRow(f"Service markup ({fmt.percent(doc.markup_percent)}%)", fmt.money(doc.markup)),
    ]
    if doc.tax_percent is not None:
        rows.append(TotalRow("Subtotal", fmt.money(doc.base_cost + doc.markup), "subtotal"))
        rows.append(TotalRow(f"{doc.billing.tax_label} ({fmt.percent(doc.tax_percent)}%)", fmt.money(doc.tax)))
    if doc.kind == "credit_note":
        label = "Total credited"
    elif doc.status == "paid":
        label = "Total paid"
    elif doc.status == "void":
        label = "Total (void)"
    else:
        label = "Total due"
    rows.append(TotalRow(f"{label} ({doc.currency})", fmt.money(doc.total), "total"))
    return rows


def _payment(doc: InvoiceDocument, fmt: Formatter) -> list[str]:
    if doc.kind != "invoice" or doc.status not in ("issued", "draft"):
        return []
    lines = []
    if doc.due_date is not None:
        lines.append(f"Please pay {fmt.money(doc.total)} by {fmt.day(doc.due_date)}, quoting {doc.number}.")
    elif doc.agency.payment_terms_days:
        lines.append(f"Payment terms: {doc.agency.payment_terms_days} days from the issue date.")
    lines.extend(part.strip() for part in doc.agency.bank_details.splitlines() if part.strip())
    return lines


def _address(address: PostalAddress, locale: str) -> list[str]:
    """Printed with the country's name in the document's language (``GB`` → ``United Kingdom``)."""
    country = Locale.parse(locale).territories.get(address.country, address.country) if address.country else ""
    return address.printed(country or "")


def view_of(doc: InvoiceDocument) -> DocumentView:
    """Everything the template prints, as text."""
    fmt = Formatter(doc.currency, doc.agency.locale)
    watermark = {"draft": "DRAFT", "void": "VOID"}.get(doc.status, "")
    agency = doc.agency
    billing = doc.billing
    return DocumentView(
        lang=doc.agency.locale.split("_")[0],
        kind=doc.kind,
        status=doc.status,
        title=_title(doc),
        number=doc.number,
        watermark=watermark,
        notice=_notice(doc),
        facts=_facts(doc, fmt),
        agency=Party(
            name=agency.name, address=_address(agency.address, agency.locale), email=agency.email, tax_id=agency.tax_id,
            logo=agency.logo, footer=agency.footer,
        ),
        bill_to=Party(
            name=doc.bill_to_name, address=_address(billing.address, agency.locale), email=billing.email,
            tax_id=billing.tax_id,
        ),
        period_label=doc.period_label,
        lines=[_line_view(line, fmt) for line in doc.usage_lines],
        adjustments=[_line_view(line, fmt) for line in doc.adjustment_lines],
        adjustments_title=(f"Corrections to invoice {doc.credits_number}" if doc.kind == "credit_note"
                           and doc.credits_number else "Adjustments for earlier months"),
        totals=_totals(doc, fmt),
        payment=_payment(doc, fmt),
        created=doc.as_of.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        page_ref=f"{_title(doc)} {doc.number}" if doc.number else f"Draft, {doc.bill_to_name}, {doc.period_label}",
    )
