"""ClickHouse access for the aggregator: which events are stored, and storing new ones."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from clickhouse_connect.driver.asyncclient import AsyncClient

from services.aggregator.rows import PRICED_COLUMNS, UNPRICED_COLUMNS

EventKey = tuple[str, str]


def existing_keys_query(keys: Iterable[EventKey]) -> tuple[str, dict[str, Any]]:
    """Which of these (client_id, event_id) pairs are stored already.

    Filters on both primary-key columns so ClickHouse reads only the granules that can
    hold them; the exact pairs are then matched by the caller.
    """
    clients = sorted({client for client, _ in keys})
    event_ids = sorted({event_id for _, event_id in keys})
    sql = (
        "SELECT DISTINCT client_id, event_id FROM priced_events "
        "WHERE client_id IN {clients:Array(String)} AND event_id IN {event_ids:Array(String)}"
    )
    return sql, {"clients": clients, "event_ids": event_ids}


class PricedEventStore:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def existing_keys(self, keys: Sequence[EventKey]) -> set[EventKey]:
        if not keys:
            return set()
        sql, parameters = existing_keys_query(keys)
        result = await self._client.query(sql, parameters=parameters)
        return {(client_id, event_id) for client_id, event_id in result.result_rows}

    async def insert_priced(self, rows: Sequence[Sequence[Any]]) -> None:
        """Insert and wait until the rows and the totals views are written."""
        if rows:
            await self._client.insert("priced_events", rows, column_names=PRICED_COLUMNS,
                                      settings={"async_insert": 0})

    async def insert_unpriced(self, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            await self._client.insert("unpriced_events", rows, column_names=UNPRICED_COLUMNS,
                                      settings={"async_insert": 0})
