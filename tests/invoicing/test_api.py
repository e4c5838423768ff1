"""The invoicing API against a real ClickHouse: priced events in, invoices out, to the cent."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from libs.common.clickhouse import connect
from libs.common.money import token_cost
from libs.common.settings import AuthSettings, BillingDefaults, ClickHouseSettings, KafkaSettings
from services.aggregator.rows import PRICED_COLUMNS
from services.invoicing.app import create_app
from services.invoicing.settings import DatabaseSettings, InvoicingSettings

pytestmark = pytest.mark.integration

ADMIN = "admin-key-0123456789"
ACME = "acme-client-key-0123456789"
OTHER = "other-client-key-0123456789"
KEYS = [
    {"key": ADMIN, "scope": "admin"},
    {"key": ACME, "scope": "client:acme"},
    {"key": OTHER, "scope": "client:other"},
]
MARCH = "2025-03"  # long closed


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}




def priced(
    client_id: str, event_id: str, at: datetime, provider: str, model: str, *,
    input_tokens: int = 0, output_tokens: int = 0, input_price: str = "0", output_price: str = "0",
) -> list[Any]:
    """A ``priced_events`` row as the aggregator writes it (exact costs, never rounded)."""
    input_usd = token_cost(input_tokens, Decimal(input_price))
    output_usd = token_cost(output_tokens, Decimal(output_price))
    zero = Decimal(0)
    return [
        client_id, event_id, at, at, at, provider, model, "", {},
        input_tokens, output_tokens, 0, 0, 0,
        "catalog", f"{provider}/{model}", None, "",
        Decimal(input_price), Decimal(output_price), zero, zero, zero,
        input_usd, output_usd, zero, zero, zero, input_usd + output_usd,
    ]


async def insert_priced(settings: ClickHouseSettings, rows: list[list[Any]]) -> None:
    client = await connect(settings)
    try:
        # the first five buckets' columns only: the unit buckets' (appended after them) read 0
        await client.insert("priced_events", rows, column_names=list(PRICED_COLUMNS[: len(rows[0])]))
    finally:
        await client.close()


def march(day: int, hour: int = 12) -> datetime:
    return datetime(2025, 3, day, hour, tzinfo=UTC)


async def insert_worked_example(settings: ClickHouseSettings) -> None:
    """The brief's invoice for acme, spread over several events and inserts (so several unmerged parts)."""
    await insert_priced(settings, [
        priced("acme", "e1", march(1), "openai", "gpt-4o", input_tokens=1_000_000, input_price="2.50"),
        priced("acme", "e2", march(2), "anthropic", "claude-3-5-sonnet", input_tokens=890_000, input_price="3.00"),
        priced("acme", "e3", march(3), "google", "gemini-1.5-pro", input_tokens=150_000, input_price="1.25"),
    ])
    await insert_priced(settings, [
        priced("acme", "e4", march(10), "openai", "gpt-4o", input_tokens=1_100_000, input_price="2.50"),
        priced("acme", "e5", march(31, 23), "google", "gemini-1.5-pro", input_tokens=300_000, input_price="1.25"),
        # Outside March, or another client's: must not show up.
        priced("acme", "e6", datetime(2025, 4, 1, tzinfo=UTC), "openai", "gpt-4o", input_tokens=10**6,
               input_price="2.50"),
        priced("acme", "e7", datetime(2025, 2, 28, 23, 59, 59, tzinfo=UTC), "openai", "gpt-4o",
               input_tokens=10**6, input_price="2.50"),
        priced("beta", "b1", march(5), "anthropic", "claude-3-5-sonnet", input_tokens=1_000, output_tokens=500,
               input_price="3.00", output_price="15.00"),
    ])


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
    )


@pytest.fixture
async def api(settings: InvoicingSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):  # what uvicorn runs: schema, then one ClickHouse client
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://invoicing") as client:
            yield client


async def put_client(api: httpx.AsyncClient, client_id: str, body: dict[str, Any]) -> httpx.Response:
    return await api.put(f"/v1/clients/{client_id}", json=body, headers=auth(ADMIN))


