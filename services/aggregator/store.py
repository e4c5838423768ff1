"""ClickHouse access for the aggregator: which events are stored, and storing new ones."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import orjson
from clickhouse_connect.driver.asyncclient import AsyncClient
from clickhouse_connect.driver.exceptions import OperationalError
from clickhouse_connect.driver.external import ExternalData

from libs.common.failures import describe
from libs.common.metrics import INSERT_RETRIES
from libs.common.schema import EVENT_KEY, IDEMPOTENCY_WINDOW_DAYS
from services.aggregator.rows import PRICED_COLUMNS, UNPRICED_COLUMNS, rows_json

#: Settings of the priced-events insert: synchronous (the offsets are committed only after
#: it returns), RFC 3339 times with offsets (converted to UTC), no unknown columns.
PRICED_INSERT_SETTINGS = {"async_insert": 0, "date_time_input_format": "best_effort",
                          "input_format_skip_unknown_fields": 0}

log = logging.getLogger(__name__)

EventKey = tuple[str, str]

KEYS_TABLE = "batch_keys"


def existing_keys_query(keys: Sequence[EventKey]) -> tuple[str, ExternalData]:
    """Which of these (client_id, event_id) pairs were stored in the idempotency window.

    Reads ``event_keys`` (16-byte hashes, one partition per day) for the last
    ``IDEMPOTENCY_WINDOW_DAYS`` days only, so the cost follows the window's traffic, never
    the stored history; the partition filter matters even before the TTL has dropped a
    day, so the window is the same whenever merges run.

    The keys travel as an external table (a file part of the request, JSON-escaped), not
    as query parameters: ClickHouse caps one HTTP form field at 128 KiB, which a batch of
    ~3,500 event ids already passes, and the aggregator would then retry that batch
    forever.
    """
    data = orjson.dumps(keys)[1:-1]  # the pairs as JSON arrays, comma-separated: one call for the batch
    keys_table = ExternalData(file_name=KEYS_TABLE, data=data, fmt="JSONCompactEachRow",
                              structure=["client_id String", "event_id String"])
    sql = (
        f"SELECT client_id, event_id FROM {KEYS_TABLE} WHERE {EVENT_KEY} IN ("
        f"SELECT key FROM event_keys WHERE received_day >= today() - {IDEMPOTENCY_WINDOW_DAYS} "
        f"AND key IN (SELECT {EVENT_KEY} FROM {KEYS_TABLE}))"
    )
    return sql, keys_table


class PricedEventStore:
    """Created with the app; ``attach`` gives it the ClickHouse client once the lifespan connected."""

    def __init__(self, client: AsyncClient | None = None, *, insert_retries: int = 3,
                 retry_base_seconds: float = 0.2) -> None:
        self._client_or_none = client
        self._insert_retries = insert_retries
        self._retry_base_seconds = retry_base_seconds

    def attach(self, client: AsyncClient) -> None:
        self._client_or_none = client

    @property
    def _client(self) -> AsyncClient:
        if self._client_or_none is None:
            raise RuntimeError("the aggregator's ClickHouse client is not connected yet")
        return self._client_or_none

    async def existing_keys(self, keys: Sequence[EventKey]) -> set[EventKey]:
        if not keys:
            return set()
        sql, keys_table = existing_keys_query(keys)
        result = await self._client.query(sql, external_data=keys_table)
        return {(client_id, event_id) for client_id, event_id in result.result_rows}

    async def insert_priced(self, rows: Sequence[Sequence[Any]], token: str) -> None:
        """Insert and wait until the rows, the totals and the keys views are written.

        ``token`` must name what the rows came from (the same token, the same rows): an
        insert under a token seen in the last ``DEDUP_BLOCKS`` inserts is dropped by
        ClickHouse, views included, even when the first one is still running.
        """
        if not rows:
            return
        block = rows_json(rows)
        for attempt in range(self._insert_retries + 1):
            try:
                await self._client.raw_insert("priced_events", column_names=PRICED_COLUMNS, insert_block=block,
                                              fmt="JSONCompactEachRow",
                                              settings={**PRICED_INSERT_SETTINGS, "insert_deduplication_token": token})
                return
            except OperationalError as exc:
                # The outcome is unknown (connection lost, response lost, timeout): the rows may
                # be stored. Retry the very same insert at once, under the same token, so that
                # ClickHouse drops it if the first attempt got in, rather than leave it to a
                # redelivered batch whose lookup may run before that first insert is visible.
                if attempt == self._insert_retries:
                    raise
                INSERT_RETRIES.inc()
                log.warning("insert into priced_events failed (%s); retrying it under the same token (%d/%d)",
                            describe(exc, 200), attempt + 1, self._insert_retries)
                await asyncio.sleep(self._retry_base_seconds * 2**attempt)

    async def insert_unpriced(self, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            await self._client.insert("unpriced_events", rows, column_names=UNPRICED_COLUMNS,
                                      settings={"async_insert": 0})
