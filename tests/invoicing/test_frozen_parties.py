"""Who an invoice is from and to, and its tax, on the real servers: live on a draft, frozen at issue.

An issued invoice carries the agency profile, the client's billing details and tax rate as
they were when it was issued: later changes to any of them reach drafts only, and the
issued invoice's JSON, CSV and PDF stay the same bytes.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import httpx
import pytest

from services.invoicing.settings import InvoicingSettings
from tests.invoicing.test_api import ADMIN, ACME, MARCH, auth, insert_priced, insert_worked_example, priced
from tests.invoicing.test_documents import PNG, pdf_text
from tests.invoicing.test_issuing import APRIL, Clock, api, clock, get, issue, put_acme, settings  # noqa: F401
from tests.invoicing.test_parties_api import AGENCY as PROFILE
from tests.invoicing.test_parties_api import BILLING

AGENCY = {**PROFILE, "logo": f"data:image/png;base64,{PNG}"}  # a real image: WeasyPrint draws it

pytestmark = pytest.mark.integration


async def put(api: httpx.AsyncClient, path: str, body: dict[str, object]) -> None:  # noqa: F811
    reply = await api.put(path, json=body, headers=auth(ADMIN))
    assert reply.status_code == 200, reply.text


async def everything(api: httpx.AsyncClient, client_id: str, period: str) -> tuple[bytes, bytes, bytes]:  # noqa: F811
    return ((await get(api, client_id, period)).content, (await get(api, client_id, period, "csv")).content,
            (await get(api, client_id, period, "pdf")).content)


async def test_a_draft_shows_the_profile_billing_and_tax_now(
    api: httpx.AsyncClient, settings: InvoicingSettings  # noqa: F811
) -> None:
    await insert_worked_example(settings.clickhouse)
    await put_acme(api)
    await put(api, "/v1/agency", AGENCY)
    await put(api, "/v1/clients/acme/billing", BILLING)  # VAT 20%

    draft = (await get(api, "acme", MARCH)).json()
    assert (draft["status"], draft["base_cost"], draft["markup"], draft["tax_percent"], draft["tax_label"],
            draft["tax"], draft["total"]) == ("draft", "8.48", "2.12", "20", "VAT", "2.12", "12.72")
    assert draft["bill_to"] == {**{key: BILLING[key] for key in ("billing_name", "tax_id", "po_number", "email")},
                                "address": {**BILLING["address"], "region": ""}}
    rows = list(csv.reader(io.StringIO((await get(api, "acme", MARCH, "csv")).text)))
    assert [(r[0], r[3], r[-1]) for r in rows[-4:]] == [
        ("base_cost", "Base cost", "8.48"), ("markup", "Markup (25%)", "2.12"), ("tax", "VAT (20%)", "2.12"),
        ("total", "Total (USD)", "12.72")]
    text = pdf_text((await get(api, "acme", MARCH, "pdf")).content)
    for expected in ("Northwind AI Agency", "GB 123 4567 89", "Acme Corporation Ltd", "PO-4471", "VAT (20%)", "$2.12",
                     "$12.72", "DRAFT"):
        assert expected in text, expected

    listing = (await api.get(f"/v1/invoices/{MARCH}", headers=auth(ADMIN))).json()
    assert [(s["client_id"], s["tax"], s["total"]) for s in listing] == [("acme", "2.12", "12.72"),
                                                                         ("beta", "0.00", "0.01")]

    # The client without a rate: no tax line, totals as before.
    beta = (await get(api, "beta", MARCH)).json()
    assert (beta["tax_percent"], beta["tax"], beta["total"]) == (None, "0.00", "0.01")
    assert "tax" not in [r[0] for r in csv.reader(io.StringIO((await get(api, "beta", MARCH, "csv")).text))]


async def test_issued_invoices_keep_the_parties_and_tax_they_were_issued_with(
    api: httpx.AsyncClient, settings: InvoicingSettings, clock: Clock  # noqa: F811
) -> None:
    await insert_worked_example(settings.clickhouse)
    await put_acme(api)
    # beta is issued before any profile was set: under the settings' (INVOICING_AGENCY_NAME "TokenTally").
    beta = (await issue(api, "beta", MARCH)).json()
    assert beta["number"] == "TT-2025-000001"
    beta_before = await everything(api, "beta", MARCH)
    assert "TokenTally" in pdf_text(beta_before[2])

    await put(api, "/v1/agency", AGENCY)  # prefix NW, 21 days' terms
    await put(api, "/v1/clients/acme/billing", BILLING)
    issued = await issue(api, "acme", MARCH)
    body = issued.json()
    assert (body["number"], body["due_date"], body["tax"], body["total"]) == (
        "NW-2025-000002", "2025-05-31", "2.12", "12.72")  # the profile's prefix and terms; the series goes on
    before = await everything(api, "acme", MARCH)
    by_number = (await api.get(f"/v1/documents/{body['number']}", params={"format": "pdf"}, headers=auth(ADMIN)))
    assert before[0] == issued.content and by_number.content == before[2]
    text = pdf_text(before[2])
    for expected in ("NW-2025-000002", "Northwind AI Agency", "Bristol BS1 4DJ", "GB 123 4567 89",
                     "IBAN: GB29 NWBK 6016 1331 9268 19", "May 31, 2025", "Acme Corporation Ltd", "1 Market Square",
                     "GB 987 6543 21", "PO-4471", "ap@acme.example", "VAT (20%)", "$12.72"):
        assert expected in text, expected

    # Everything changes afterwards: the agency, the client's billing details and its tax rate.
    await put(api, "/v1/agency", {**AGENCY, "name": "Southwind Studio", "tax_id": "GB 000 0000 00",
                                  "bank_details": "IBAN: GB00 SOUT 0000 0000 0000 00", "invoice_prefix": "SW",
                                  "payment_terms_days": 7, "address": {"lines": ["9 Quay Road"], "city": "Leeds"}})
    await put(api, "/v1/clients/acme/billing", {**BILLING, "billing_name": "Acme Holdings plc", "po_number": "PO-9",
                                                "email": "finance@acme.example", "tax_label": "GST",
                                                "tax_percent": "10", "address": {"lines": ["2 New Street"]}})
    clock.now = datetime(2025, 5, 12, tzinfo=UTC)

    assert await everything(api, "acme", MARCH) == before  # JSON, CSV and PDF: the same bytes
    assert await everything(api, "beta", MARCH) == beta_before
    again = await api.get(f"/v1/documents/{body['number']}", params={"format": "pdf"}, headers=auth(ADMIN))
    assert again.content == before[2]
    assert (await api.get(f"/v1/clients/acme/invoices/{MARCH}", params={"format": "pdf"},
                          headers=auth(ACME))).content == before[2]

    # A new draft shows the new values, and is issued under them.
    await insert_priced(settings.clickhouse, [
        priced("acme", "april-1", datetime(2025, 4, 3, tzinfo=UTC), "openai", "gpt-4o", input_tokens=1_000_000,
               input_price="2.50")])
    april = (await get(api, "acme", APRIL)).json()
    assert (april["base_cost"], april["markup"], april["tax_percent"], april["tax_label"], april["tax"],
            april["total"]) == ("5.00", "1.25", "10", "GST", "0.63", "6.88")  # (5.00 + 1.25) × 10% = 0.625 → 0.63
    assert (april["bill_to"]["billing_name"], april["bill_to"]["po_number"]) == ("Acme Holdings plc", "PO-9")
    text = pdf_text((await get(api, "acme", APRIL, "pdf")).content)
    assert "Southwind Studio" in text and "Acme Holdings plc" in text and "GST (10%)" in text
    assert "Northwind" not in text and "PO-4471" not in text
    april_issued = (await issue(api, "acme", APRIL)).json()
    assert (april_issued["number"], april_issued["due_date"], april_issued["total"]) == (
        "SW-2025-000003", "2025-05-19", "6.88")