async def test_worked_example_invoice(api: httpx.AsyncClient, settings: InvoicingSettings) -> None:
    await insert_worked_example(settings.clickhouse)

    response = await api.get(f"/v1/clients/acme/invoices/{MARCH}", headers=auth(ADMIN))

    assert response.status_code == 200, response.text
    body = response.json()
    assert [(line["model"], line["events"], line["total_tokens"], line["amount_exact"], line["amount"])
            for line in body["lines"]] == [
        ("gpt-4o", 2, 2_100_000, "5.25", "5.25"),
        ("claude-3-5-sonnet", 1, 890_000, "2.67", "2.67"),
        ("gemini-1.5-pro", 2, 450_000, "0.5625", "0.56"),
    ]
    assert [line["description"] for line in body["lines"]] == [
        "openai gpt-4o: 2,100,000 tokens @ $2.50/1M = $5.25",
        "anthropic claude-3-5-sonnet: 890,000 tokens @ $3.00/1M = $2.67",
        "google gemini-1.5-pro: 450,000 tokens @ $1.25/1M = $0.56",
    ]
    assert body["lines"][0]["unit_prices"]["input_per_mtok"] == "2.50"
    assert body["lines"][0]["price"] == {"source": "catalog", "price_id": "openai/gpt-4o", "tier": ""}
    assert {k: body[k] for k in ("base_cost", "markup_percent", "markup", "total", "currency", "status")} == {
        "base_cost": "8.48", "markup_percent": "25", "markup": "2.12", "total": "10.60", "currency": "USD",
        "status": "draft",  # ended, but not issued yet
    }
    assert body["number"] is None
    assert (body["client_id"], body["name"], body["period"]) == ("acme", None, MARCH)
    assert (body["period_start"], body["period_end"]) == ("2025-03-01T00:00:00Z", "2025-04-01T00:00:00Z")

    # The client's own key reads the same invoice.
    own = await api.get(f"/v1/clients/acme/invoices/{MARCH}", headers=auth(ACME))
    assert own.status_code == 200 and own.json()["total"] == "10.60"


async def test_markup_comes_from_the_client_record(api: httpx.AsyncClient, settings: InvoicingSettings) -> None:
    await insert_worked_example(settings.clickhouse)
    assert (await put_client(api, "acme", {"name": "Acme Corp", "markup_percent": "10"})).status_code == 200

    body = (await api.get(f"/v1/clients/acme/invoices/{MARCH}", headers=auth(ADMIN))).json()

    assert (body["name"], body["base_cost"], body["markup_percent"], body["markup"], body["total"]) == (
        "Acme Corp", "8.48", "10", "0.85", "9.33",
    )

    # A later version replaces it on the draft (ReplacingMergeTree: the newest updated_at wins).
    await put_client(api, "acme", {"name": "Acme Corp", "markup_percent": "12.5"})
    body = (await api.get(f"/v1/clients/acme/invoices/{MARCH}", headers=auth(ADMIN))).json()
    assert (body["status"], body["markup_percent"], body["markup"], body["total"]) == ("draft", "12.5", "1.06", "9.54")

    # Once issued, the invoice keeps the markup it was issued with, whatever the record says later.
    issued = await api.post(f"/v1/clients/acme/invoices/{MARCH}/issue", headers=auth(ADMIN))
    assert issued.status_code == 200, issued.text
    await put_client(api, "acme", {"name": "Acme Corp", "markup_percent": "40"})
    body = (await api.get(f"/v1/clients/acme/invoices/{MARCH}", headers=auth(ADMIN))).json()
    assert (body["status"], body["markup_percent"], body["markup"], body["total"]) == ("issued", "12.5", "1.06", "9.54")


async def test_multi_bucket_line_and_current_month_is_open(
    api: httpx.AsyncClient, settings: InvoicingSettings
) -> None:
    now = datetime.now(UTC)
    await insert_priced(settings.clickhouse, [
        priced("beta", "b1", now, "anthropic", "claude-3-5-sonnet", input_tokens=1_000, output_tokens=500,
               input_price="3.00", output_price="15.00"),
    ])

    body = (await api.get(f"/v1/clients/beta/invoices/{now:%Y-%m}", headers=auth(ADMIN))).json()

    assert body["status"] == "draft"
    [line] = body["lines"]
    assert line["description"] == (
        "anthropic claude-3-5-sonnet: 1,000 input @ $3.00/1M + 500 output @ $15.00/1M = $0.01"
    )
    assert (line["amount_exact"], line["amount"], line["input_tokens"], line["output_tokens"]) == (
        "0.0105", "0.01", 1_000, 500,
    )
    assert (body["base_cost"], body["markup"], body["total"]) == ("0.01", "0.00", "0.01")


