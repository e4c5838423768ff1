"""``GET /v1/usage/{period}/clients``: every client's month in one read, equal to the cent to each
client's own invoice (issued or draft, adjustments and credit notes included), on the real servers."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from libs.common.clickhouse import connect
from services.invoicing.settings import InvoicingSettings
from tests.invoicing.test_api import ACME, ADMIN, MARCH, auth, insert_priced, insert_worked_example, march, priced
from tests.invoicing.test_issuing import APRIL, api, clock, get, issue, put_acme, settings  # noqa: F401 (fixtures)

pytestmark = pytest.mark.integration


async def month(api: httpx.AsyncClient, period: str) -> dict[str, dict[str, Any]]:  # noqa: F811
    reply = await api.get(f"/v1/usage/{period}/clients", headers=auth(ADMIN))
    assert reply.status_code == 200, reply.text
    return {row["client_id"]: row for row in reply.json()}


async def assert_equal_to_the_invoices(api: httpx.AsyncClient, period: str) -> dict[str, dict[str, Any]]:  # noqa: F811
    """Each client's figures are its own invoice's, and the clients are the month listing's."""
    rows = await month(api, period)
    listing = (await api.get(f"/v1/invoices/{period}", headers=auth(ADMIN))).json()
    assert set(rows) == {s["client_id"] for s in listing}
    for client_id, row in rows.items():
        invoice = (await get(api, client_id, period)).json()
        assert (row["cost"], row["margin"], row["markup_percent"], row["name"]) == (
            invoice["base_cost"], invoice["markup"], invoice["markup_percent"], invoice["name"]), client_id
        assert Decimal(row["billed"]) == Decimal(invoice["base_cost"]) + Decimal(invoice["markup"]), client_id
        assert row["invoice_status"] == invoice["status"], client_id
        assert row["invoice_number"] == invoice.get("number"), client_id
    return rows


async def test_the_worked_example_and_a_record_without_usage(api: httpx.AsyncClient,  # noqa: F811
                                                              settings: InvoicingSettings) -> None:  # noqa: F811
    await insert_worked_example(settings.clickhouse)
    await api.put("/v1/clients/idle", json={"name": "Idle Ltd", "markup_percent": "10", "monthly_budget": "500"},
                  headers=auth(ADMIN))

    rows = await assert_equal_to_the_invoices(api, MARCH)

    acme = rows["acme"]
    assert {k: acme[k] for k in ("cost", "markup_percent", "margin", "billed", "invoice_status", "events")} == {
        "cost": "8.48", "markup_percent": "25", "margin": "2.12", "billed": "10.60", "invoice_status": "draft",
        "events": 5}  # the brief's invoice: base $8.48, markup (25%) $2.12, total $10.60
    assert rows["beta"]["cost"] == "0.01"  # 1,000 in @ $3 + 500 out @ $15 = $0.0105, one line rounded

    # a tax line is on the invoice's total, not in what the month billed for AI usage
    taxed = await api.put("/v1/clients/acme/billing", json={"tax_percent": "20", "tax_label": "VAT"},
                          headers=auth(ADMIN))
    assert taxed.status_code == 200, taxed.text
    assert (await get(api, "acme", MARCH)).json()["total"] == "12.72"  # 10.60 + 20% VAT 2.12
    assert (await assert_equal_to_the_invoices(api, MARCH))["acme"]["billed"] == "10.60"
    # the record was written in May (the test clock): it did not exist in March
    assert "idle" not in rows
    may = await assert_equal_to_the_invoices(api, "2025-05")
    assert {k: may["idle"][k] for k in ("cost", "billed", "monthly_budget", "budget_basis", "name")} == {
        "cost": "0.00", "billed": "0.00", "monthly_budget": "500.00", "budget_basis": "billed", "name": "Idle Ltd"}


async def test_issued_adjusted_credited_voided_and_paid_months(api: httpx.AsyncClient,  # noqa: F811
                                                                settings: InvoicingSettings) -> None:  # noqa: F811
    await insert_worked_example(settings.clickhouse)
    await put_acme(api)
    march_number = (await issue(api, "acme", MARCH)).json()["number"]
    await put_acme_markup(api, "40")  # an issued invoice keeps its markup
    rows = await assert_equal_to_the_invoices(api, MARCH)
    assert (rows["acme"]["invoice_status"], rows["acme"]["invoice_number"], rows["acme"]["billed"]) == (
        "issued", march_number, "10.60")

    # late March usage after the issue: an adjustment on April's draft, at April's markup
    await insert_priced(settings.clickhouse, [
        priced("acme", "late-1", march(20), "openai", "gpt-4o", input_tokens=120_000, input_price="2.50"),
        priced("acme", "april-1", datetime(2025, 4, 3, tzinfo=UTC), "openai", "gpt-4o", input_tokens=1_000_000,
               input_price="2.50"),
    ])
    april = await assert_equal_to_the_invoices(api, APRIL)
    # April's 1,000,000 gpt-4o in the worked example and here ($2.50 each) + the $0.30 adjustment for March
    assert (april["acme"]["cost"], april["acme"]["last_month_invoice_status"]) == ("5.30", "issued")

    # April issued; then a correction takes March below what it billed: a credit note, not a draft line
    await issue(api, "acme", APRIL)
    client = await connect(settings.clickhouse)
    try:
        for table in ("usage_totals_monthly", "priced_events"):
            await client.command(f"ALTER TABLE {table} DELETE WHERE client_id = 'acme' AND model = 'gemini-1.5-pro'",
                                 settings={"mutations_sync": 2})
    finally:
        await client.close()
    await insert_priced(settings.clickhouse, [
        priced("acme", "may-1", datetime(2025, 5, 2, tzinfo=UTC), "openai", "gpt-4o", input_tokens=400_000,
               input_price="2.50")])
    may = await assert_equal_to_the_invoices(api, "2025-05")
    assert may["acme"]["cost"] == "1.00"

    # March voided after April adjusted it: its draft nets what April billed (built as the invoice is)
    await api.post(f"/v1/invoices/{march_number}/void", json={"reason": "wrong PO number"}, headers=auth(ADMIN))
    rows = await assert_equal_to_the_invoices(api, MARCH)
    assert rows["acme"]["invoice_status"] == "draft"
    april = await assert_equal_to_the_invoices(api, APRIL)
    assert april["acme"]["last_month_invoice_status"] == "void"

    replacement = (await issue(api, "acme", MARCH)).json()
    await api.post(f"/v1/invoices/{replacement['number']}/pay", headers=auth(ADMIN))
    rows = await assert_equal_to_the_invoices(api, MARCH)
    assert (rows["acme"]["invoice_status"], rows["acme"]["invoice_number"]) == ("paid", replacement["number"])
    april = await assert_equal_to_the_invoices(api, APRIL)
    assert april["acme"]["last_month_invoice_status"] == "paid"
    await assert_equal_to_the_invoices(api, "2025-05")


async def put_acme_markup(api: httpx.AsyncClient, markup: str) -> None:  # noqa: F811
    reply = await api.put("/v1/clients/acme", json={"name": "Acme", "markup_percent": markup}, headers=auth(ADMIN))
    assert reply.status_code == 200


async def test_admin_only_and_the_period_is_checked(api: httpx.AsyncClient) -> None:  # noqa: F811
    assert (await api.get(f"/v1/usage/{MARCH}/clients", headers=auth(ACME))).status_code == 403
    assert (await api.get(f"/v1/usage/{MARCH}/clients")).status_code == 401
    bad = await api.get("/v1/usage/2025-13/clients", headers=auth(ADMIN))
    assert bad.status_code == 422 and "period" in bad.text
