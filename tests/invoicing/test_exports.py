"""Xero and QuickBooks import files: template headers, one row per line, sums, mapping, repeatability."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from decimal import Decimal

import pytest
from pydantic import ValidationError

from libs.common.errors import InvalidInput
from services.invoicing.documents.model import InvoiceDocument
from services.invoicing.exports.mapping import AccountingCodes, AccountingMapping, MappingRule, default_mapping
from services.invoicing.exports.quickbooks import (
    QUICKBOOKS_CREDIT_NOTE_HEADER,
    QUICKBOOKS_HEADER,
    quickbooks_credit_notes_csv,
    quickbooks_invoices_csv,
)
from services.invoicing.exports.xero import XERO_HEADER, xero_invoices_csv
from tests.invoicing.factories import usage, worked_document, worked_invoice
from tests.invoicing.test_documents import with_adjustment


def parse(data: bytes) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.reader(io.StringIO(data.decode("utf-8"), newline=""))
    header = next(reader)
    return header, [dict(zip(header, row, strict=True)) for row in reader]


def documents() -> list[InvoiceDocument]:
    """Three issued documents: the brief's invoice, one with tax and an adjustment, a credit note."""
    other = worked_invoice([usage("openai", "gpt-4o-mini", input_tokens=3_000_000, input_per_mtok="0.15")], "globex")
    return [
        worked_document(),
        with_adjustment(worked_document(
            number="TT-2026-000124", invoice=other, tax_percent=Decimal("20"), tax_label="VAT",
            billing_name="Globex GmbH", po_number="")),
        worked_document(number="CN-2026-000001").model_copy(
            update={"kind": "credit_note", "credits_number": "TT-2026-000099"}),
    ]


def sums(rows: list[dict[str, str]], number: str, amount: str) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        totals[row[number]] += Decimal(row[amount])
    return dict(totals)


def test_xero_file_has_the_template_header_and_sums_to_each_total() -> None:
    docs = documents()
    header, rows = parse(xero_invoices_csv(docs, default_mapping("xero")))

    assert header == list(XERO_HEADER)
    assert header[:2] == ["*ContactName", "EmailAddress"] and "*InvoiceNumber" in header and "*TaxType" in header
    by_number = {d.number: d for d in docs}
    # invoices first, credit notes after, each by number
    assert [r["*InvoiceNumber"] for r in rows] == ["TT-2026-000123"] * 4 + ["TT-2026-000124"] * 4 + ["CN-2026-000001"] * 4
    assert all(Decimal(r["*Quantity"]) == 1 for r in rows)
    assert sums(rows, "*InvoiceNumber", "*UnitAmount") == {
        "TT-2026-000123": Decimal("10.60"), "TT-2026-000124": by_number["TT-2026-000124"].total,
        "CN-2026-000001": Decimal("-10.60"),  # a credit note is negative: Xero imports it as one
    }
    first = rows[0]
    assert first["*Description"] == "openai gpt-4o: 2,100,000 tokens @ $2.50/1M = $5.25"
    assert (first["*ContactName"], first["EmailAddress"], first["POAddressLine1"], first["POCity"]) == (
        "Acme Corporation Ltd", "ap@acme.example", "1 Market Square", "London")
    assert (first["POPostalCode"], first["POCountry"], first["Currency"]) == ("EC1A 1BB", "GB", "USD")
    assert (first["*InvoiceDate"], first["*DueDate"], first["Reference"]) == ("02/12/2026", "01/01/2027", "PO-4471")
    assert (first["*AccountCode"], first["*TaxType"], first["InventoryItemCode"]) == ("200", "", "")
    assert rows[3]["*Description"] == "Service markup (25%) on AI cost $8.48" and rows[3]["*UnitAmount"] == "2.12"

    globex = [r for r in rows if r["*InvoiceNumber"] == "TT-2026-000124"]
    assert globex[1]["*Description"] == (
        "Usage adjustment for October 2026 — openai gpt-4o: 120,000 tokens @ $2.50/1M = $0.30")
    assert (globex[3]["*Description"], globex[3]["*AccountCode"]) == ("VAT (20%)", "820")
    assert globex[0]["Reference"] == "AI usage November 2026"
    assert rows[-1]["Reference"] == "Credit for TT-2026-000099"