async def test_invoice_as_csv(api: httpx.AsyncClient, settings: InvoicingSettings) -> None:
    await insert_worked_example(settings.clickhouse)

    response = await api.get(f"/v1/clients/acme/invoices/{MARCH}", params={"format": "csv"}, headers=auth(ACME))

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == f'attachment; filename="invoice-acme-{MARCH}.csv"'
    rows = list(csv.reader(io.StringIO(response.text)))
    header, lines, totals = rows[0], rows[1:4], rows[4:]
    assert header[:4] == ["type", "provider", "model", "description"] and header[-2:] == ["amount_exact", "amount"]
    assert [(r[2], r[-2], r[-1]) for r in lines] == [
        ("gpt-4o", "5.25", "5.25"), ("claude-3-5-sonnet", "2.67", "2.67"), ("gemini-1.5-pro", "0.5625", "0.56"),
    ]
    assert [(r[0], r[-1]) for r in totals] == [("base_cost", "8.48"), ("markup", "2.12"), ("total", "10.60")]

    bad = await api.get(f"/v1/clients/acme/invoices/{MARCH}", params={"format": "xlsx"}, headers=auth(ACME))
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "format"


async def test_listing_of_a_period(api: httpx.AsyncClient, settings: InvoicingSettings) -> None:
    await insert_worked_example(settings.clickhouse)
    await put_client(api, "beta", {"name": "Beta", "markup_percent": "0"})
    await put_client(api, "idle", {"name": "Idle Ltd"})  # a record, no usage: a zero line

    response = await api.get(f"/v1/invoices/{MARCH}", headers=auth(ADMIN))

    assert response.status_code == 200, response.text
    assert response.json() == [
        {"client_id": "acme", "name": None, "base_cost": "8.48", "markup_percent": "25", "markup": "2.12",
         "tax": "0.00", "total": "10.60", "events": 5},
        {"client_id": "beta", "name": "Beta", "base_cost": "0.01", "markup_percent": "0", "markup": "0.00",
         "tax": "0.00", "total": "0.01", "events": 1},
    ]  # idle was created today, after March ended: it had no March invoice
    now = datetime.now(UTC)
    current = (await api.get(f"/v1/invoices/{now:%Y-%m}", headers=auth(ADMIN))).json()
    assert [(s["client_id"], s["total"], s["events"]) for s in current] == [("beta", "0.00", 0), ("idle", "0.00", 0)]

    # Each summary matches the client's own invoice.
    for summary in response.json():
        own = (await api.get(f"/v1/clients/{summary['client_id']}/invoices/{MARCH}", headers=auth(ADMIN))).json()
        assert (own["base_cost"], own["markup"], own["total"]) == (
            summary["base_cost"], summary["markup"], summary["total"],
        )

    forbidden = await api.get(f"/v1/invoices/{MARCH}", headers=auth(ACME))
    assert forbidden.status_code == 403


async def test_client_records(api: httpx.AsyncClient) -> None:
    created = await put_client(api, "acme", {
        "name": "Acme Corp", "monthly_budget": "500", "alert_thresholds": ["1.0", "0.5", "0.9"],
        "notify": ["mailto://user:pass@example.com"],
    })
    assert created.status_code == 200, created.text
    first = created.json()
    assert {k: first[k] for k in ("client_id", "name", "markup_percent", "monthly_budget", "alert_thresholds",
                                  "notify")} == {
        "client_id": "acme", "name": "Acme Corp", "markup_percent": "25", "monthly_budget": "500.00",
        "alert_thresholds": ["0.5", "0.9", "1"], "notify": ["mailto://user:pass@example.com"],
    }
    stored = await api.get("/v1/clients/acme", headers=auth(ADMIN))
    assert stored.status_code == 200 and stored.json() == first
    own = await api.get("/v1/clients/acme", headers=auth(ACME))  # the client's own key: secrets masked
    assert own.status_code == 200
    assert own.json() == {**first, "notify": ["mailto://***@example.com"]}

    updated = (await put_client(api, "acme", {"name": "Acme Inc", "markup_percent": 30})).json()
    assert updated["created_at"] == first["created_at"]
    assert updated["updated_at"] > first["updated_at"]
    assert (await api.get("/v1/clients/acme", headers=auth(ADMIN))).json() == updated

    await put_client(api, "beta.eu:1", {"name": "Beta"})
    listing = await api.get("/v1/clients", headers=auth(ADMIN))
    assert listing.status_code == 200
    assert [(c["client_id"], c["name"], c["markup_percent"]) for c in listing.json()] == [
        ("acme", "Acme Inc", "30"), ("beta.eu:1", "Beta", "25"),
    ]


