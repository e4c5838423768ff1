"""Issued invoices on the real servers: ClickHouse for usage, PostgreSQL for the issued documents,
Kafka for the caught-up rule (empty topics here: the pipeline is trivially caught up; see tests/e2e)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest
from pydantic import SecretStr

from libs.common.clickhouse import connect
from libs.common.settings import AuthSettings, BillingDefaults, ClickHouseSettings, KafkaSettings
from services.invoicing.app import create_app
from services.invoicing.settings import DatabaseSettings, InvoicingSettings
from tests.invoicing.test_api import ADMIN, ACME, KEYS, MARCH, auth, insert_priced, insert_worked_example, march, priced

pytestmark = pytest.mark.integration

APRIL = "2025-04"


class Clock:
    """A clock the test moves by hand (the app takes it instead of reading the system's)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def settings(
    clickhouse_schema: ClickHouseSettings, database_url: str, kafka_settings: KafkaSettings
) -> InvoicingSettings:
    return InvoicingSettings(
        clickhouse=clickhouse_schema,
        database=DatabaseSettings(url=SecretStr(database_url)),
        kafka=kafka_settings,
        auth=AuthSettings(api_keys=SecretStr(json.dumps(KEYS))),
        billing=BillingDefaults(default_markup_percent=Decimal("25"), currency="USD"),
        payment_terms_days=14,
        auto_issue=False,  # the tests below run the auto-issuer's rounds themselves
    )


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2025, 5, 10, 9, 30, tzinfo=UTC))


async def _api(stack: AsyncExitStack, settings: InvoicingSettings, clock: Callable[[], datetime]) -> httpx.AsyncClient:
    app = create_app(settings, clock=clock)
    await stack.enter_async_context(app.router.lifespan_context(app))
    transport = httpx.ASGITransport(app=app)
    return await stack.enter_async_context(httpx.AsyncClient(transport=transport, base_url="http://invoicing"))


@pytest.fixture
async def api(settings: InvoicingSettings, clock: Clock) -> AsyncIterator[httpx.AsyncClient]:
    async with AsyncExitStack() as stack:
        yield await _api(stack, settings, clock)


async def issue(api: httpx.AsyncClient, client_id: str, period: str) -> httpx.Response:
    return await api.post(f"/v1/clients/{client_id}/invoices/{period}/issue", headers=auth(ADMIN))


async def get(api: httpx.AsyncClient, client_id: str, period: str, fmt: str = "json") -> httpx.Response:
    return await api.get(f"/v1/clients/{client_id}/invoices/{period}", params={"format": fmt}, headers=auth(ADMIN))


async def test_issue_by_hand_numbers_and_freezes_and_is_idempotent(
    api: httpx.AsyncClient, settings: InvoicingSettings, clock: Clock
) -> None:
    await insert_worked_example(settings.clickhouse)
    draft = (await get(api, "acme", MARCH)).json()
    assert (draft["status"], draft["number"], draft["total"]) == ("draft", None, "10.60")

    first = await issue(api, "acme", MARCH)
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["status"], body["number"], body["total"], body["base_cost"]) == (
        "issued", "TT-2025-000001", "10.60", "8.48")
    assert body["issued_at"] == body["usage_cutoff"] == "2025-05-10T09:30:00Z"
    assert body["due_date"] == "2025-05-24"  # 14 days' terms
    assert [line["amount"] for line in body["lines"]] == ["5.25", "2.67", "0.56"]

    clock.now = datetime(2025, 5, 11, tzinfo=UTC)
    again = await issue(api, "acme", MARCH)  # a second call: the same invoice, no second number
    assert again.status_code == 200 and again.content == first.content
    assert (await get(api, "acme", MARCH)).content == first.content
    own = await api.get(f"/v1/clients/acme/invoices/{MARCH}", headers=auth(ACME))
    assert own.json()["number"] == "TT-2025-000001"

    listing = await api.get("/v1/invoices", params={"period": MARCH, "status": "issued"}, headers=auth(ADMIN))
    assert [(d["number"], d["client_id"], d["total"]) for d in listing.json()] == [("TT-2025-000001", "acme", "10.60")]
    assert (await api.get("/v1/invoices", params={"status": "paid"}, headers=auth(ADMIN))).json() == []
    assert (await api.get("/v1/invoices", params={"period": "2025-13"}, headers=auth(ADMIN))).status_code == 422
    assert (await api.get("/v1/invoices", headers=auth(ACME))).status_code == 403


