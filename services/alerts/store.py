"""ClickHouse reads and writes for alerts: one small builder per query, always parameterised.

- ``usage_totals_monthly`` is a SummingMergeTree whose parts may not be merged yet: every
  read sums ``cost_usd`` with ``GROUP BY``.
- ``clients`` is a ReplacingMergeTree(updated_at): read with ``FINAL``.
- ``alert_deliveries`` (ours) is a ReplacingMergeTree(version) keyed by
  (client_id, period, kind, threshold, channel_id): a state change is an insert of a newer
  version, reads use ``FINAL``. Inserts are synchronous (no ``async_insert``), so a read
  that follows an insert sees it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from clickhouse_connect.driver.asyncclient import AsyncClient
from clickhouse_connect.driver.exceptions import OperationalError

from libs.common.errors import Unavailable
from libs.common.failures import describe
from services.alerts.domain import (
    AlertKey,
    BudgetSettings,
    DeliveryRecord,
    Kind,
    ModelSpend,
    Period,
    SpendSnapshot,
    Status,
)

log = logging.getLogger(__name__)

__all__ = [
    "DELIVERY_COLUMNS",
    "AlertStore",
    "Query",
    "budgeted_clients_query",
    "client_alerts_query",
    "client_query",
    "client_spend_query",
    "due_query",
    "period_alert_keys_query",
    "period_records_query",
    "period_totals_query",
    "sent_counts_query",
]

DELIVERY_COLUMNS = (
    "client_id", "period", "kind", "threshold", "channel_id", "channel", "status", "covered_by", "title", "message",
    "spend_usd", "budget_usd", "projected_usd", "attempts", "last_error", "next_attempt_at", "created_at",
    "updated_at", "delivered_at", "instance",
)
_CLIENT_COLUMNS = ("client_id", "name", "monthly_budget", "alert_thresholds", "notify", "markup_percent", "budget_basis")


@dataclass(frozen=True, slots=True)
class Query:
    sql: str
    parameters: dict[str, Any] = field(default_factory=dict)


def client_query(client_id: str) -> Query:
    return Query(
        f"SELECT {', '.join(_CLIENT_COLUMNS)} FROM clients FINAL WHERE client_id = {{client_id:String}}",
        {"client_id": client_id},
    )


def budgeted_clients_query() -> Query:
    """Clients with a positive budget and at least one notify target."""
    return Query(
        f"SELECT {', '.join(_CLIENT_COLUMNS)} FROM clients FINAL"
        " WHERE monthly_budget > 0 AND notEmpty(notify) ORDER BY client_id"
    )


def client_spend_query(client_id: str, period: Period) -> Query:
    """One client's month-to-date cost per model, biggest first."""
    return Query(
        "SELECT provider, model, sum(cost_usd) AS sum_cost_usd FROM usage_totals_monthly"
        " WHERE client_id = {client_id:String} AND month = {month:Date}"
        " GROUP BY provider, model ORDER BY sum_cost_usd DESC, provider, model",
        {"client_id": client_id, "month": period.first_day},
    )


def period_totals_query(period: Period) -> Query:
    """Every client's month-to-date cost, in one scan (the sweep's first look)."""
    return Query(
        "SELECT client_id, sum(cost_usd) AS sum_cost_usd FROM usage_totals_monthly"
        " WHERE month = {month:Date} GROUP BY client_id",
        {"month": period.first_day},
    )


def period_records_query(client_id: str, period: Period) -> Query:
    return Query(
        f"SELECT {', '.join(DELIVERY_COLUMNS)} FROM alert_deliveries FINAL"
        " WHERE client_id = {client_id:String} AND period = {period:Date}",
        {"client_id": client_id, "period": period.first_day},
    )


def period_alert_keys_query(period: Period) -> Query:
    """Which alerts have fired, per client, for a period (keys only)."""
    return Query(
        "SELECT DISTINCT client_id, kind, threshold FROM alert_deliveries WHERE period = {period:Date}",
        {"period": period.first_day},
    )


def sent_counts_query(period: Period) -> Query:
    """Per client, how many alerts (thresholds or forecast) reached at least one channel in a period."""
    return Query(
        "SELECT client_id, uniqExactIf((kind, threshold), status = 'delivered') AS sent"
        " FROM alert_deliveries FINAL WHERE period = {period:Date} GROUP BY client_id ORDER BY client_id",
        {"period": period.first_day},
    )


def due_query(now: datetime, lease: timedelta) -> Query:
    """Deliveries to attempt again: retries whose time has come, and sends interrupted by a crash."""
    return Query(
        f"SELECT {', '.join(DELIVERY_COLUMNS)} FROM alert_deliveries FINAL"
        " WHERE (status = 'retrying' AND next_attempt_at <= {now:DateTime64(6, 'UTC')})"
        " OR (status = 'sending' AND updated_at < {stale:DateTime64(6, 'UTC')})"
        " ORDER BY next_attempt_at LIMIT 10000",
        {"now": now, "stale": now - lease},
    )


