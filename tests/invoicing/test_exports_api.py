"""Accounting exports through the API on the real servers: the files of a month's issued documents
(adjustments, a credit note, a void invoice), their sums, repeatability, and the stored mapping."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from libs.common.clickhouse import connect
from services.invoicing.exports.quickbooks import QUICKBOOKS_CREDIT_NOTE_HEADER, QUICKBOOKS_HEADER
from services.invoicing.exports.xero import XERO_HEADER
from services.invoicing.settings import InvoicingSettings
from tests.invoicing.test_api import ACME, ADMIN, MARCH, auth, insert_priced, insert_worked_example, priced
from tests.invoicing.test_issuing import Clock, api, clock, issue, put_acme, settings  # noqa: F401 - fixtures

pytestmark = pytest.mark.integration

FEBRUARY, APRIL, MAY = "2025-02", "2025-04", "2025-05"
COLUMNS = {"xero": ("*InvoiceNumber", "*UnitAmount"), "quickbooks": ("*InvoiceNo", "*ItemAmount"),
           "quickbooks-credit": ("*CreditNoteNo", "*ItemAmount")}

XERO_MAPPING: dict[str, Any] = {
    "fallback": {"item_code": "AI", "account_code": "260", "tax_type": "Tax Exempt"},
    "defaults": {"markup": {"account_code": "270"}, "adjustment": {"account_code": "205"},
                 "tax": {"account_code": "820", "tax_type": ""}},
    "rules": [{"provider": "openai", "account_code": "201"},
              {"provider": "openai", "model": "gpt-4o", "item_code": "GPT-4O"}],
    "date_format": "YYYY-MM-DD",
}


def parse(data: bytes) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.reader(io.StringIO(data.decode("utf-8"), newline=""))
    header = next(reader)
    return header, [dict(zip(header, row, strict=True)) for row in reader]


async def export(api: httpx.AsyncClient, system: str, period: str, basis: str = "issued",
                 kind: str = "invoices") -> httpx.Response:
    reply = await api.get(f"/v1/exports/{system}/{kind}.csv", params={"period": period, "basis": basis},
                          headers=auth(ADMIN))
    assert reply.status_code == 200, reply.text
    return reply


def sums(rows: list[dict[str, str]], system: str) -> dict[str, Decimal]:
    number, amount = COLUMNS[system]
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        totals[row[number]] += Decimal(row[amount])
    return dict(totals)


async def totals(api: httpx.AsyncClient) -> dict[str, Decimal]:
    """Every document's total as the API lists it (credit notes negative)."""
    listing = (await api.get("/v1/invoices", headers=auth(ADMIN))).json()
    return {d["number"]: Decimal(d["total"]) for d in listing}


async def two_months_of_documents(api: httpx.AsyncClient, settings: InvoicingSettings, clock: Clock) -> None:
    """Issued on 2 April: acme's February and March, beta's March (voided on 3 May). Issued on 3 May:
    acme's April, with an adjustment for a late February event, and a credit note for March (usage removed)."""
    await insert_worked_example(settings.clickhouse)
    await put_acme(api)
    clock.now = datetime(2025, 4, 2, 9, tzinfo=UTC)
    for client, month in (("acme", FEBRUARY), ("acme", MARCH), ("beta", MARCH)):
        assert (await issue(api, client, month)).status_code == 200
    await insert_priced(settings.clickhouse, [
        priced("acme", "late-feb", datetime(2025, 2, 20, tzinfo=UTC), "openai", "gpt-4o", input_tokens=120_000,
               input_price="2.50"),
        priced("acme", "april-1", datetime(2025, 4, 3, tzinfo=UTC), "openai", "gpt-4o", input_tokens=4_000_000,
               input_price="2.50"),
    ])
    client = await connect(settings.clickhouse)
    try:  # a correction: the gemini usage was not acme's
        for table in ("usage_totals_monthly", "priced_events"):
            await client.command(f"ALTER TABLE {table} DELETE WHERE client_id = 'acme' AND model = 'gemini-1.5-pro'",
                                 settings={"mutations_sync": 2})
    finally:
        await client.close()
    clock.now = datetime(2025, 5, 3, 9, tzinfo=UTC)
    assert (await issue(api, "acme", APRIL)).status_code == 200
    void = await api.post("/v1/invoices/TT-2025-000003/void", json={"reason": "wrong client"}, headers=auth(ADMIN))
    assert void.status_code == 200