async def test_not_found(api: httpx.AsyncClient) -> None:
    invoice = await api.get(f"/v1/clients/nobody/invoices/{MARCH}", headers=auth(ADMIN))
    record = await api.get("/v1/clients/nobody", headers=auth(ADMIN))

    assert invoice.status_code == 404 and invoice.json()["error"] == "not_found"
    assert record.status_code == 404 and record.json() == {"error": "not_found", "detail": "no client 'nobody'"}


async def test_record_without_usage_is_a_zero_invoice(api: httpx.AsyncClient) -> None:
    await put_client(api, "idle", {"name": "Idle Ltd"})

    body = (await api.get(f"/v1/clients/idle/invoices/{MARCH}", headers=auth(ADMIN))).json()

    assert (body["lines"], body["base_cost"], body["markup"], body["total"]) == ([], "0.00", "0.00", "0.00")


@pytest.mark.parametrize("period", ["2026-13", "2026-00", "2026-1", "march", "1969-12"])
async def test_bad_period_is_422(api: httpx.AsyncClient, period: str) -> None:
    for path in (f"/v1/clients/acme/invoices/{period}", f"/v1/invoices/{period}"):
        response = await api.get(path, headers=auth(ADMIN))
        assert response.status_code == 422, response.text
        assert response.json()["error"] == "invalid_request"
        assert [e["field"] for e in response.json()["detail"]] == ["period"]


async def test_field_errors_are_reported_together_after_authentication(api: httpx.AsyncClient) -> None:
    both = await api.get("/v1/clients/-acme/invoices/2026-13", headers=auth(ADMIN))
    anonymous = await api.get("/v1/clients/acme/invoices/2026-13")
    anonymous_bad_id = await api.get("/v1/clients/-acme/invoices/2026-13")
    anonymous_put = await api.put("/v1/clients/-acme", json={"name": ""})
    other = await api.get("/v1/clients/acme/invoices/2026-13", headers=auth(OTHER))

    assert both.status_code == 422
    assert sorted(e["field"] for e in both.json()["detail"]) == ["client_id", "period"]
    assert "month 13 does not exist" in {e["field"]: e["message"] for e in both.json()["detail"]}["period"]
    assert anonymous.status_code == anonymous_bad_id.status_code == anonymous_put.status_code == 401
    assert other.status_code == 403


@pytest.mark.parametrize("client_id", ["-acme", "ac me", "a" * 65, "acme!", "_x"])
async def test_bad_client_id_is_422(api: httpx.AsyncClient, client_id: str) -> None:
    for response in (
        await put_client(api, client_id, {"name": "x"}),
        await api.get(f"/v1/clients/{client_id}", headers=auth(ADMIN)),
        await api.get(f"/v1/clients/{client_id}/invoices/{MARCH}", headers=auth(ADMIN)),
    ):
        assert response.status_code == 422, response.text
        assert [e["field"] for e in response.json()["detail"]] == ["client_id"]


async def test_bad_client_bodies_are_422_naming_the_field(api: httpx.AsyncClient) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"name": "x", "notify": ["json://localhost", "definitely not a url"]}, "notify.1"),
        ({"name": "x", "notify": ["mailto://"]}, "notify.0"),
        ({"name": "x", "markup_percent": "1000.5"}, "markup_percent"),
        ({"name": "x", "monthly_budget": "1.001"}, "monthly_budget"),
        ({"name": "x", "alert_thresholds": ["0.5", "0.50"]}, "alert_thresholds"),
        ({"name": ""}, "name"),
    ]
    for body, field in cases:
        response = await put_client(api, "acme", body)
        assert response.status_code == 422, (body, response.text)
        assert field in [e["field"] for e in response.json()["detail"]], (body, response.json())
    assert (await api.get("/v1/clients/acme", headers=auth(ADMIN))).status_code == 404  # nothing was saved