def client_alerts_query(client_id: str, period: Period | None, limit: int) -> Query:
    where = "client_id = {client_id:String}" + (" AND period = {period:Date}" if period else "")
    return Query(
        f"SELECT {', '.join(DELIVERY_COLUMNS)} FROM alert_deliveries FINAL WHERE {where}"
        " ORDER BY created_at DESC, kind, threshold DESC, channel LIMIT {limit:UInt32}",
        {"client_id": client_id, "period": period.first_day if period else None, "limit": limit},
    )


def _settings(row: dict[str, Any]) -> BudgetSettings:
    return BudgetSettings(
        client_id=row["client_id"],
        name=row["name"],
        monthly_budget=row["monthly_budget"],
        thresholds=tuple(Decimal(t).normalize() for t in row["alert_thresholds"]),
        notify=tuple(row["notify"]),
        markup_percent=Decimal(row["markup_percent"]),
        budget_basis="billed" if row.get("budget_basis") == "billed" else "cost",
    )


def _record(row: dict[str, Any]) -> DeliveryRecord:
    return DeliveryRecord(
        client_id=row["client_id"],
        period=Period.of_date(row["period"]),
        kind=Kind(row["kind"]),
        threshold=Decimal(row["threshold"]).normalize(),
        channel_id=row["channel_id"],
        channel=row["channel"],
        status=Status(row["status"]),
        covered_by=None if row["covered_by"] is None else Decimal(row["covered_by"]).normalize(),
        title=row["title"],
        message=row["message"],
        spend_usd=row["spend_usd"],
        budget_usd=row["budget_usd"],
        projected_usd=row["projected_usd"],
        attempts=int(row["attempts"]),
        last_error=row["last_error"],
        next_attempt_at=row["next_attempt_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        delivered_at=row["delivered_at"],
        instance=row["instance"],
    )


class Versions:
    """Row versions: microseconds of wall time, strictly increasing within the process."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> int:
        self._last = max(self._last + 1, time.time_ns() // 1000)
        return self._last


class AlertStore:
    """Queries over one shared async client (created in the app's lifespan)."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client
        self._versions = Versions()

    async def _rows(self, query: Query) -> list[dict[str, Any]]:
        try:
            result = await self._client.query(query.sql, parameters=query.parameters)
        except OperationalError as exc:  # not reachable: a 503 to retry, not a 500
            log.warning("ClickHouse is not reachable: %s", describe(exc))  # hosts and ports: the log only
            raise Unavailable("the alert store is not reachable; retry later") from exc
        return list(result.named_results())

    async def client(self, client_id: str) -> BudgetSettings | None:
        rows = await self._rows(client_query(client_id))
        return _settings(rows[0]) if rows else None

    async def budgeted_clients(self) -> list[BudgetSettings]:
        return [_settings(row) for row in await self._rows(budgeted_clients_query())]

    async def spend(self, client_id: str, period: Period) -> SpendSnapshot:
        rows = await self._rows(client_spend_query(client_id, period))
        models = tuple(ModelSpend(r["provider"], r["model"], r["sum_cost_usd"]) for r in rows)
        return SpendSnapshot(total_usd=sum((m.cost_usd for m in models), Decimal(0)), by_model=models)

    async def period_totals(self, period: Period) -> dict[str, Decimal]:
        return {r["client_id"]: r["sum_cost_usd"] for r in await self._rows(period_totals_query(period))}

    async def records(self, client_id: str, period: Period) -> list[DeliveryRecord]:
        return [_record(row) for row in await self._rows(period_records_query(client_id, period))]

    async def fired(self, period: Period) -> dict[str, set[AlertKey]]:
        fired: dict[str, set[AlertKey]] = {}
        for row in await self._rows(period_alert_keys_query(period)):
            key = AlertKey(Kind(row["kind"]), Decimal(row["threshold"]).normalize())
            fired.setdefault(row["client_id"], set()).add(key)
        return fired

    async def sent_counts(self, period: Period) -> dict[str, int]:
        return {r["client_id"]: int(r["sent"]) for r in await self._rows(sent_counts_query(period))}

    async def due(self, now: datetime, lease: timedelta) -> list[DeliveryRecord]:
        return [_record(row) for row in await self._rows(due_query(now, lease))]

    async def client_alerts(self, client_id: str, period: Period | None, limit: int) -> list[DeliveryRecord]:
        return [_record(row) for row in await self._rows(client_alerts_query(client_id, period, limit))]

    async def save(self, records: Sequence[DeliveryRecord]) -> None:
        """Insert a new version of each record (the newest version is the record's state)."""
        if not records:
            return
        rows = []
        for record in records:
            values = [getattr(record, column) for column in DELIVERY_COLUMNS]
            values[DELIVERY_COLUMNS.index("period")] = record.period.first_day
            values[DELIVERY_COLUMNS.index("kind")] = record.kind.value
            values[DELIVERY_COLUMNS.index("status")] = record.status.value
            rows.append([*values, self._versions.next()])
        await self._client.insert("alert_deliveries", rows, column_names=[*DELIVERY_COLUMNS, "version"])
