"""ClickHouse access for pricing: the agency's overrides and the quarantined events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from clickhouse_connect.driver.asyncclient import AsyncClient
from pydantic import BaseModel

from libs.common.events import UNIT_BUCKETS, UsageRecorded
from services.pricing.overrides import PriceOverride

OVERRIDE_COLUMNS = (
    "override_id", "provider", "model", "effective_from", "effective_to", "input_per_mtok", "output_per_mtok",
    "cache_read_per_mtok", "cache_write_per_mtok", "reasoning_per_mtok", "note", "created_at",
    *(unit.price for unit in UNIT_BUCKETS),
)
QUARANTINE_COLUMNS = (
    "client_id", "event_id", "provider", "model", "timestamp", "reason", "detected_at", "status",
)


class OverrideRepository:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def add(self, override: PriceOverride) -> None:
        row = [getattr(override, column) for column in OVERRIDE_COLUMNS]
        await self._client.insert("price_overrides", [row], column_names=OVERRIDE_COLUMNS)

    async def all(self) -> list[PriceOverride]:
        result = await self._client.query(
            f"SELECT {', '.join(OVERRIDE_COLUMNS)} FROM price_overrides FINAL ORDER BY created_at"
        )
        return [
            PriceOverride.model_validate({k: v for k, v in zip(OVERRIDE_COLUMNS, row, strict=True) if v is not None})
            for row in result.result_rows
        ]


class QuarantinedEvent(BaseModel):
    """An event waiting for a price, as the API shows it."""

    client_id: str
    event_id: str
    provider: str
    model: str
    timestamp: datetime
    reason: str
    detected_at: datetime
    status: str


def quarantine_query(status: str, client_id: str | None, limit: int) -> tuple[str, dict[str, Any]]:
    where = "status = {status:String}" + (" AND client_id = {client_id:String}" if client_id else "")
    sql = (
        f"SELECT {', '.join(QUARANTINE_COLUMNS)} FROM unpriced_events FINAL WHERE {where} "
        "ORDER BY detected_at, client_id, event_id LIMIT {limit:UInt32}"
    )
    return sql, {"status": status, "client_id": client_id or "", "limit": limit}


class QuarantineRepository:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def list(self, *, status: str = "pending", client_id: str | None = None,
                   limit: int = 1000) -> list[QuarantinedEvent]:
        sql, parameters = quarantine_query(status, client_id, limit)
        result = await self._client.query(sql, parameters=parameters)
        return [QuarantinedEvent(**dict(zip(QUARANTINE_COLUMNS, row, strict=True))) for row in result.result_rows]

    async def pending_events(self, after: tuple[str, str] = ("", ""), limit: int = 10_000) -> list[UsageRecorded]:
        """Up to ``limit`` events still waiting for a price, in key order after ``after``.

        Keyset pagination: callers walk the whole quarantine page by page, so a large
        backlog of never-priceable events cannot hide the ones that now have a price.
        """
        result = await self._client.query(
            "SELECT payload FROM unpriced_events FINAL WHERE status = 'pending' "
            "AND (client_id, event_id) > ({client_id:String}, {event_id:String}) "
            "ORDER BY client_id, event_id LIMIT {limit:UInt32}",
            parameters={"client_id": after[0], "event_id": after[1], "limit": limit},
        )
        return [UsageRecorded.model_validate_json(payload) for (payload,) in result.result_rows]

    async def mark_repriced(self, events: Sequence[UsageRecorded], at: datetime, status: str = "repriced") -> None:
        """A newer row version per event: ``FINAL`` then shows them as ``status`` (no longer pending)."""
        version = int(at.timestamp() * 1_000_000)
        rows = [
            [e.client_id, e.event_id, e.provider, e.model, e.timestamp, status, at, e.model_dump_json(),
             status, version]
            for e in events
        ]
        if rows:
            await self._client.insert(
                "unpriced_events", rows,
                column_names=("client_id", "event_id", "provider", "model", "timestamp", "reason", "detected_at",
                              "payload", "status", "version"),
            )