async def test_a_month_that_has_not_ended_is_not_issued(api: httpx.AsyncClient, clock: Clock) -> None:
    response = await issue(api, "acme", "2025-05")
    assert response.status_code == 422
    assert "2025-05 has not ended" in response.text
    assert (await issue(api, "acme", MARCH)).status_code == 404  # no record and no usage: nothing to issue
    assert (await api.post(f"/v1/clients/acme/invoices/{MARCH}/issue", headers=auth(ACME))).status_code == 403


async def put_acme(api: httpx.AsyncClient) -> None:
    reply = await api.put("/v1/clients/acme", json={"name": "Acme", "markup_percent": "25"}, headers=auth(ADMIN))
    assert reply.status_code == 200


async def test_late_and_later_priced_events_leave_the_issued_invoice_alone_and_adjust_the_next_draft(
    api: httpx.AsyncClient, settings: InvoicingSettings
) -> None:
    await insert_worked_example(settings.clickhouse)
    await put_acme(api)
    issued = await issue(api, "acme", MARCH)
    issued_csv = (await get(api, "acme", MARCH, "csv")).content

    # A late event for March, and a quarantined one priced later (by an override), both after the issue.
    await insert_priced(settings.clickhouse, [
        priced("acme", "late-1", march(20), "openai", "gpt-4o", input_tokens=120_000, input_price="2.50"),
        priced("acme", "quarantined-1", march(21), "acme-ai", "house-model", input_tokens=1_000_000,
               input_price="4.00"),
    ])

    assert (await get(api, "acme", MARCH)).content == issued.content
    assert (await get(api, "acme", MARCH, "csv")).content == issued_csv

    april = (await get(api, "acme", APRIL)).json()
    assert april["status"] == "draft"
    assert [(line["kind"], line["service_period"], line["description"], line["amount"]) for line in april["lines"]] == [
        ("usage", None, "openai gpt-4o: 1,000,000 tokens @ $2.50/1M = $2.50", "2.50"),  # April's own usage
        ("adjustment", MARCH, "Usage adjustment for March 2025 — acme-ai house-model: 1,000,000 tokens @ $4.00/1M"
         " = $4.00", "4.00"),
        ("adjustment", MARCH, "Usage adjustment for March 2025 — openai gpt-4o: 120,000 tokens @ $2.50/1M = $0.30",
         "0.30"),
    ]
    assert (april["base_cost"], april["markup_percent"], april["markup"], april["total"]) == (
        "6.80", "25", "1.70", "8.50")  # the markup applies to the adjustments as to any line
    rows = list(csv.reader(io.StringIO((await get(api, "acme", APRIL, "csv")).text)))
    assert [r[-1] for r in rows[1:]] == ["2.50", "4.00", "0.30", "6.80", "1.70", "8.50"]

    # Issued, the adjustments are billed: the next draft no longer carries them.
    april_issued = (await issue(api, "acme", APRIL)).json()
    assert (april_issued["number"], april_issued["total"]) == ("TT-2025-000002", "8.50")
    may_draft_lines = (await get(api, "acme", "2025-05")).json()["lines"]
    assert may_draft_lines == []


