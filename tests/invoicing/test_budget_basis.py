"""``budget_basis`` on a real ClickHouse: records from before the column mean cost, new clients billed."""

from __future__ import annotations

import json

import httpx
import pytest
from pydantic import SecretStr

from libs.common.clickhouse import connect, ensure_schema
from libs.common.settings import AuthSettings, ClickHouseSettings, KafkaSettings
from services.invoicing.app import create_app
from services.invoicing.settings import DatabaseSettings, InvoicingSettings

pytestmark = pytest.mark.integration

ADMIN = "admin-key-0123456789"
OLD_CLIENTS = """
CREATE TABLE {name} (
    client_id String, name String, markup_percent Decimal(9, 4), monthly_budget Nullable(Decimal(38, 2)),
    alert_thresholds Array(Decimal(9, 4)), notify Array(String),
    created_at DateTime64(6, 'UTC'), updated_at DateTime64(6, 'UTC')
) ENGINE = {engine} ORDER BY {order}
"""


async def test_an_upgrade_keeps_existing_budgets_at_cost_and_new_clients_are_billed(
    clickhouse_settings: ClickHouseSettings, database_url: str, kafka_settings: KafkaSettings,
) -> None:
    admin = await connect(clickhouse_settings, database="default")
    await admin.command(f"CREATE DATABASE `{clickhouse_settings.database}`")
    await admin.close()
    client = await connect(clickhouse_settings)
    for name, engine, order in (("clients", "ReplacingMergeTree(updated_at)", "client_id"),
                                ("client_history", "MergeTree", "(client_id, updated_at)")):
        await client.command(OLD_CLIENTS.format(name=name, engine=engine, order=order))
        await client.command(f"INSERT INTO {name} VALUES ('old', 'Old Co', 20, 100, [0.8], [],"
                             " '2026-01-01 00:00:00', '2026-01-01 00:00:00')")
    await client.close()
    await ensure_schema(clickhouse_settings)  # the upgrade: the column appears, old rows read 'cost'

    settings = InvoicingSettings(clickhouse=clickhouse_settings, kafka=kafka_settings,
                                 database=DatabaseSettings(url=SecretStr(database_url)),
                                 auth=AuthSettings(api_keys=SecretStr(json.dumps([{"key": ADMIN, "scope": "admin"}]))))
    app = create_app(settings)
    headers = {"Authorization": f"Bearer {ADMIN}"}
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://i") as api:
            assert (await api.get("/v1/clients/old", headers=headers)).json()["budget_basis"] == "cost"
            kept = await api.put("/v1/clients/old", json={"name": "Old Co", "monthly_budget": "150"}, headers=headers)
            assert kept.json()["budget_basis"] == "cost"  # editing it does not change what the budget means
            new = await api.put("/v1/clients/new", json={"name": "New Co"}, headers=headers)
            assert new.json()["budget_basis"] == "billed"
            bad = await api.put("/v1/clients/new", json={"name": "New Co", "budget_basis": "euros"}, headers=headers)
            assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "budget_basis"
            switched = await api.put("/v1/clients/old", json={"name": "Old Co", "budget_basis": "billed"},
                                     headers=headers)
            assert switched.json()["budget_basis"] == "billed"
            assert (await api.get("/v1/clients/old", headers=headers)).json()["budget_basis"] == "billed"