async def test_a_months_files_carry_its_issued_documents_and_sum_to_each_total(
    api: httpx.AsyncClient, settings: InvoicingSettings, clock: Clock
) -> None:
    await two_months_of_documents(api, settings, clock)
    listed = await totals(api)
    assert listed == {"TT-2025-000001": Decimal("3.13"), "TT-2025-000002": Decimal("10.60"),
                      "TT-2025-000003": Decimal("0.01"), "TT-2025-000004": Decimal("16.00"),
                      "CN-2025-000001": Decimal("-0.70")}

    for system, header in (("xero", XERO_HEADER), ("quickbooks", QUICKBOOKS_HEADER)):
        # Xero takes a credit note in the invoice file, negative; QuickBooks in a file of its own, positive
        credit = {"CN-2025-000001": listed["CN-2025-000001"]} if system == "xero" else {}
        got, april = parse((await export(api, system, APRIL)).content)
        assert got == list(header)
        # issued in April: acme's February and March; beta's is void, so not in the file
        assert sums(april, system) == {n: listed[n] for n in ("TT-2025-000001", "TT-2025-000002")}
        got, may = parse((await export(api, system, MAY)).content)
        assert got == list(header)
        # April's invoice (its own usage, the February adjustment, the markup), and Xero's credit note
        assert sums(may, system) == {"TT-2025-000004": listed["TT-2025-000004"], **credit}
        # by service month, March is acme's invoice and the credit note that credits it
        _, march = parse((await export(api, system, MARCH, "service")).content)
        assert sums(march, system) == {"TT-2025-000002": listed["TT-2025-000002"], **credit}
        assert parse((await export(api, system, "2025-03")).content)[1] == []  # nothing was issued in March

    got, notes = parse((await export(api, "quickbooks", MAY, kind="credit_notes")).content)
    assert got == list(QUICKBOOKS_CREDIT_NOTE_HEADER)
    assert sums(notes, "quickbooks-credit") == {"CN-2025-000001": -listed["CN-2025-000001"]}  # 0.70 owed back
    assert [(r["ItemDescription"][:20], r["*ItemAmount"], r["Item(Product/Service)"]) for r in notes] == [
        ("Usage adjustment for", "0.56", "AI usage adjustment"), ("Service markup (25%)", "0.14", "Service markup")]
    assert parse((await export(api, "quickbooks", APRIL, kind="credit_notes")).content)[1] == []
    assert (await api.get("/v1/exports/xero/credit_notes.csv", params={"period": MAY},
                          headers=auth(ADMIN))).status_code == 404  # Xero's are in its invoice file

    _, may = parse((await export(api, "xero", MAY)).content)
    assert [(r["*InvoiceNumber"], r["*Description"], r["*UnitAmount"]) for r in may] == [
        ("TT-2025-000004", "openai gpt-4o: 5,000,000 tokens @ $2.50/1M = $12.50", "12.50"),
        ("TT-2025-000004", "Usage adjustment for February 2025 — openai gpt-4o: 120,000 tokens @ $2.50/1M = $0.30",
         "0.30"),
        ("TT-2025-000004", "Service markup (25%) on AI cost $12.80", "3.20"),
        ("CN-2025-000001", "Usage adjustment for March 2025 — google gemini-1.5-pro: -450,000 tokens @ $1.25/1M"
         " = -$0.56", "-0.56"),
        ("CN-2025-000001", "Service markup (25%) on AI cost -$0.56", "-0.14"),
    ]
    assert {(r["*InvoiceDate"], r["*DueDate"]) for r in may} == {("03/05/2025", "17/05/2025")}
    assert may[-1]["Reference"] == "Credit for TT-2025-000002"
    _, may_qbo = parse((await export(api, "quickbooks", MAY)).content)
    assert (may_qbo[0]["*InvoiceDate"], may_qbo[0]["Terms"], may_qbo[1]["Service Date"]) == (
        "05/03/2025", "Net 14", "02/28/2025")  # the adjustment's service month