def test_quickbooks_file_has_the_template_header_and_sums_to_each_total() -> None:
    docs = documents()
    header, rows = parse(quickbooks_invoices_csv(docs, default_mapping("quickbooks")))

    assert header == list(QUICKBOOKS_HEADER)
    assert {"*InvoiceNo", "*Customer", "Item(Product/Service)", "ItemDescription", "*ItemAmount"} <= set(header)
    # invoices only: QuickBooks refuses a negative invoice; credit notes have their own file, positive
    assert sums(rows, "*InvoiceNo", "*ItemAmount") == {d.number: d.total for d in docs if d.kind == "invoice"}
    assert all(r["ItemRate"] == r["*ItemAmount"] and r["ItemQuantity"] == "1" for r in rows)
    first = rows[0]
    assert (first["*InvoiceNo"], first["*Customer"], first["*InvoiceDate"], first["*DueDate"]) == (
        "TT-2026-000123", "Acme Corporation Ltd", "12/02/2026", "01/01/2027")
    assert (first["Terms"], first["Memo"], first["Service Date"]) == ("Net 30", "AI usage November 2026, PO PO-4471",
                                                                      "11/30/2026")
    assert [r["Item(Product/Service)"] for r in rows[:4]] == ["AI usage"] * 3 + ["Service markup"]
    adjustment = [r for r in rows if r["ItemDescription"].startswith("Usage adjustment")][0]
    assert (adjustment["Item(Product/Service)"], adjustment["Service Date"]) == ("AI usage adjustment", "10/31/2026")
    assert [r["Item(Product/Service)"] for r in rows if r["ItemDescription"] == "VAT (20%)"] == ["Sales tax"]
    assert {r["Taxable"] for r in rows} == {"N"}

    header, notes = parse(quickbooks_credit_notes_csv(docs, default_mapping("quickbooks")))
    assert header == list(QUICKBOOKS_CREDIT_NOTE_HEADER)
    assert sums(notes, "*CreditNoteNo", "*ItemAmount") == {"CN-2026-000001": Decimal("10.60")}
    assert (notes[0]["*CreditNoteDate"], notes[0]["Memo"]) == (
        "12/02/2026", "AI usage November 2026, PO PO-4471, credit for TT-2026-000099")


def test_an_export_is_the_same_bytes_whatever_order_the_documents_come_in() -> None:
    docs = documents()
    for export, system in ((xero_invoices_csv, "xero"), (quickbooks_invoices_csv, "quickbooks")):
        mapping = default_mapping(system)  # type: ignore[arg-type]
        assert export(docs, mapping) == export(list(reversed(docs)), mapping) == export(docs, mapping)


def test_a_mapping_change_shows_in_the_next_export() -> None:
    docs = documents()
    before = parse(xero_invoices_csv(docs, default_mapping("xero")))[1]
    mapping = AccountingMapping(
        fallback=AccountingCodes(item_code="AI", account_code="260", tax_type="Tax Exempt"),
        defaults={"markup": AccountingCodes(account_code="270"), "tax": AccountingCodes(account_code="820")},
        rules=[
            MappingRule(provider="openai", account_code="201"),
            MappingRule(provider="openai", model="gpt-4o", item_code="GPT-4O"),
            MappingRule(kind="adjustment", provider="openai", account_code="205"),
        ],
    )
    after = parse(xero_invoices_csv(docs, mapping))[1]

    def codes(rows: list[dict[str, str]], number: str) -> list[tuple[str, str, str]]:
        return [(r["InventoryItemCode"], r["*AccountCode"], r["*TaxType"]) for r in rows if r["*InvoiceNumber"] == number]

    assert codes(before, "TT-2026-000123") == [("", "200", "")] * 4
    assert codes(after, "TT-2026-000123") == [
        ("GPT-4O", "201", "Tax Exempt"),  # model rule, over the provider rule, over the fallback
        ("AI", "260", "Tax Exempt"),      # anthropic: no rule, the fallback
        ("AI", "260", "Tax Exempt"),      # google
        ("AI", "270", "Tax Exempt"),      # markup default
    ]
    assert codes(after, "TT-2026-000124") == [
        ("AI", "201", "Tax Exempt"), ("AI", "205", "Tax Exempt"), ("AI", "270", "Tax Exempt"), ("AI", "820", "Tax Exempt"),
    ]
    assert after[0]["*InvoiceDate"] == "2026-12-02"  # the mapping's date format


