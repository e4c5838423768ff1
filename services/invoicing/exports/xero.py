"""Xero's sales invoice import (Business > Invoices > Import), one row per line.

The header is Xero's own template (``SalesInvoiceTemplate.csv``), asterisks included.
Rows of one invoice repeat its contact, number and dates; Xero groups them by
``*InvoiceNumber``. A credit note is written with negative amounts, which Xero imports
as a credit note. Amounts are tax exclusive (choose "Tax exclusive" when importing):
TokenTally's own tax is a line of its own, so the file sums to each document's total.
"""

from __future__ import annotations

from collections.abc import Iterable

from services.invoicing.documents.model import InvoiceDocument
from services.invoicing.exports.csvtext import amount, cell, csv_bytes
from services.invoicing.exports.lines import accounting_lines
from services.invoicing.exports.mapping import AccountingMapping
from services.invoicing.exports.ordering import in_file_order

__all__ = ["XERO_HEADER", "xero_invoices_csv"]

XERO_HEADER = (
    "*ContactName", "EmailAddress", "POAddressLine1", "POAddressLine2", "POAddressLine3", "POAddressLine4",
    "POCity", "PORegion", "POPostalCode", "POCountry", "*InvoiceNumber", "Reference", "*InvoiceDate", "*DueDate",
    "InventoryItemCode", "*Description", "*Quantity", "*UnitAmount", "Discount", "*AccountCode", "*TaxType",
    "TrackingName1", "TrackingOption1", "TrackingName2", "TrackingOption2", "Currency", "BrandingTheme",
)


def _reference(document: InvoiceDocument) -> str:
    if document.credits_number:
        return f"Credit for {document.credits_number}"
    return document.billing.po_number or f"AI usage {document.period_label}"


def _rows(document: InvoiceDocument, mapping: AccountingMapping) -> list[list[str]]:
    address = document.billing.address
    lines4 = [*address.lines, "", "", "", ""][:4]
    issue = document.issue_date
    due = document.due_date or issue
    head = [
        cell(document.bill_to_name), cell(document.billing.email), *(cell(line) for line in lines4),
        cell(address.city), cell(address.region), cell(address.postal_code), address.country or "",
        cell(document.number or ""), cell(_reference(document)),
        issue.strftime(mapping.strftime) if issue else "", due.strftime(mapping.strftime) if due else "",
    ]
    rows = []
    for line in accounting_lines(document):
        codes = mapping.resolve(line.kind, line.provider, line.model)
        rows.append([
            *head, cell(codes.item_code), cell(line.description), "1", amount(line.amount), "",
            cell(codes.account_code), cell(codes.tax_type), "", "", "", "", document.currency, "",
        ])
    return rows


def xero_invoices_csv(documents: Iterable[InvoiceDocument], mapping: AccountingMapping) -> bytes:
    """Issued documents (invoices and credit notes) as one Xero import file; drafts are refused."""
    return csv_bytes(XERO_HEADER, (row for doc in in_file_order(documents) for row in _rows(doc, mapping)))