async def test_the_same_month_exported_twice_is_the_same_bytes(
    api: httpx.AsyncClient, settings: InvoicingSettings, clock: Clock
) -> None:
    await two_months_of_documents(api, settings, clock)
    for system in ("xero", "quickbooks"):
        first = await export(api, system, APRIL)
        assert first.headers["content-type"] == "text/csv; charset=utf-8"
        assert first.headers["content-disposition"] == f'attachment; filename="{system}-invoices-{APRIL}.csv"'
        assert (await export(api, system, APRIL)).content == first.content
    notes = (await export(api, "quickbooks", MAY, kind="credit_notes")).content
    assert (await export(api, "quickbooks", MAY, kind="credit_notes")).content == notes
    before = (await export(api, "xero", APRIL)).content
    clock.now = datetime(2025, 6, 1, tzinfo=UTC)
    assert (await api.post("/v1/invoices/TT-2025-000002/pay", headers=auth(ADMIN))).status_code == 200
    assert (await export(api, "xero", APRIL)).content == before  # a paid invoice is still in, unchanged


async def test_a_mapping_change_shows_in_the_next_export(
    api: httpx.AsyncClient, settings: InvoicingSettings, clock: Clock
) -> None:
    await two_months_of_documents(api, settings, clock)
    default = await api.get("/v1/exports/xero/mapping", headers=auth(ADMIN))
    assert default.status_code == 200, default.text
    assert (default.json()["source"], default.json()["fallback"]["account_code"]) == ("default", "200")
    _, before = parse((await export(api, "xero", MAY)).content)
    assert {(r["InventoryItemCode"], r["*AccountCode"], r["*TaxType"]) for r in before} == {("", "200", "")}

    put = await api.put("/v1/exports/xero/mapping", json=XERO_MAPPING, headers=auth(ADMIN))
    assert put.status_code == 200, put.text
    assert (put.json()["source"], put.json()["system"], put.json()["updated_at"]) == (
        "api", "xero", "2025-05-03T09:00:00Z")
    assert (await api.get("/v1/exports/xero/mapping", headers=auth(ADMIN))).json() == put.json()

    _, after = parse((await export(api, "xero", MAY)).content)
    assert [(r["*Description"][:20], r["InventoryItemCode"], r["*AccountCode"], r["*TaxType"]) for r in after] == [
        ("openai gpt-4o: 5,000", "GPT-4O", "201", "Tax Exempt"),  # model rule over provider rule
        ("Usage adjustment for", "AI", "205", "Tax Exempt"),  # the adjustment default (February's)
        ("Service markup (25%)", "AI", "270", "Tax Exempt"),  # the markup default
        ("Usage adjustment for", "AI", "205", "Tax Exempt"),  # the credit note's line
        ("Service markup (25%)", "AI", "270", "Tax Exempt"),
    ]
    assert after[0]["*InvoiceDate"] == "2025-05-03"  # the mapping's date format
    assert sums(after, "xero") == sums(before, "xero")  # codes move, amounts do not

    # Each system has its own: QuickBooks still has the defaults.
    qbo = (await api.get("/v1/exports/quickbooks/mapping", headers=auth(ADMIN))).json()
    assert (qbo["source"], qbo["fallback"]["item_code"]) == ("default", "AI usage")
    qbo_put = {"fallback": {"item_code": "LLM", "account_code": "", "tax_type": "N"},
               "defaults": {"markup": {"item_code": "Fees"}}}
    assert (await api.put("/v1/exports/quickbooks/mapping", json=qbo_put, headers=auth(ADMIN))).status_code == 200
    _, rows = parse((await export(api, "quickbooks", MAY)).content)
    assert [r["Item(Product/Service)"] for r in rows] == ["LLM", "LLM", "Fees"]
    _, notes = parse((await export(api, "quickbooks", MAY, kind="credit_notes")).content)
    assert [r["Item(Product/Service)"] for r in notes] == ["LLM", "Fees"]
    assert rows[0]["*InvoiceDate"] == "2025-05-03"  # date_format left out: YYYY-MM-DD, the model's default