async def test_void_keeps_the_number_and_a_replacement_takes_the_next_one(
    api: httpx.AsyncClient, settings: InvoicingSettings
) -> None:
    await insert_worked_example(settings.clickhouse)
    first = (await issue(api, "acme", MARCH)).json()

    refused = await api.post(f"/v1/invoices/{first['number']}/void", json={}, headers=auth(ADMIN))
    assert refused.status_code == 422 and "reason" in refused.text
    voided = await api.post(f"/v1/invoices/{first['number']}/void", json={"reason": "wrong client name"},
                            headers=auth(ADMIN))
    assert voided.status_code == 200, voided.text
    assert (voided.json()["status"], voided.json()["void_reason"]) == ("void", "wrong client name")

    # Voided, the month is a draft again until it is issued anew, under the next number.
    assert (await get(api, "acme", MARCH)).json()["status"] == "draft"
    replacement = (await issue(api, "acme", MARCH)).json()
    assert (replacement["number"], replacement["replaces_number"], replacement["total"]) == (
        "TT-2025-000002", "TT-2025-000001", "10.60")

    old = (await api.get(f"/v1/documents/{first['number']}", headers=auth(ADMIN))).json()
    assert (old["status"], old["void_reason"], old["number"]) == ("void", "wrong client name", "TT-2025-000001")
    listing = (await api.get("/v1/invoices", params={"period": MARCH}, headers=auth(ADMIN))).json()
    assert [(d["number"], d["status"]) for d in listing] == [("TT-2025-000001", "void"), ("TT-2025-000002", "issued")]

    paid = await api.post(f"/v1/invoices/{replacement['number']}/pay", headers=auth(ADMIN))
    assert paid.json()["status"] == "paid"
    assert (await get(api, "acme", MARCH)).json()["status"] == "paid"
    again = await api.post(f"/v1/invoices/{first['number']}/pay", headers=auth(ADMIN))
    assert again.status_code == 409  # a void invoice never changes
    assert (await api.post("/v1/invoices/TT-2099-000009/pay", headers=auth(ADMIN))).status_code == 404


async def test_a_negative_change_becomes_a_credit_note(api: httpx.AsyncClient, settings: InvoicingSettings) -> None:
    await insert_worked_example(settings.clickhouse)
    await put_acme(api)
    march_invoice = (await issue(api, "acme", MARCH)).json()
    await insert_priced(settings.clickhouse, [
        priced("acme", "april-1", datetime(2025, 4, 3, tzinfo=UTC), "openai", "gpt-4o", input_tokens=4_000_000,
               input_price="2.50"),
    ])
    # A correction removes the gemini usage from March (e.g. it belonged to another client).
    client = await connect(settings.clickhouse)
    try:
        for table in ("usage_totals_monthly", "priced_events"):
            await client.command(f"ALTER TABLE {table} DELETE WHERE client_id = 'acme' AND model = 'gemini-1.5-pro'",
                                 settings={"mutations_sync": 2})
    finally:
        await client.close()

    april_draft = (await get(api, "acme", APRIL)).json()
    assert [line["kind"] for line in april_draft["lines"]] == ["usage"]  # the credit is not netted on the invoice

    april = (await issue(api, "acme", APRIL)).json()
    assert (april["number"], april["base_cost"], april["total"]) == ("TT-2025-000002", "12.50", "15.63")
    [note] = (await api.get("/v1/invoices", params={"kind": "credit_note"}, headers=auth(ADMIN))).json()
    assert (note["number"], note["credits_number"], note["period"], note["total"]) == (
        "CN-2025-000001", march_invoice["number"], MARCH, "-0.70")  # -0.56 and its 25% markup, -0.14
    body = (await api.get(f"/v1/documents/{note['number']}", headers=auth(ADMIN))).json()
    assert body["kind"] == "credit_note"
    assert [(line["description"], line["amount"]) for line in body["lines"]] == [
        ("Usage adjustment for March 2025 — google gemini-1.5-pro: -450,000 tokens @ $1.25/1M = -$0.56", "-0.56")]
    # The March invoice itself has not moved, and the credit is billed: nothing more to adjust.
    assert (await get(api, "acme", MARCH)).json()["total"] == "10.60"
    assert (await get(api, "acme", "2025-05")).json()["lines"] == []


