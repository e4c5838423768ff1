"""PostgreSQL reads and writes of webhook endpoints, deliveries and their attempts."""

from __future__ import annotations

import base64
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from libs.common.errors import NotFound

__all__ = ["Attempt", "Delivery", "Endpoint", "WebhookStore", "new_secret"]


def new_secret() -> str:
    """A Standard Webhooks signing secret: ``whsec_`` + base64 of 24 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


@dataclass(frozen=True, slots=True)
class Endpoint:
    id: str
    url: str
    event_types: list[str]
    description: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    event_id: str
    event_type: str
    endpoint_id: str
    status: str
    attempts: int
    next_attempt_at: datetime
    delivered_at: datetime | None


@dataclass(frozen=True, slots=True)
class Attempt:
    delivery_id: int
    event_id: str
    event_type: str
    endpoint_id: str
    attempt: int
    attempted_at: datetime
    duration_ms: int
    status_code: int | None
    error: str | None
    response: str


_ENDPOINT = "id, url, event_types, description, created_at"


class WebhookStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def create(self, url: str, event_types: list[str], description: str) -> tuple[Endpoint, str]:
        """The new endpoint and its secret (the only time the secret is returned)."""
        secret = new_secret()
        row = await self._pool.fetchrow(
            "INSERT INTO webhook_endpoints (id, url, secret, event_types, description) VALUES ($1, $2, $3, $4, $5)"
            f" RETURNING {_ENDPOINT}", f"ep_{uuid.uuid4().hex}", url, secret, event_types, description)
        return Endpoint(**dict(row)), secret

    async def endpoints(self) -> list[Endpoint]:
        rows = await self._pool.fetch(
            f"SELECT {_ENDPOINT} FROM webhook_endpoints WHERE deleted_at IS NULL ORDER BY created_at, id")
        return [Endpoint(**dict(row)) for row in rows]

    async def delete(self, endpoint_id: str) -> None:
        """Stop sending to the endpoint; its pending deliveries are cancelled, its history is kept."""
        async with self._pool.acquire() as connection, connection.transaction():
            found = await connection.fetchval(
                "UPDATE webhook_endpoints SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL RETURNING id",
                endpoint_id)
            if found is None:
                raise NotFound(f"no webhook endpoint '{endpoint_id}'")
            await connection.execute(
                "UPDATE webhook_deliveries SET status = 'cancelled' WHERE endpoint_id = $1 AND status = 'pending'",
                endpoint_id)

    async def _exists(self, endpoint_id: str) -> None:
        if await self._pool.fetchval("SELECT 1 FROM webhook_endpoints WHERE id = $1", endpoint_id) is None:
            raise NotFound(f"no webhook endpoint '{endpoint_id}'")

    async def deliveries(self, endpoint_id: str, status: str | None, limit: int) -> list[Delivery]:
        await self._exists(endpoint_id)
        rows = await self._pool.fetch(
            "SELECT d.id, e.event_id, e.type AS event_type, d.endpoint_id, d.status, d.attempts, d.next_attempt_at,"
            " d.delivered_at FROM webhook_deliveries d JOIN outbox_events e ON e.id = d.event_id"
            " WHERE d.endpoint_id = $1 AND ($2::text IS NULL OR d.status = $2) ORDER BY d.id DESC LIMIT $3",
            endpoint_id, status, limit)
        return [Delivery(**dict(row)) for row in rows]

    async def attempts(self, endpoint_id: str, event_id: str | None, limit: int) -> list[Attempt]:
        await self._exists(endpoint_id)
        rows = await self._pool.fetch(
            "SELECT a.delivery_id, e.event_id, e.type AS event_type, d.endpoint_id, a.attempt, a.attempted_at,"
            " a.duration_ms, a.status_code, a.error, a.response FROM webhook_attempts a"
            " JOIN webhook_deliveries d ON d.id = a.delivery_id JOIN outbox_events e ON e.id = d.event_id"
            " WHERE d.endpoint_id = $1 AND ($2::text IS NULL OR e.event_id = $2) ORDER BY a.id DESC LIMIT $3",
            endpoint_id, event_id, limit)
        return [Attempt(**dict(row)) for row in rows]