def fields(response: httpx.Response) -> set[str]:
    assert response.status_code == 422, response.text
    return {problem["field"] for problem in response.json()["detail"]}


async def test_bad_mappings_and_requests_are_422_naming_the_field(api: httpx.AsyncClient) -> None:
    put = "/v1/exports/xero/mapping"
    assert fields(await api.put(put, json={"fallback": {"item_code": "AI"}}, headers=auth(ADMIN))) == {"fallback"}
    twice = {**XERO_MAPPING, "rules": [{"provider": "openai", "item_code": "A"}, {"provider": "openai", "item_code": "B"}]}
    bad = await api.put(put, json=twice, headers=auth(ADMIN))
    assert fields(bad) == {"rules"} and "two rules for usage openai (any model) (rules 0 and 1)" in bad.text
    assert fields(await api.put(put, json={**XERO_MAPPING, "defaults": {"discount": {}}}, headers=auth(ADMIN))) == {
        "defaults.discount.[key]"}
    assert fields(await api.put(put, json={**XERO_MAPPING, "rules": [{"kind": "markup", "provider": "openai"}]},
                                headers=auth(ADMIN))) == {"rules.0.kind"}
    assert fields(await api.put(put, json={**XERO_MAPPING, "date_format": "DD.MM.YYYY", "colour": "red"},
                                headers=auth(ADMIN))) == {"date_format", "colour"}
    assert fields(await api.put(put, json={**XERO_MAPPING, "fallback": {**XERO_MAPPING["fallback"],
                                                                         "account_code": "9" * 101}},
                                headers=auth(ADMIN))) == {"fallback.account_code"}
    assert fields(await api.put("/v1/exports/sage/mapping", json=XERO_MAPPING, headers=auth(ADMIN))) == {"system"}
    assert (await api.get(put, headers=auth(ADMIN))).json()["source"] == "default"  # nothing was stored

    csv_path = "/v1/exports/xero/invoices.csv"
    assert fields(await api.get(csv_path, params={"period": "2025-13"}, headers=auth(ADMIN))) == {"period"}
    assert fields(await api.get(csv_path, headers=auth(ADMIN))) == {"period"}
    assert fields(await api.get(csv_path, params={"period": MAY, "basis": "paid"}, headers=auth(ADMIN))) == {"basis"}

    # admin only
    assert (await api.get(csv_path, params={"period": MAY}, headers=auth(ACME))).status_code == 403
    assert (await api.get(put, headers=auth(ACME))).status_code == 403
    assert (await api.put(put, json=XERO_MAPPING, headers=auth(ACME))).status_code == 403
    assert (await api.get(csv_path, params={"period": MAY})).status_code == 401


async def test_a_retried_mapping_put_with_its_idempotency_key_changes_nothing(api: httpx.AsyncClient) -> None:
    path = "/v1/exports/xero/mapping"
    keyed = {**auth(ADMIN), "Idempotency-Key": "mapping-1"}
    first = await api.put(path, json=XERO_MAPPING, headers=keyed)
    assert first.status_code == 200, first.text
    second_mapping = {**XERO_MAPPING, "fallback": {"item_code": "", "account_code": "400", "tax_type": ""}}
    assert (await api.put(path, json=second_mapping, headers=auth(ADMIN))).status_code == 200

    retry = await api.put(path, json=XERO_MAPPING, headers=keyed)  # a late retry of the first PUT
    assert retry.status_code == 200 and retry.headers["idempotent-replayed"] == "true"
    assert retry.content == first.content
    assert (await api.get(path, headers=auth(ADMIN))).json()["fallback"]["account_code"] == "400"  # not undone

    other = await api.put(path, json=second_mapping, headers=keyed)
    assert other.status_code == 409 and "different request" in other.text