async def test_two_instances_issue_100_clients_at_once_without_gap_or_duplicate(
    settings: InvoicingSettings, clock: Clock
) -> None:
    rows = [priced(f"c{i:03d}", f"e{i}", march(2), "openai", "gpt-4o", input_tokens=1_000_000, input_price="2.50")
            for i in range(100)]
    await insert_priced(settings.clickhouse, rows)
    async with AsyncExitStack() as stack:
        one, two = await _api(stack, settings, clock), await _api(stack, settings, clock)
        replies = await asyncio.gather(*(issue(api, f"c{i:03d}", MARCH) for i in range(100) for api in (one, two)))
        assert all(reply.status_code == 200 for reply in replies), [r.text for r in replies if r.status_code != 200]
        numbers = {reply.json()["client_id"]: reply.json()["number"] for reply in replies}
        # Both instances answered each client with the same invoice.
        assert all(reply.json()["number"] == numbers[reply.json()["client_id"]] for reply in replies)
        assert sorted(numbers.values()) == [f"TT-2025-{n:06d}" for n in range(1, 101)]
        listing = (await one.get("/v1/invoices", params={"period": MARCH}, headers=auth(ADMIN))).json()
        assert len(listing) == 100


async def test_client_invoicing_options(api: httpx.AsyncClient) -> None:
    assert (await api.get("/v1/clients/acme/invoicing", headers=auth(ADMIN))).json() == {
        "auto_issue": True, "grace_hours": None}
    put = await api.put("/v1/clients/acme/invoicing", json={"auto_issue": False, "grace_hours": 48},
                        headers=auth(ADMIN))
    assert put.status_code == 200
    assert (await api.get("/v1/clients/acme/invoicing", headers=auth(ADMIN))).json() == {
        "auto_issue": False, "grace_hours": 48}
    bad = await api.put("/v1/clients/acme/invoicing", json={"grace_hours": -1}, headers=auth(ADMIN))
    assert bad.status_code == 422 and "grace_hours" in bad.text




async def test_months_are_issued_automatically_after_their_grace_period(settings: InvoicingSettings) -> None:
    await insert_worked_example(settings.clickhouse)  # acme and beta used March
    await insert_priced(settings.clickhouse, [
        priced("manual", "m1", march(4), "openai", "gpt-4o", input_tokens=1_000_000, input_price="2.50")])
    clock = Clock(datetime(2025, 4, 1, 12, tzinfo=UTC))  # March ended 12 hours ago
    app = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://invoicing") as api:
            for client_id, options in (("beta", {"grace_hours": 6}), ("manual", {"auto_issue": False})):
                reply = await api.put(f"/v1/clients/{client_id}/invoicing", json=options, headers=auth(ADMIN))
                assert reply.status_code == 200
            issuer = app.state.auto_issuer

            # beta's own 6-hour grace has passed, the agency's 24 hours have not (for March; acme's
            # February, one late-night event, is long due).
            first = await issuer.run_once()
            assert [(d.client_id, d.period) for d in first] == [("beta", MARCH), ("acme", "2025-02")]
            assert sorted(d.number for d in first) == ["TT-2025-000001", "TT-2025-000002"]
            assert (await get(api, "acme", MARCH)).json()["status"] == "draft"

            clock.now = datetime(2025, 4, 2, 0, 0, 1, tzinfo=UTC)
            assert [(d.client_id, d.number) for d in await issuer.run_once()] == [("acme", "TT-2025-000003")]
            assert await issuer.run_once() == []  # nothing left: issued months are not issued again
            acme = (await get(api, "acme", MARCH)).json()
            assert (acme["status"], acme["number"], acme["total"], acme["issued_at"]) == (
                "issued", "TT-2025-000003", "10.60", "2025-04-02T00:00:01Z")

            # auto_issue: false keeps the month a draft until someone issues it by hand.
            assert (await get(api, "manual", MARCH)).json()["status"] == "draft"
            assert (await issue(api, "manual", MARCH)).json()["number"] == "TT-2025-000004"


