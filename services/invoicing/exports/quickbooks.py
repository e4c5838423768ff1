"""QuickBooks Online's invoice import (New > Import invoices) and credit note import (Import credit notes).

The invoice header is QuickBooks' US sample file (``*InvoiceNo``, ``*Customer``, …,
``Item(Product/Service)``, ``*ItemAmount``, ``Taxable``, ``TaxRate``, ``Service Date``).
Every row carries quantity 1 and the line's amount as rate and amount, so QuickBooks books
exactly the PDF's amounts; ``Taxable`` comes from the mapping (``N`` by default, as
TokenTally's own tax is a line of its own).

Credit notes go in a file of their own, with positive amounts: QuickBooks refuses an
invoice whose total is negative, and books a credit note (credit memo) as a positive
amount owed back. Its columns are the invoice file's, renamed for a credit note
(``*CreditNoteNo``, ``*CreditNoteDate``; no due date or terms); QuickBooks' import asks
which column is which, so the names only need to be clear.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from libs.common.periods import Period
from services.invoicing.documents.model import InvoiceDocument
from services.invoicing.exports.csvtext import amount, cell, csv_bytes
from services.invoicing.exports.lines import accounting_lines
from services.invoicing.exports.mapping import AccountingMapping
from services.invoicing.exports.ordering import in_file_order

__all__ = ["QUICKBOOKS_CREDIT_NOTE_HEADER", "QUICKBOOKS_HEADER", "quickbooks_credit_notes_csv",
           "quickbooks_invoices_csv"]

QUICKBOOKS_HEADER = (
    "*InvoiceNo", "*Customer", "*InvoiceDate", "*DueDate", "Terms", "Location", "Memo",
    "Item(Product/Service)", "ItemDescription", "ItemQuantity", "ItemRate", "*ItemAmount",
    "Taxable", "TaxRate", "Service Date",
)
QUICKBOOKS_CREDIT_NOTE_HEADER = (
    "*CreditNoteNo", "*Customer", "*CreditNoteDate", "Location", "Memo",
    "Item(Product/Service)", "ItemDescription", "ItemQuantity", "ItemRate", "*ItemAmount",
    "Taxable", "TaxRate", "Service Date",
)


def _last_day(period: str) -> date:
    return date.fromordinal(Period.parse(period).end.date().toordinal() - 1)


def _memo(document: InvoiceDocument) -> str:
    parts = [f"AI usage {document.period_label}"]
    if document.billing.po_number:
        parts.append(f"PO {document.billing.po_number}")
    if document.credits_number:
        parts.append(f"credit for {document.credits_number}")
    return ", ".join(parts)


def _terms(document: InvoiceDocument) -> str:
    """``Net 14``: the document's own due date (not the agency's terms now, which may have changed since)."""
    if document.kind != "invoice" or document.issue_date is None or document.due_date is None:
        return ""
    return f"Net {(document.due_date - document.issue_date).days}"


def _rows(document: InvoiceDocument, mapping: AccountingMapping) -> list[list[str]]:
    """An invoice's rows, or a credit note's (its amounts positive, no due date or terms)."""
    fmt = mapping.strftime
    issue = document.issue_date
    due = document.due_date or issue
    credit = document.kind == "credit_note"
    head = [cell(document.number or ""), cell(document.bill_to_name), issue.strftime(fmt) if issue else ""]
    if not credit:
        head += [due.strftime(fmt) if due else "", _terms(document)]
    head += ["", cell(_memo(document))]
    rows = []
    for line in accounting_lines(document):
        codes = mapping.resolve(line.kind, line.provider, line.model)
        value = amount(-line.amount if credit else line.amount)
        rows.append([
            *head, cell(codes.item_code), cell(line.description), "1", value, value,
            cell(codes.tax_type), "", _last_day(line.service_period).strftime(fmt),
        ])
    return rows


def quickbooks_invoices_csv(documents: Iterable[InvoiceDocument], mapping: AccountingMapping) -> bytes:
    """Issued invoices as one QuickBooks invoice import file (credit notes: ``quickbooks_credit_notes_csv``);
    drafts are refused."""
    chosen = [doc for doc in in_file_order(documents) if doc.kind == "invoice"]
    return csv_bytes(QUICKBOOKS_HEADER, (row for doc in chosen for row in _rows(doc, mapping)))


def quickbooks_credit_notes_csv(documents: Iterable[InvoiceDocument], mapping: AccountingMapping) -> bytes:
    """Issued credit notes as one QuickBooks credit note import file, amounts positive."""
    chosen = [doc for doc in in_file_order(documents) if doc.kind == "credit_note"]
    return csv_bytes(QUICKBOOKS_CREDIT_NOTE_HEADER, (row for doc in chosen for row in _rows(doc, mapping)))
