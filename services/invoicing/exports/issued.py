"""Accounting documents from what PostgreSQL holds: only issued (or paid, or void) documents exist
there, so an export can never carry a draft; the exporters leave void ones out."""

from __future__ import annotations

from services.invoicing.documents.build import document_from_invoice, line_from_invoice_line
from services.invoicing.documents.model import InvoiceDocument
from services.invoicing.issuing import document_invoice
from services.invoicing.ledger import StoredDocument
from services.invoicing.parties import AgencyProfile

__all__ = ["document_of"]


def document_of(stored: StoredDocument, agency: AgencyProfile) -> InvoiceDocument:
    """The frozen invoice or credit note as a document, with its number, dates, lines and lifecycle."""
    invoice = document_invoice(stored)
    document = document_from_invoice(
        invoice, agency=agency, status=stored.status,  # type: ignore[arg-type]
        number=stored.number, issue_date=stored.issued_at.date(), due_date=stored.due_date)
    lines = [line_from_invoice_line(line, line.service_period or invoice.period, kind=line.kind)
             for line in invoice.lines]
    return document.model_copy(update={
        "kind": stored.kind, "credits_number": stored.credits_number, "void_reason": stored.void_reason,
        "lines": lines, "as_of": stored.usage_cutoff})
