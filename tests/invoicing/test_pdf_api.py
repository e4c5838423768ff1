"""The invoice PDF through the API: a draft's says DRAFT, an issued one's is the same bytes on every request."""

from __future__ import annotations

from contextlib import AsyncExitStack
from datetime import UTC, datetime

import pytest

from libs.common.clickhouse import connect
from services.invoicing.settings import InvoicingSettings
from tests.invoicing.test_api import ADMIN, ACME, MARCH, auth, insert_priced, insert_worked_example, priced
from tests.invoicing.test_documents import pdf_text
from tests.invoicing.test_issuing import Clock, _api, clock, issue, put_acme, settings  # noqa: F401 - fixtures

pytestmark = pytest.mark.integration


async def delete_model(settings: InvoicingSettings, client_id: str, model: str) -> None:
    """A correction in ClickHouse: the client's usage of ``model`` goes away."""
    client = await connect(settings.clickhouse)
    try:
        for table in ("usage_totals_monthly", "priced_events"):
            await client.command(f"ALTER TABLE {table} DELETE WHERE client_id = {{c:String}} AND model = {{m:String}}",
                                 parameters={"c": client_id, "m": model}, settings={"mutations_sync": 2})
    finally:
        await client.close()


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


async def test_a_credit_note_as_pdf(settings: InvoicingSettings, clock: Clock) -> None:  # noqa: F811
    """A taxed March is corrected down after issue: the credit note credits the markup and the tax it was billed with."""
    await insert_worked_example(settings.clickhouse)
    async with AsyncExitStack() as stack:
        api = await _api(stack, settings.model_copy(update={"webhooks": False, "kafka_events": False}), clock)
        await put_acme(api)
        billing = await api.put("/v1/clients/acme/billing", json={"billing_name": "Acme Corporation Ltd",
                                                                  "tax_label": "VAT", "tax_percent": "20"},
                                headers=auth(ADMIN))
        assert billing.status_code == 200, billing.text
        march = (await issue(api, "acme", MARCH)).json()
        assert (march["number"], march["tax"], march["total"]) == ("TT-2025-000001", "2.12", "12.72")
        await insert_priced(settings.clickhouse, [
            priced("acme", "april-1", datetime(2025, 4, 3, tzinfo=UTC), "openai", "gpt-4o", input_tokens=4_000_000,
                   input_price="2.50")])
        await delete_model(settings, "acme", "gemini-1.5-pro")  # a correction: that usage was not acme's
        await api.put("/v1/clients/acme/billing", json={"billing_name": "Acme Corporation Ltd", "tax_label": "VAT",
                                                        "tax_percent": "10"}, headers=auth(ADMIN))
        assert (await issue(api, "acme", "2025-04")).status_code == 200

        [note] = (await api.get("/v1/invoices", params={"kind": "credit_note"}, headers=auth(ADMIN))).json()
        body = (await api.get(f"/v1/documents/{note['number']}", headers=auth(ADMIN))).json()
        # -0.56 and its 25% markup -0.14, taxed at March's 20% (not today's 10%): -0.14.
        assert (body["base_cost"], body["markup"], body["tax_percent"], body["tax"], body["total"]) == (
            "-0.56", "-0.14", "20", "-0.14", "-0.84")
        pdf = await api.get(f"/v1/documents/{note['number']}", params={"format": "pdf"}, headers=auth(ADMIN))
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        assert f'filename="{note["number"]}.pdf"' in pdf.headers["content-disposition"]
        text = pdf_text(pdf.content)
        for expected in ("Credit note", "CN-2025-000001", "Credits invoice", "TT-2025-000001",
                         "Credit note for invoice TT-2025-000001", "google gemini-1.5-pro",
                         "-450,000 tokens @ $1.25/1M", "-$0.56", "-$0.14", "VAT (20%)", "Total credited (USD)",
                         "-$0.84", "Acme Corporation Ltd", "CORRECTIONS TO INVOICE TT-2025-000001",
                         "Usage adjustment for March 2025"):
            assert expected in text, expected
        assert "DRAFT" not in text and "Please pay" not in text and "No usage" not in text
        again = await api.get(f"/v1/documents/{note['number']}", params={"format": "pdf"}, headers=auth(ADMIN))
        assert again.content == pdf.content


async def test_an_issued_pdf_is_kept_as_first_served_per_status(
    settings: InvoicingSettings, clock: Clock, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    """A later template (here: a renderer that draws something else) never changes a PDF already served."""
    import services.invoicing.documents

    await insert_worked_example(settings.clickhouse)
    async with AsyncExitStack() as stack:
        api = await _api(stack, settings.model_copy(update={"webhooks": False, "kafka_events": False}), clock)
        number = (await issue(api, "acme", MARCH)).json()["number"]
        path = f"/v1/documents/{number}"
        first = await api.get(path, params={"format": "pdf"}, headers=auth(ADMIN))
        assert first.status_code == 200 and "$10.60" in pdf_text(first.content)

        monkeypatch.setattr(services.invoicing.documents, "render_pdf", lambda document: b"%PDF-1.7 new template")
        assert (await api.get(path, params={"format": "pdf"}, headers=auth(ADMIN))).content == first.content
        own = await api.get(f"/v1/clients/acme/invoices/{MARCH}", params={"format": "pdf"}, headers=auth(ACME))
        assert own.content == first.content
        # Paid, the document shows it: the paid PDF is rendered now (by today's template) and kept in turn.
        assert (await api.post(f"/v1/invoices/{number}/pay", headers=auth(ADMIN))).status_code == 200
        paid = await api.get(path, params={"format": "pdf"}, headers=auth(ADMIN))
        assert paid.content == b"%PDF-1.7 new template"
        monkeypatch.undo()
        assert (await api.get(path, params={"format": "pdf"}, headers=auth(ADMIN))).content == paid.content
