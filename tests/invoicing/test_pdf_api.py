"""The invoice PDF through the API: a draft's says DRAFT, an issued one's is the same bytes on every request."""

from __future__ import annotations

from contextlib import AsyncExitStack

import pytest

from services.invoicing.settings import InvoicingSettings
from tests.invoicing.test_api import ADMIN, ACME, MARCH, auth, insert_worked_example
from tests.invoicing.test_documents import pdf_text
from tests.invoicing.test_issuing import Clock, _api, clock, issue, settings  # noqa: F401 - fixtures

pytestmark = pytest.mark.integration


async def test_draft_and_issued_pdf(settings: InvoicingSettings, clock: Clock) -> None:  # noqa: F811
    await insert_worked_example(settings.clickhouse)
    async with AsyncExitStack() as stack:
        api = await _api(stack, settings.model_copy(update={"webhooks": False, "kafka_events": False}), clock)
        path = f"/v1/clients/acme/invoices/{MARCH}"
        draft = await api.get(path, params={"format": "pdf"}, headers=auth(ACME))
        assert draft.status_code == 200 and draft.headers["content-type"] == "application/pdf"
        assert "draft-invoice-acme-2025-03.pdf" in draft.headers["content-disposition"]
        text = pdf_text(draft.content)
        assert "DRAFT" in text and "TT-2025" not in text and "$10.60" in text

        number = (await issue(api, "acme", MARCH)).json()["number"]
        first = await api.get(path, params={"format": "pdf"}, headers=auth(ACME))
        second = await api.get(f"/v1/documents/{number}", params={"format": "pdf"}, headers=auth(ADMIN))
        assert first.content == second.content  # rendered from the frozen invoice: same bytes every time
        text = pdf_text(first.content)
        for expected in (number, "$5.25", "$2.67", "$0.56", "$8.48", "$2.12", "$10.60", "May 24, 2025"):
            assert expected in text, expected
        assert "DRAFT" not in text
        assert (await api.get(path, params={"format": "doc"}, headers=auth(ADMIN))).status_code == 422


async def test_a_clients_own_documents_by_number(settings: InvoicingSettings, clock: Clock) -> None:  # noqa: F811
    """``/v1/clients/{id}/documents/{number}``: readable by that client's key, 403 for anyone else's."""
    await insert_worked_example(settings.clickhouse)
    async with AsyncExitStack() as stack:
        api = await _api(stack, settings.model_copy(update={"webhooks": False, "kafka_events": False}), clock)
        acme = (await issue(api, "acme", MARCH)).json()["number"]
        beta = (await issue(api, "beta", MARCH)).json()["number"]
        path = f"/v1/clients/acme/documents/{acme}"

        own = await api.get(path, params={"format": "pdf"}, headers=auth(ACME))
        assert own.status_code == 200 and own.headers["content-type"] == "application/pdf"
        admin = await api.get(f"/v1/documents/{acme}", params={"format": "pdf"}, headers=auth(ADMIN))
        assert own.content == admin.content  # the issued document's bytes
        assert (await api.get(path, headers=auth(ACME))).json()["total"] == "10.60"

        # another client's document, through acme's path or with acme's key on beta's: 403
        through_acme = await api.get(f"/v1/clients/acme/documents/{beta}", headers=auth(ACME))
        assert through_acme.status_code == 403 and beta in through_acme.text
        assert (await api.get(f"/v1/clients/beta/documents/{beta}", headers=auth(ACME))).status_code == 403
        assert (await api.get(f"/v1/clients/acme/documents/{beta}", headers=auth(ADMIN))).status_code == 403
        assert (await api.get("/v1/clients/acme/documents/TT-2099-000001", headers=auth(ACME))).status_code == 404
        assert (await api.get(f"/v1/clients/beta/documents/{beta}", headers=auth(ADMIN))).status_code == 200
