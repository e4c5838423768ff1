"""The agency profile and client billing details through the API, stored in PostgreSQL."""

from __future__ import annotations

import base64

import httpx
import pytest

from services.invoicing.settings import InvoicingSettings
from tests.invoicing.test_api import ADMIN, ACME, auth
from tests.invoicing.test_issuing import Clock, api, clock, settings  # noqa: F401 - fixtures

pytestmark = pytest.mark.integration

PNG = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 32).decode()

AGENCY = {
    "name": "Northwind AI Agency",
    "address": {"lines": ["12 Harbour Street"], "city": "Bristol", "postal_code": "BS1 4DJ", "country": "gb"},
    "tax_id": "GB 123 4567 89",
    "email": "billing@northwind.example",
    "logo": PNG,
    "payment_terms_days": 21,
    "bank_details": "IBAN: GB29 NWBK 6016 1331 9268 19\nBIC: NWBKGB2L",
    "invoice_prefix": "NW",
}

BILLING = {
    "billing_name": "Acme Corporation Ltd",
    "address": {"lines": ["1 Market Square"], "city": "London", "postal_code": "EC1A 1BB", "country": "GB"},
    "email": "ap@acme.example",
    "tax_id": "GB 987 6543 21",
    "po_number": "PO-4471",
    "tax_label": "VAT",
    "tax_percent": "20.00",
}


def fields(response: httpx.Response) -> set[str]:
    assert response.status_code == 422, response.text
    return {error["field"] for error in response.json()["detail"]}


async def test_agency_profile_defaults_to_the_settings_then_is_set_whole(
    api: httpx.AsyncClient, settings: InvoicingSettings  # noqa: F811
) -> None:
    before = (await api.get("/v1/agency", headers=auth(ADMIN))).json()
    assert (before["name"], before["invoice_prefix"], before["payment_terms_days"], before["source"]) == (
        "TokenTally", "TT", 14, "settings")  # INVOICING_AGENCY_NAME, _INVOICE_PREFIX, _PAYMENT_TERMS_DAYS

    put = await api.put("/v1/agency", json=AGENCY, headers=auth(ADMIN))
    assert put.status_code == 200, put.text
    got = (await api.get("/v1/agency", headers=auth(ADMIN))).json()
    assert got == put.json()
    assert (got["source"], got["address"]["country"], got["invoice_prefix"], got["logo"]) == ("api", "GB", "NW", PNG)
    assert got["updated_at"] == "2025-05-10T09:30:00Z"

    # PUT replaces: what is left out takes its default, the prefix and terms the settings'.
    bare = (await api.put("/v1/agency", json={"name": "Northwind"}, headers=auth(ADMIN))).json()
    assert (bare["tax_id"], bare["logo"], bare["invoice_prefix"], bare["payment_terms_days"]) == ("", None, "TT", 14)

    assert (await api.get("/v1/agency", headers=auth(ACME))).status_code == 403
    assert (await api.put("/v1/agency", json=AGENCY, headers=auth(ACME))).status_code == 403


async def test_agency_profile_validation_names_the_field(api: httpx.AsyncClient) -> None:  # noqa: F811
    bad = {**AGENCY, "logo": "https://example.com/logo.png", "invoice_prefix": "TT 2026", "payment_terms_days": -1,
           "address": {"country": "Britain"}}
    assert fields(await api.put("/v1/agency", json=bad, headers=auth(ADMIN))) == {
        "logo", "invoice_prefix", "payment_terms_days", "address.country"}
    assert fields(await api.put("/v1/agency", json={"name": " "}, headers=auth(ADMIN))) == {"name"}
    assert fields(await api.put("/v1/agency", json={**AGENCY, "colour": "red"}, headers=auth(ADMIN))) == {"colour"}
    huge = "data:image/png;base64," + base64.b64encode(b"\0" * (300 * 1024)).decode()
    assert fields(await api.put("/v1/agency", json={**AGENCY, "logo": huge}, headers=auth(ADMIN))) == {"logo"}
    assert (await api.get("/v1/agency", headers=auth(ADMIN))).json()["source"] == "settings"  # nothing stored


async def test_client_billing_details_and_tax_rate(api: httpx.AsyncClient) -> None:  # noqa: F811
    default = await api.get("/v1/clients/acme/billing", headers=auth(ADMIN))
    assert default.status_code == 200
    assert (default.json()["billing_name"], default.json()["tax_percent"]) == ("", None)  # no tax by default

    put = await api.put("/v1/clients/acme/billing", json=BILLING, headers=auth(ADMIN))
    assert put.status_code == 200, put.text
    assert put.json()["tax_percent"] == "20"
    own = await api.get("/v1/clients/acme/billing", headers=auth(ACME))  # the client reads its own
    assert own.json() == put.json()
    assert (own.json()["po_number"], own.json()["address"]["city"]) == ("PO-4471", "London")
    assert (await api.put("/v1/clients/acme/billing", json=BILLING, headers=auth(ACME))).status_code == 403
    assert (await api.get("/v1/clients/beta/billing", headers=auth(ACME))).status_code == 403

    cleared = await api.put("/v1/clients/acme/billing", json={**BILLING, "tax_percent": None}, headers=auth(ADMIN))
    assert cleared.json()["tax_percent"] is None

    for tax, message in (("-1", "greater than or equal"), ("100.5", "less than or equal"), ("7.12345", "decimal"),
                         ("twenty", "decimal")):
        reply = await api.put("/v1/clients/acme/billing", json={**BILLING, "tax_percent": tax}, headers=auth(ADMIN))
        assert fields(reply) == {"tax_percent"}
        assert message in reply.text.lower()
    assert fields(await api.put("/v1/clients/acme/billing", json={**BILLING, "email": "x" * 201},
                                headers=auth(ADMIN))) == {"email"}
    assert fields(await api.put("/v1/clients/acme/billing", json={"address": {"lines": ["a"] * 5}},
                                headers=auth(ADMIN))) == {"address.lines"}
    assert (await api.get("/v1/clients/acme/billing", headers=auth(ADMIN))).json()["tax_percent"] is None


async def test_a_retried_put_with_the_same_key_gets_the_first_answer(api: httpx.AsyncClient) -> None:  # noqa: F811
    def key(value: str) -> dict[str, str]:
        return {**auth(ADMIN), "Idempotency-Key": value}

    first = await api.put("/v1/clients/acme/billing", json=BILLING, headers=key("billing-1"))
    await api.put("/v1/clients/acme/billing", json={**BILLING, "po_number": "PO-9"}, headers=auth(ADMIN))
    retried = await api.put("/v1/clients/acme/billing", json=BILLING, headers=key("billing-1"))
    assert retried.content == first.content and retried.headers["idempotent-replayed"] == "true"
    # The retry did not run again: the later change stands.
    assert (await api.get("/v1/clients/acme/billing", headers=auth(ADMIN))).json()["po_number"] == "PO-9"
    other = await api.put("/v1/clients/acme/billing", json={**BILLING, "po_number": "X"}, headers=key("billing-1"))
    assert other.status_code == 409
