"""ClickHouse reads and writes for invoicing: one small builder per query, always parameterised.

- ``usage_totals_monthly`` is a SummingMergeTree whose parts may not be merged yet, so
  every read sums with ``GROUP BY`` the line key; never read its rows as they are.
- ``clients`` is a ReplacingMergeTree(updated_at): reads use ``FINAL`` (latest version
  per client); a write is an insert of a newer version.

SQL text is built only from the constant column lists in ``libs.common.schema``;
anything that comes from a request travels as a ``{name:Type}`` parameter.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from clickhouse_connect.driver.asyncclient import AsyncClient
from clickhouse_connect.driver.exceptions import OperationalError

from libs.common.errors import Unavailable
from libs.common.failures import describe
from libs.common.periods import Period
from libs.common.schema import LINE_KEY, TOKEN_COLUMNS
from services.invoicing.amounts import trim
from services.invoicing.domain import UsageTotals
from services.invoicing.schemas import Client, DailyUsage, ModelInUse

log = logging.getLogger(__name__)

__all__ = [
    "InvoicingRepository",
    "Query",
    "client_query",
    "client_usage_query",
    "clients_query",
    "daily_usage_query",
    "line_costs_query",
    "period_usage_query",
]

CLIENT_COLUMNS = (
    "client_id", "name", "markup_percent", "monthly_budget", "alert_thresholds", "notify", "created_at", "updated_at",
    "budget_basis",
)
_SUMMED = ("events", *TOKEN_COLUMNS, "cost_usd")
# Aliases differ from column names so no sum() can ever be read as a column of the same name.
_SUMS = ", ".join(f"sum({column}) AS sum_{column}" for column in _SUMMED)
_KEY = ", ".join(LINE_KEY)


@dataclass(frozen=True, slots=True)
class Query:
    sql: str
    parameters: dict[str, Any] = field(default_factory=dict)


def client_usage_query(client_id: str, period: Period) -> Query:
    """One client's invoice lines for a month."""
    return Query(
        f"SELECT {_KEY}, {_SUMS} FROM usage_totals_monthly"
        " WHERE client_id = {client_id:String} AND month = {month:Date}"
        f" GROUP BY {_KEY}",
        {"client_id": client_id, "month": period.first_day},
    )


def period_usage_query(period: Period) -> Query:
    """Every client's invoice lines for a month, in one scan."""
    return Query(
        f"SELECT client_id, {_KEY}, {_SUMS} FROM usage_totals_monthly"
        " WHERE month = {month:Date}"
        f" GROUP BY client_id, {_KEY}",
        {"month": period.first_day},
    )


def line_costs_query(months: Sequence[Period]) -> Query:
    """Every client's invoice lines of some months, reduced to their events and exact cost (one scan)."""
    return Query(
        "SELECT client_id, month, sum(events) AS sum_events, sum(cost_usd) AS sum_cost_usd"
        " FROM usage_totals_monthly WHERE month IN {months:Array(Date)}"
        f" GROUP BY client_id, month, {_KEY}",
        {"months": [m.first_day for m in months]},
    )


_DAILY_SUMMED = ("events", *TOKEN_COLUMNS, "cost_usd")


def daily_usage_query(client_id: str, period: Period) -> Query:
    """One client's usage per day and model over a month, from the daily totals."""
    sums = ", ".join(f"sum({column}) AS sum_{column}" for column in _DAILY_SUMMED)
    return Query(
        f"SELECT day, provider, model, {sums} FROM usage_totals_daily"
        " WHERE client_id = {client_id:String} AND day >= {first:Date} AND day < {next:Date}"
        " GROUP BY day, provider, model ORDER BY day, provider, model",
        {"client_id": client_id, "first": period.first_day, "next": period.end.date()},
    )


def models_in_use_query(period: Period) -> Query:
    """Every model billed in a month, per price row, across clients (the dashboard's price page)."""
    return Query(
        "SELECT provider, model, price_source, price_id, price_tier, input_per_mtok, output_per_mtok,"
        " uniqExact(client_id) AS clients, sum(events) AS sum_events, sum(cost_usd) AS sum_cost_usd"
        " FROM usage_totals_monthly WHERE month = {month:Date}"
        " GROUP BY provider, model, price_source, price_id, price_tier, input_per_mtok, output_per_mtok"
        " ORDER BY sum_cost_usd DESC, provider, model",
        {"month": period.first_day},
    )


def client_query(client_id: str) -> Query:
    return Query(
        f"SELECT {', '.join(CLIENT_COLUMNS)} FROM clients FINAL WHERE client_id = {{client_id:String}}",
        {"client_id": client_id},
    )


def clients_query() -> Query:
    return Query(f"SELECT {', '.join(CLIENT_COLUMNS)} FROM clients FINAL ORDER BY client_id")


def clients_as_of_query(at: datetime, client_id: str | None = None) -> Query:
    """Each client's latest version written before ``at`` (one client, or all)."""
    where = "updated_at < {at:DateTime64(6, 'UTC')}" + (" AND client_id = {client_id:String}" if client_id else "")
    return Query(
        f"SELECT {', '.join(CLIENT_COLUMNS)} FROM client_history WHERE {where}"
        " ORDER BY client_id, updated_at DESC LIMIT 1 BY client_id",
        {"at": at, "client_id": client_id or ""},
    )


