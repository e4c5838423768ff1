"""``GET /v1/clients/{id}/alerts``: shapes, permissions and masking, against a real ClickHouse."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from pydantic import SecretStr

from libs.common.clickhouse import connect
from libs.common.settings import AuthSettings, ClickHouseSettings
from services.alerts.app import create_app
from services.alerts.delivery import Deliverer
from services.alerts.domain import Channel, DeliveryRecord, Kind, Period, Status
from services.alerts.service import AlertService
from services.alerts.settings import AlertsSettings
from services.alerts.store import AlertStore

pytestmark = pytest.mark.integration

ADMIN = "admin-key-0123456789"
ACME = "acme-client-key-0123456789"
OTHER = "other-client-key-0123456789"
KEYS = [{"key": ADMIN, "scope": "admin"}, {"key": ACME, "scope": "client:acme"}, {"key": OTHER, "scope": "client:other"}]
SECRET_URL = "mailtos://user:hunter2-secret@smtp.example.com?to=am@agency.test"


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def record(period: Period, threshold: str, status: Status, at: datetime, **changes: object) -> DeliveryRecord:
    channel = Channel(SECRET_URL)
    base = DeliveryRecord(
        client_id="acme", period=period, kind=Kind.THRESHOLD, threshold=Decimal(threshold),
        channel_id=channel.channel_id, channel=channel.label, status=status, covered_by=None,
        title="Acme is at 85% of its AI budget", message="Acme is at 85% ...", spend_usd=Decimal("85.000000000000000000"),
        budget_usd=Decimal("100.00"), projected_usd=Decimal("135.13"), attempts=1, last_error="", next_attempt_at=at,
        created_at=at, updated_at=at, delivered_at=at if status is Status.DELIVERED else None, instance="host:1",
    )
    return base.evolve(**changes)


@pytest.fixture
async def api(clickhouse_schema: ClickHouseSettings) -> AsyncIterator[httpx.AsyncClient]:
    settings = AlertsSettings(clickhouse=clickhouse_schema, auth=AuthSettings(api_keys=SecretStr(json.dumps(KEYS))))
    app = create_app(settings)
    clickhouse = await connect(clickhouse_schema)
    store = AlertStore(clickhouse)
    at = datetime(2026, 10, 20, 12, tzinfo=UTC)
    await store.save([
        record(Period(2026, 10), "0.8", Status.SENDING, at, attempts=0),
        record(Period(2026, 10), "0.8", Status.DELIVERED, at),  # newer version of the same row
        record(Period(2026, 10), "0.5", Status.COVERED, at, covered_by=Decimal("0.8"), title="", message=""),
        record(Period(2026, 11), "1", Status.RETRYING, at + timedelta(days=20), attempts=3,
               last_error="Connection error while submitting email", next_attempt_at=at + timedelta(days=20, minutes=1)),
    ])
    # the routes only need the store; no Kafka here (the lifespan is not run)
    app.state.runtime.service = AlertService(store, Deliverer(store, None, settings.retry_policy, "t"),  # type: ignore[arg-type]
                                             None, settings, "t")  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://alerts") as client:
        yield client
    await clickhouse.close()


async def test_lists_alerts_newest_first_with_masked_channels(api: httpx.AsyncClient) -> None:
    reply = await api.get("/v1/clients/acme/alerts", headers=auth(ADMIN))
    assert reply.status_code == 200
    alerts = reply.json()
    assert [(a["period"], a["threshold"], a["status"]) for a in alerts] == [
        ("2026-11", "1", "retrying"), ("2026-10", "0.8", "delivered"), ("2026-10", "0.5", "covered"),
    ]
    retrying, delivered, covered = alerts
    assert delivered == {
        "period": "2026-10", "kind": "threshold", "threshold": "0.8", "channel": "mailtos://***@smtp.example.com/***",
        "status": "delivered", "covered_by": None, "attempts": 1, "last_error": "",
        "title": "Acme is at 85% of its AI budget", "message": "Acme is at 85% ...", "spend_usd": "85",
        "budget_usd": "100", "projected_usd": "135.13", "created_at": "2026-10-20T12:00:00Z",
        "updated_at": "2026-10-20T12:00:00Z", "delivered_at": "2026-10-20T12:00:00Z", "next_attempt_at": None,
        "instance": "host:1",
    }
    assert covered["covered_by"] == "0.8"
    assert retrying["next_attempt_at"] == "2026-11-09T12:01:00Z"
    assert retrying["last_error"] == "Connection error while submitting email"
    assert "hunter2" not in reply.text


async def test_filters_by_period_and_limits(api: httpx.AsyncClient) -> None:
    october = await api.get("/v1/clients/acme/alerts", params={"period": "2026-10"}, headers=auth(ACME))
    assert october.status_code == 200 and {a["period"] for a in october.json()} == {"2026-10"}
    one = await api.get("/v1/clients/acme/alerts", params={"limit": 1}, headers=auth(ADMIN))
    assert len(one.json()) == 1
    assert (await api.get("/v1/clients/nobody/alerts", headers=auth(ADMIN))).json() == []


@pytest.mark.parametrize(("params", "field"), [({"period": "2026-13"}, "period"), ({"limit": 0}, "limit")])
async def test_bad_parameters_are_field_errors(api: httpx.AsyncClient, params: dict, field: str) -> None:
    reply = await api.get("/v1/clients/acme/alerts", params=params, headers=auth(ADMIN))
    assert reply.status_code == 422
    assert reply.json()["error"] == "invalid_request"
    assert reply.json()["detail"][0]["field"] == field


async def test_only_admin_and_the_clients_own_key_may_read(api: httpx.AsyncClient) -> None:
    assert (await api.get("/v1/clients/acme/alerts", headers=auth(ACME))).status_code == 200
    assert (await api.get("/v1/clients/acme/alerts", headers=auth(OTHER))).status_code == 403
    assert (await api.get("/v1/clients/acme/alerts")).status_code == 401
    assert (await api.get("/v1/clients/acme/alerts", headers=auth("x" * 32))).status_code == 401
    # permission is checked before anything else about the request
    assert (await api.get("/v1/clients/acme/alerts", params={"period": "bad"}, headers=auth(OTHER))).status_code == 403


async def test_healthz(api: httpx.AsyncClient) -> None:
    assert (await api.get("/healthz")).json() == {"status": "ok"}