async def test_the_tax_line_is_exported_mapped_as_tax_and_frozen_with_the_invoice(
    api: httpx.AsyncClient, settings: InvoicingSettings, clock: Clock
) -> None:
    await insert_worked_example(settings.clickhouse)
    await put_acme(api)
    billing = {"billing_name": "Acme Corporation Ltd", "email": "ap@acme.example", "po_number": "PO-4471",
               "address": {"lines": ["1 Market Square"], "city": "London", "postal_code": "EC1A 1BB", "country": "GB"},
               "tax_label": "VAT", "tax_percent": "20"}
    assert (await api.put("/v1/clients/acme/billing", json=billing, headers=auth(ADMIN))).status_code == 200
    agency = {"name": "Northwind", "locale": "de_DE"}  # descriptions are written in the agency's locale
    assert (await api.put("/v1/agency", json=agency, headers=auth(ADMIN))).status_code == 200
    issued = (await issue(api, "acme", MARCH)).json()
    assert (issued["tax"], issued["total"]) == ("2.12", "12.72")  # 20% of $10.60

    xero = (await export(api, "xero", MAY)).content
    _, rows = parse(xero)
    assert [(r["*Description"], r["*UnitAmount"], r["*AccountCode"]) for r in rows[-2:]] == [
        ("Service markup (25%) on AI cost 8,48\xa0$", "2.12", "200"),
        ("VAT (20%)", "2.12", "820")]  # Xero's tax account
    assert sums(rows, "xero") == {issued["number"]: Decimal("12.72")}
    assert (rows[0]["*ContactName"], rows[0]["POCity"], rows[0]["Reference"]) == (
        "Acme Corporation Ltd", "London", "PO-4471")
    _, qbo = parse((await export(api, "quickbooks", MAY)).content)
    assert (qbo[-1]["Item(Product/Service)"], qbo[-1]["*ItemAmount"]) == ("Sales tax", "2.12")
    assert sums(qbo, "quickbooks") == {issued["number"]: Decimal("12.72")}

    # The tax line takes the mapping's `tax` codes.
    mapping = {**XERO_MAPPING, "defaults": {**XERO_MAPPING["defaults"], "tax": {"account_code": "821", "tax_type": "OUTPUT2"}}}
    assert (await api.put("/v1/exports/xero/mapping", json=mapping, headers=auth(ADMIN))).status_code == 200
    _, mapped = parse((await export(api, "xero", MAY)).content)
    assert (mapped[-1]["*Description"], mapped[-1]["*AccountCode"], mapped[-1]["*TaxType"]) == (
        "VAT (20%)", "821", "OUTPUT2")
    assert (await api.put("/v1/exports/xero/mapping", json={"fallback": {"item_code": "", "account_code": "200",
                          "tax_type": ""}, "defaults": {"tax": {"account_code": "820"}}, "date_format": "DD/MM/YYYY"},
                          headers=auth(ADMIN))).status_code == 200

    # New billing details and a new agency profile change drafts only: the issued invoice exports as it was.
    changed = {**billing, "billing_name": "Acme Holdings", "tax_percent": "5"}
    assert (await api.put("/v1/clients/acme/billing", json=changed, headers=auth(ADMIN))).status_code == 200
    assert (await api.put("/v1/agency", json={"name": "Northwind", "locale": "en_US", "payment_terms_days": 60},
                          headers=auth(ADMIN))).status_code == 200
    assert (await export(api, "xero", MAY)).content == xero