async def test_authentication_and_scopes(api: httpx.AsyncClient, settings: InvoicingSettings) -> None:
    await insert_worked_example(settings.clickhouse)
    invoice = f"/v1/clients/acme/invoices/{MARCH}"

    missing = await api.get(invoice)
    unknown = await api.get(invoice, headers=auth("not-a-known-key-at-all"))
    other = await api.get(invoice, headers=auth(OTHER))
    other_record = await api.get("/v1/clients/acme", headers=auth(OTHER))
    client_put = await api.put("/v1/clients/acme", json={"name": "x"}, headers=auth(ACME))
    client_put_bad_body = await api.put("/v1/clients/acme", json={"name": ""}, headers=auth(ACME))
    client_list = await api.get("/v1/clients", headers=auth(ACME))

    assert missing.status_code == 401 and missing.json()["error"] == "unauthorized"
    assert missing.headers["www-authenticate"] == "Bearer"
    assert unknown.status_code == 401
    assert other.status_code == 403 and other.json()["error"] == "forbidden"
    assert other_record.status_code == 403
    assert client_put.status_code == 403
    assert client_put_bad_body.status_code == 403  # permissions are checked before the body
    assert client_list.status_code == 403
    assert (await api.put("/v1/clients/acme", json={"name": "x"})).status_code == 401


async def test_healthz(api: httpx.AsyncClient) -> None:
    response = await api.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


async def test_daily_usage_per_model_within_the_month(api: httpx.AsyncClient, settings: InvoicingSettings) -> None:
    await insert_worked_example(settings.clickhouse)

    reply = await api.get(f"/v1/clients/acme/usage/{MARCH}", headers=auth(ACME))

    assert reply.status_code == 200, reply.text
    days = [(d["day"], d["model"], d["events"], d["input_tokens"], d["cost_usd"]) for d in reply.json()]
    assert days == [
        ("2025-03-01", "gpt-4o", 1, 1_000_000, "2.50"),
        ("2025-03-02", "claude-3-5-sonnet", 1, 890_000, "2.67"),
        ("2025-03-03", "gemini-1.5-pro", 1, 150_000, "0.1875"),
        ("2025-03-10", "gpt-4o", 1, 1_100_000, "2.75"),
        ("2025-03-31", "gemini-1.5-pro", 1, 300_000, "0.375"),
    ]
    assert (await api.get(f"/v1/clients/beta/usage/{MARCH}", headers=auth(ACME))).status_code == 403


async def test_a_closed_month_keeps_the_markup_in_force_when_it_ended(
    api: httpx.AsyncClient, settings: InvoicingSettings
) -> None:
    await insert_worked_example(settings.clickhouse)
    history = await connect(settings.clickhouse)
    try:  # acme's record as it was written in February 2025, at 25%
        then = datetime(2025, 2, 1, tzinfo=UTC)
        row = ["acme", "Acme", Decimal(25), None, [], [], then, then]
        await history.insert("client_history", [row], column_names=["client_id", "name", "markup_percent",
                             "monthly_budget", "alert_thresholds", "notify", "created_at", "updated_at"])
    finally:
        await history.close()
    await put_client(api, "acme", {"name": "Acme", "markup_percent": "40"})  # edited today

    march_invoice = (await api.get(f"/v1/clients/acme/invoices/{MARCH}", headers=auth(ADMIN))).json()
    listing = (await api.get(f"/v1/invoices/{MARCH}", headers=auth(ADMIN))).json()
    this_month = (await api.get(f"/v1/clients/acme/invoices/{datetime.now(UTC):%Y-%m}", headers=auth(ADMIN))).json()

    assert (march_invoice["markup_percent"], march_invoice["total"]) == ("25", "10.60")
    assert [(s["client_id"], s["markup_percent"]) for s in listing if s["client_id"] == "acme"] == [("acme", "25")]
    assert this_month["markup_percent"] == "40"


async def test_an_unreachable_store_is_a_503_without_hosts_or_ports_which_go_to_the_log(
        settings: InvoicingSettings, caplog: pytest.LogCaptureFixture) -> None:
    from deploy.local_clickhouse import free_port

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        port = free_port()
        app.state.clickhouse._backend._base_url = f"http://127.0.0.1:{port}/"  # the server moved: nothing listens there
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://invoicing") as client:
            reply = await client.get(f"/v1/clients/acme/invoices/{MARCH}", headers=auth(ADMIN))

    assert reply.status_code == 503
    assert reply.headers["retry-after"]
    assert reply.json() == {"error": "unavailable", "detail": "the usage store is not reachable; retry later"}
    assert str(port) not in reply.text and "127.0.0.1" not in reply.text
    assert any(str(port) in record.getMessage() for record in caplog.records)  # the operator still sees where