def _usage(row: dict[str, Any]) -> UsageTotals:
    fields: dict[str, Any] = {column: row[column] for column in LINE_KEY}
    fields.update({column: int(row[f"sum_{column}"]) for column in ("events", *TOKEN_COLUMNS)})
    return UsageTotals(**fields, cost_usd=row["sum_cost_usd"])


def _client(row: dict[str, Any]) -> Client:
    # Decimal(9, 4) comes back as 25.0000; show it as it was meant (25, 0.8).
    return Client(
        client_id=row["client_id"],
        name=row["name"],
        markup_percent=trim(row["markup_percent"]),
        monthly_budget=row["monthly_budget"],
        alert_thresholds=[trim(Decimal(t)) for t in row["alert_thresholds"]],
        notify=list(row["notify"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        budget_basis="billed" if row.get("budget_basis") == "billed" else "cost",
    )


@asynccontextmanager
async def _clickhouse_errors() -> AsyncIterator[None]:
    """A server that cannot be reached is a 503 to retry, not a 500."""
    try:
        yield
    except OperationalError as exc:
        log.warning("ClickHouse is not reachable: %s", describe(exc))  # hosts and ports: the log only
        raise Unavailable("the usage store is not reachable; retry later") from exc


class InvoicingRepository:
    """Queries over one shared async client (created in the app's lifespan)."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def _rows(self, query: Query) -> list[dict[str, Any]]:
        async with _clickhouse_errors():
            result = await self._client.query(query.sql, parameters=query.parameters)
        return list(result.named_results())

    async def client_usage(self, client_id: str, period: Period) -> list[UsageTotals]:
        return [_usage(row) for row in await self._rows(client_usage_query(client_id, period))]

    async def period_usage(self, period: Period) -> dict[str, list[UsageTotals]]:
        by_client: dict[str, list[UsageTotals]] = {}
        for row in await self._rows(period_usage_query(period)):
            by_client.setdefault(row["client_id"], []).append(_usage(row))
        return by_client

    async def line_costs(self, months: Sequence[Period]) -> dict[tuple[str, str], list[tuple[int, Decimal]]]:
        """Per (client, ``YYYY-MM``): each invoice line's events and exact cost."""
        lines: dict[tuple[str, str], list[tuple[int, Decimal]]] = {}
        if not months:
            return lines
        for row in await self._rows(line_costs_query(months)):
            key = (row["client_id"], f"{row['month']:%Y-%m}")
            lines.setdefault(key, []).append((int(row["sum_events"]), row["sum_cost_usd"]))
        return lines

    async def daily_usage(self, client_id: str, period: Period) -> list[DailyUsage]:
        return [
            DailyUsage(day=row["day"], provider=row["provider"], model=row["model"],
                       cost_usd=trim(row["sum_cost_usd"], 2),
                       **{column: int(row[f"sum_{column}"]) for column in ("events", *TOKEN_COLUMNS)})
            for row in await self._rows(daily_usage_query(client_id, period))
        ]

    async def models_in_use(self, period: Period) -> list[ModelInUse]:
        return [
            ModelInUse(provider=r["provider"], model=r["model"], price_source=r["price_source"],
                       price_id=r["price_id"], price_tier=r["price_tier"],
                       input_per_mtok=trim(r["input_per_mtok"], 2), output_per_mtok=trim(r["output_per_mtok"], 2),
                       clients=int(r["clients"]), events=int(r["sum_events"]), cost_usd=trim(r["sum_cost_usd"], 2))
            for r in await self._rows(models_in_use_query(period))
        ]

    async def get_client(self, client_id: str) -> Client | None:
        rows = await self._rows(client_query(client_id))
        return _client(rows[0]) if rows else None

    async def list_clients(self) -> list[Client]:
        return [_client(row) for row in await self._rows(clients_query())]

    async def get_client_as_of(self, client_id: str, at: datetime) -> Client | None:
        """The record as it stood at ``at``; the current one if it was written only later."""
        rows = await self._rows(clients_as_of_query(at, client_id))
        return _client(rows[0]) if rows else await self.get_client(client_id)

    async def list_clients_as_of(self, at: datetime) -> list[Client]:
        then = {row["client_id"]: _client(row) for row in await self._rows(clients_as_of_query(at))}
        current = {client.client_id: client for client in await self.list_clients()}
        return sorted({**current, **then}.values(), key=lambda client: client.client_id)

    async def save_client(self, client: Client) -> None:
        """Insert a new version; the highest ``updated_at`` wins on read (FINAL) and on merge."""
        row: Sequence[Any] = [
            client.client_id, client.name, client.markup_percent, client.monthly_budget,
            list(client.alert_thresholds), list(client.notify), client.created_at, client.updated_at,
            client.budget_basis,
        ]
        async with _clickhouse_errors():  # history first: a version in ``clients`` is always in history
            await self._client.insert("client_history", [row], column_names=list(CLIENT_COLUMNS))
            await self._client.insert("clients", [row], column_names=list(CLIENT_COLUMNS))