def test_mapping_validation() -> None:
    with pytest.raises(ValidationError, match="fallback must set account_code, tax_type"):
        AccountingMapping(fallback=AccountingCodes(item_code="AI"))
    with pytest.raises(ValidationError, match="two rules for usage openai gpt-4o"):
        AccountingMapping(
            fallback=AccountingCodes(item_code="", account_code="200", tax_type=""),
            rules=[MappingRule(provider="openai", model="gpt-4o", item_code="A"),
                   MappingRule(provider="openai", model="gpt-4o", item_code="B")],
        )
    with pytest.raises(ValidationError):
        AccountingMapping.model_validate({"fallback": {"item_code": "", "account_code": "", "tax_type": ""},
                                          "defaults": {"discount": {}}})


def test_drafts_are_refused_and_void_invoices_left_out() -> None:
    with pytest.raises(InvalidInput, match="draft invoice of acme for 2026-11 cannot be exported"):
        xero_invoices_csv([worked_document(number=None)], default_mapping("xero"))

    void = worked_document(number="TT-2026-000125").model_copy(update={"status": "void", "void_reason": "wrong client"})
    _, rows = parse(quickbooks_invoices_csv([worked_document(), void], default_mapping("quickbooks")))
    assert {r["*InvoiceNo"] for r in rows} == {"TT-2026-000123"}


def test_text_a_spreadsheet_would_run_is_neutralised() -> None:
    document = worked_document(billing_name="=HYPERLINK(\"http://evil\")", email="+1@example.com")
    _, rows = parse(xero_invoices_csv([document], default_mapping("xero")))

    assert rows[0]["*ContactName"] == "'=HYPERLINK(\"http://evil\")"
    assert rows[0]["EmailAddress"] == "'+1@example.com"
    assert rows[0]["*UnitAmount"] == "5.25"  # amounts are never quoted


def test_the_export_routes_are_documented_for_accounting_tools() -> None:
    from pydantic import SecretStr

    from libs.common.settings import AuthSettings
    from services.invoicing.app import create_app
    from services.invoicing.settings import InvoicingSettings

    spec = create_app(InvoicingSettings(auth=AuthSettings(api_keys=SecretStr("[]")))).openapi()
    paths = spec["paths"]
    assert "/v1/exports/{system}" not in paths  # the old route is gone
    operations = {
        ("get", "/v1/exports/{system}/invoices.csv"), ("get", "/v1/exports/quickbooks/credit_notes.csv"),
        ("get", "/v1/exports/{system}/mapping"), ("put", "/v1/exports/{system}/mapping"),
    }
    for method, path in operations:
        operation = paths[path][method]
        assert operation["tags"] == ["exports"] and operation["summary"] and len(operation["description"]) > 100
        assert {"401", "403", "422"} <= set(operation["responses"])
    [period] = [p for p in paths["/v1/exports/{system}/invoices.csv"]["get"]["parameters"] if p["name"] == "period"]
    assert period["required"] and period["schema"]["pattern"].startswith("^(19")
    csv_content = paths["/v1/exports/{system}/invoices.csv"]["get"]["responses"]["200"]["content"]["text/csv"]
    assert set(csv_content["examples"]) == {"xero", "quickbooks"}
    assert csv_content["examples"]["xero"]["value"].startswith("*ContactName,EmailAddress,")
    put = paths["/v1/exports/{system}/mapping"]["put"]
    assert set(put["requestBody"]["content"]["application/json"]["examples"]) == {"xero", "quickbooks"}
    assert "409" in put["responses"]  # Idempotency-Key reused with another body
    # the examples are valid mappings
    for example in put["requestBody"]["content"]["application/json"]["examples"].values():
        AccountingMapping.model_validate(example["value"])
