"""Accounting exports (admin): Xero and QuickBooks Online import files, and the codes their lines map to."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Response

from libs.common.api import ErrorBody, error_responses
from services.invoicing.api.deps import AdminCaller, Exports, PeriodQuery
from services.invoicing.exports.mapping import (
    QUICKBOOKS_EXAMPLE,
    XERO_EXAMPLE,
    AccountingMapping,
    AccountingMappingOut,
    AccountingSystem,
)
from services.invoicing.exports.service import ExportBasis

router = APIRouter(prefix="/v1/exports", tags=["exports"])

System = Annotated[AccountingSystem, Path(description="`xero` or `quickbooks` (QuickBooks Online).")]
Basis = Annotated[ExportBasis, Query(description=(
    "`issued` (default): the documents issued in the month (their invoice date is in it), each in exactly one "
    "month's file. `service`: the documents for the month's usage (a credit note's month is the one it credits)."))]

_XERO_SAMPLE = (
    "*ContactName,EmailAddress,POAddressLine1,...,*InvoiceNumber,Reference,*InvoiceDate,*DueDate,InventoryItemCode,"
    "*Description,*Quantity,*UnitAmount,Discount,*AccountCode,*TaxType,...,Currency,BrandingTheme\r\n"
    "Acme Corporation Ltd,ap@acme.example,1 Market Square,...,TT-2026-000123,PO-4471,02/12/2026,16/12/2026,,"
    "\"openai gpt-4o: 2,100,000 tokens @ $2.50/1M = $5.25\",1,5.25,,200,,...,USD,\r\n"
    "...\r\n"
    "Acme Corporation Ltd,ap@acme.example,1 Market Square,...,TT-2026-000123,PO-4471,02/12/2026,16/12/2026,,"
    "Service markup (25%) on AI cost $8.48,1,2.12,,200,,...,USD,\r\n"
)
_QUICKBOOKS_SAMPLE = (
    "*InvoiceNo,*Customer,*InvoiceDate,*DueDate,Terms,Location,Memo,Item(Product/Service),ItemDescription,"
    "ItemQuantity,ItemRate,*ItemAmount,Taxable,TaxRate,Service Date\r\n"
    "TT-2026-000123,Acme Corporation Ltd,12/02/2026,12/16/2026,Net 14,,\"AI usage November 2026, PO PO-4471\","
    "AI usage,\"openai gpt-4o: 2,100,000 tokens @ $2.50/1M = $5.25\",1,5.25,5.25,N,,11/30/2026\r\n"
)
_QUICKBOOKS_CREDIT_SAMPLE = (
    "*CreditNoteNo,*Customer,*CreditNoteDate,Location,Memo,Item(Product/Service),ItemDescription,ItemQuantity,"
    "ItemRate,*ItemAmount,Taxable,TaxRate,Service Date\r\n"
    "CN-2026-000001,Acme Corporation Ltd,12/02/2026,,\"AI usage October 2026, credit for TT-2026-000099\","
    "AI usage adjustment,\"Usage adjustment for October 2026 — google gemini-1.5-pro: -450,000 tokens @ $1.25/1M"
    " = -$0.56\",1,0.56,0.56,N,,10/31/2026\r\n"
    "CN-2026-000001,Acme Corporation Ltd,12/02/2026,,\"AI usage October 2026, credit for TT-2026-000099\","
    "Service markup,Service markup (25%) on AI cost -$0.56,1,0.14,0.14,N,,10/31/2026\r\n"
)


def _csv(body: bytes, filename: str) -> Response:
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get(
    "/{system}/invoices.csv",
    summary="A month's invoices (and Xero's credit notes) as a Xero or QuickBooks import file",
    response_class=Response,
    responses={
        200: {"description": "The import file: UTF-8 CSV without a byte-order mark, CRLF line ends, the system's "
                             "template header, one row per line.",
              "content": {"text/csv": {"schema": {"type": "string"}, "examples": {
                  "xero": {"summary": "Xero (abridged)", "value": _XERO_SAMPLE},
                  "quickbooks": {"summary": "QuickBooks Online (abridged)", "value": _QUICKBOOKS_SAMPLE}}}}},
        **error_responses(401, 403, 422),
    },
)
async def invoices_csv(system: System, period: PeriodQuery, _: AdminCaller, exports: Exports,
                       basis: Basis = "issued") -> Response:
    """The issued invoices of a month (admin), in the accounting system's own import template; Xero's file
    carries the month's credit notes too (QuickBooks': `GET /v1/exports/quickbooks/credit_notes.csv`).

    - **Which documents**: issued and paid ones (`basis` says issued in the month, the default, or for its
      usage); never a draft, never a void one (neither import can create a voided invoice: void it there
      by hand if it was imported before it was voided).
    - **Lines**: one row per invoice line (usage by provider x model x price row, then adjustment lines with
      their service month), then the service markup, then the tax line when the client has a tax rate. Each
      row has quantity 1 and the line's billed amount as its unit amount, so the rows of a document sum to
      its total, to the cent. Descriptions carry the checkable `tokens @ price = amount` text.
    - **Credit notes** (Xero) are written with negative amounts under their own number (`CN-...`), with
      `Credit for <invoice number>` as `Reference`; Xero imports a negative document as a credit note.
      QuickBooks refuses an invoice with a negative total, so its credit notes are a file of their own.
    - **Codes**: each row's item code, account code and tax type come from the agency's mapping for the
      system (`PUT /v1/exports/{system}/mapping`), the defaults until one is set.
    - **Xero**: import under Business > Invoices > Import and choose *Tax exclusive* (the tax is a line
      of its own). **QuickBooks Online**: New > Import invoices; `Taxable` is the mapping's tax type (`N` by default).
    - **Repeatable**: the same month exported again is the same bytes, unless a document was voided or
      the mapping changed in between (paying an invoice does not change the file).
    """
    file = await exports.export_file(system, "invoices", period, basis)
    return _csv(file.body, file.filename)


@router.get(
    "/quickbooks/credit_notes.csv",
    summary="A month's credit notes as a QuickBooks Online credit note import file",
    response_class=Response,
    responses={
        200: {"description": "The import file: UTF-8 CSV without a byte-order mark, CRLF line ends, one row per "
                             "line, amounts positive.",
              "content": {"text/csv": {"schema": {"type": "string"}, "example": _QUICKBOOKS_CREDIT_SAMPLE}}},
        **error_responses(401, 403, 422),
    },
)
async def quickbooks_credit_notes_csv(period: PeriodQuery, _: AdminCaller, exports: Exports,
                                      basis: Basis = "issued") -> Response:
    """The issued credit notes of a month (admin) for QuickBooks Online's *Import credit notes*
    (Gear > Import data > Credit notes).

    The same rows as the invoice file (usage adjustment lines, the markup on them, the tax line), with
    positive amounts: a credit note is what is owed back. `*CreditNoteNo` is the credit note's own number,
    the `Memo` names the invoice it credits. Documents, codes and repeatability as in
    `GET /v1/exports/quickbooks/invoices.csv`.
    """
    file = await exports.export_file("quickbooks", "credit_notes", period, basis)
    return _csv(file.body, file.filename)


@router.get(
    "/{system}/mapping", response_model=AccountingMappingOut, summary="The codes the export's lines map to",
    responses=error_responses(401, 403, 422),
)
async def get_mapping(system: System, _: AdminCaller, exports: Exports) -> AccountingMappingOut:
    """The agency's mapping for the system (admin): `source: default` and the defaults until one is PUT.

    Xero's defaults book every line to account `200` (Sales) and the tax line to `820`, with no item and
    the account's own tax rate; QuickBooks' name the products `AI usage`, `AI usage adjustment`,
    `Service markup` and `Sales tax`, not taxable.
    """
    return await exports.mapping(system)


@router.put(
    "/{system}/mapping", response_model=AccountingMappingOut, summary="Set the codes the export's lines map to",
    responses={**error_responses(401, 403, 422), 409: {
        "model": ErrorBody, "description": "The `Idempotency-Key` was used with a different request, or its first "
                                           "request is still running."}},
)
async def put_mapping(
    system: System, _: AdminCaller, exports: Exports,
    body: Annotated[AccountingMapping, Body(openapi_examples={
        "xero": {"summary": "Xero: revenue accounts per kind, one model to its own item", "value": XERO_EXAMPLE},
        "quickbooks": {"summary": "QuickBooks Online: products by name", "value": QUICKBOOKS_EXAMPLE},
    })],
) -> AccountingMappingOut:
    """Replace the agency's mapping for the system (admin); the next export uses it.

    Each of a line's three codes (`item_code`, `account_code`, `tax_type`) is resolved on its own, most
    specific first: a rule for the line's kind, provider and model; a rule for its kind and provider
    (`model` left out); the default for its kind (`usage`, `adjustment`, `markup`, `tax`); the `fallback`,
    which must set all three (`""` for an empty column). `date_format` must match the accounting
    organisation's region. A 422 names the field at fault; nothing is stored then. Takes an
    `Idempotency-Key` header: a retry with the same key and body gets the first answer.
    """
    return await exports.set_mapping(system, body)