async def test_the_auto_issue_loop_runs_in_the_background(settings: InvoicingSettings) -> None:
    await insert_worked_example(settings.clickhouse)
    looping = settings.model_copy(update={"auto_issue": True, "auto_issue_every_seconds": 0.2})
    app = create_app(looping, clock=Clock(datetime(2025, 4, 5, tzinfo=UTC)))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://invoicing") as api:
            for _ in range(100):
                listing = (await api.get("/v1/invoices", headers=auth(ADMIN))).json()
                if len(listing) == 3:
                    break
                await asyncio.sleep(0.2)
            assert sorted((d["client_id"], d["period"], d["status"]) for d in listing) == [
                ("acme", "2025-02", "issued"), ("acme", MARCH, "issued"), ("beta", MARCH, "issued")]


async def test_accounting_exports_carry_issued_documents_only(api: httpx.AsyncClient, settings: InvoicingSettings) -> None:
    await insert_worked_example(settings.clickhouse)
    acme = (await issue(api, "acme", MARCH)).json()["number"]
    beta = (await issue(api, "beta", MARCH)).json()["number"]
    await api.post(f"/v1/invoices/{beta}/void", json={"reason": "sent to the wrong address"}, headers=auth(ADMIN))
    for system in ("xero", "quickbooks"):
        # issued on 2025-05-10: in May's file (and March's by service month)
        for params in ({"period": "2025-05"}, {"period": MARCH, "basis": "service"}):
            reply = await api.get(f"/v1/exports/{system}/invoices.csv", params=params, headers=auth(ADMIN))
            assert reply.status_code == 200, reply.text
            assert acme in reply.text
            assert all(amount in reply.text for amount in ("5.25", "2.67", "0.56", "2.12"))  # lines and markup
            assert beta not in reply.text  # void
    # April is still a draft: nothing to export.
    april = await api.get("/v1/exports/xero/invoices.csv", params={"period": APRIL, "basis": "service"},
                          headers=auth(ADMIN))
    assert april.status_code == 200 and len(april.text.strip().splitlines()) == 1  # the header only
    sage = await api.get("/v1/exports/sage/invoices.csv", params={"period": MARCH}, headers=auth(ADMIN))
    assert sage.status_code == 422 and sage.json()["detail"][0]["field"] == "system"


async def test_a_replacement_does_not_bill_again_what_a_later_invoice_already_adjusted(
    api: httpx.AsyncClient, settings: InvoicingSettings
) -> None:
    await insert_worked_example(settings.clickhouse)
    await put_acme(api)
    march_number = (await issue(api, "acme", MARCH)).json()["number"]
    await insert_priced(settings.clickhouse, [
        priced("acme", "late-1", march(20), "openai", "gpt-4o", input_tokens=120_000, input_price="2.50")])
    april = (await issue(api, "acme", APRIL)).json()
    assert [line["amount"] for line in april["lines"] if line["kind"] == "adjustment"] == ["0.30"]

    await api.post(f"/v1/invoices/{march_number}/void", json={"reason": "wrong PO number"}, headers=auth(ADMIN))
    replacement = (await issue(api, "acme", MARCH)).json()
    # The late 120,000 tokens are on April's invoice already: March is billed as it was, once.
    assert (replacement["base_cost"], replacement["total"]) == ("8.48", "10.60")
    gpt = [line for line in replacement["lines"] if line["model"] == "gpt-4o"]
    assert [(line["total_tokens"], line["amount"]) for line in gpt] == [(2_100_000, "5.25")]
    assert (await get(api, "acme", "2025-05")).json()["lines"] == []  # and nothing is left to adjust
