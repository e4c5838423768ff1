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
from services.invoicing.domain import ClientTerms, LineCosts, UsageTotals
from services.invoicing.schemas import Client, DailyUsage, ModelInUse

log = logging.getLogger(__name__)

__all__ = [
    "InvoicingRepository",
    "Query",
    "client_query",
    "client_usage_query",
    "clients_query",
    "daily_usage_query",
    "client_terms_query",
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
    """Every client's invoice lines of some months, one row per client and month: the events and
    each line's exact cost (rounded by the caller, as invoices round each line)."""
    return Query(
        "SELECT client_id, formatDateTime(month, '%Y-%m') AS period, sum(line_events) AS sum_events,"
        " groupArray(line_cost) AS line_costs FROM ("
        " SELECT client_id, month, sum(events) AS line_events, sum(cost_usd) AS line_cost"
        " FROM usage_totals_monthly WHERE month IN {months:Array(Date)}"
        f" GROUP BY client_id, month, {_KEY})"
        " GROUP BY client_id, month",
        {"months": [m.first_day for m in months]},
    )


TERMS_COLUMNS = ("client_id", "name", "markup_percent", "monthly_budget", "budget_basis", "created_at")


def client_terms_query(at: datetime) -> Query:
    """Each client's terms as they stood at ``at`` (``then`` = 1: the latest version written before
    it) and as they are now (``then`` = 0), in one round trip."""
    columns = ", ".join(TERMS_COLUMNS)
    return Query(
        f"SELECT 1 AS then, {columns} FROM (SELECT {columns} FROM client_history"
        " WHERE updated_at < {at:DateTime64(6, 'UTC')} ORDER BY client_id, updated_at DESC LIMIT 1 BY client_id)"
        f" UNION ALL SELECT 0 AS then, {columns} FROM clients FINAL",
        {"at": at},
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

    async def _tuples(self, query: Query) -> Sequence[Sequence[Any]]:
        async with _clickhouse_errors():
            result = await self._client.query(query.sql, parameters=query.parameters)
        return result.result_rows  # type: ignore[no-any-return]

    async def line_costs(self, months: Sequence[Period]) -> dict[tuple[str, str], LineCosts]:
        """Per (client, ``YYYY-MM``): the events and each invoice line's exact cost."""
        if not months:
            return {}
        return {(client_id, period): LineCosts(int(events), list(costs))
                for client_id, period, events, costs in await self._tuples(line_costs_query(months))}

    async def client_terms_as_of(self, at: datetime) -> list[ClientTerms]:
        """What ``list_clients_as_of`` gives, only the billing terms, without building records."""
        rows = sorted(await self._tuples(client_terms_query(at)), key=lambda row: row[0])  # now, then: then wins
        terms = {row[1]: row[1:] for row in rows}
        return [ClientTerms(client_id=client_id, name=name, markup_percent=trim(markup), monthly_budget=budget,
                            budget_basis="billed" if basis == "billed" else "cost", created_at=created)
                for client_id, name, markup, budget, basis, created in terms.values()]

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
