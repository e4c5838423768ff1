"""Documents from the invoice the API computes (``schemas.Invoice``) plus who it is from and to.

Numbers, dates and status come from the caller: a draft has none; an issued invoice
brings its own. Who it is to and its tax line come from the invoice (computed with the
draft, frozen at issue); a caller may give other billing details or a rate (a preview),
and only then is tax computed here.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from libs.common.money import tax_of
from services.invoicing.documents.model import DocumentLine, DocumentStatus, InvoiceDocument, UsageBucket
from services.invoicing.domain import BUCKETS
from services.invoicing.parties import AgencyProfile, BillingDetails
from services.invoicing.schemas import Invoice, InvoiceLine

__all__ = ["document_from_invoice", "line_from_invoice_line"]


def line_from_invoice_line(line: InvoiceLine, service_period: str, *, kind: str = "usage") -> DocumentLine:
    prices = line.unit_prices
    buckets = [
        UsageBucket(label=label, tokens=getattr(line, tokens), price_per_mtok=getattr(prices, price))
        for label, tokens, price in BUCKETS
        if getattr(line, tokens)
    ]
    return DocumentLine(
        kind=kind,  # type: ignore[arg-type]
        provider=line.provider,
        model=line.model,
        service_period=service_period,
        buckets=buckets,
        amount=line.amount,
        price_note=f"Price tier: {line.price.tier}" if line.price.tier else "",
    )


def document_from_invoice(
    invoice: Invoice,
    *,
    agency: AgencyProfile,
    billing: BillingDetails | None = None,
    tax_percent: Decimal | None = None,
    status: DocumentStatus = "draft",
    number: str | None = None,
    issue_date: date | None = None,
    due_date: date | None = None,
) -> InvoiceDocument:
    """The document of a computed invoice; a draft unless a number and status are given."""
    taxable = invoice.base_cost + invoice.markup
    if tax_percent is not None:
        tax = tax_of(taxable, tax_percent)
    else:  # the invoice's own tax, as computed (a draft) or frozen (issued): never recomputed
        tax_percent, tax = invoice.tax_percent, invoice.tax
    if billing is None:
        billing = BillingDetails(**invoice.bill_to.model_dump(), tax_label=invoice.tax_label or "Tax")
    return InvoiceDocument(
        status=status,
        number=number,
        client_id=invoice.client_id,
        client_name=invoice.name,
        period=invoice.period,
        issue_date=issue_date,
        due_date=due_date,
        as_of=invoice.generated_at,
        currency=invoice.currency,
        agency=agency,
        billing=billing,
        lines=[line_from_invoice_line(line, invoice.period) for line in invoice.lines],
        base_cost=invoice.base_cost,
        markup_percent=invoice.markup_percent,
        markup=invoice.markup,
        tax_percent=tax_percent,
        tax=tax,
        total=taxable + tax,
    )
