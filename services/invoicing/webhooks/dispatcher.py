"""Sends due webhook deliveries, signed per Standard Webhooks, from any number of instances.

Each round claims up to ``batch`` due deliveries with ``FOR UPDATE SKIP LOCKED`` (another
instance's round skips them), sends them concurrently, records every attempt and either
marks the delivery delivered (2xx) or schedules the next try after a capped exponential
backoff, until ``give_up_seconds`` after the event was written (then ``failed``). The
claim is held by the round's transaction: if the instance dies mid-round the rows unlock
and are sent again, with the same ``webhook-id``, which is how a receiver deduplicates.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
import httpx
from standardwebhooks.webhooks import Webhook

__all__ = ["Dispatcher", "RetryPolicy", "backoff_seconds"]

log = logging.getLogger(__name__)

_CLAIM = (
    "SELECT d.id, d.attempts, e.event_id, e.payload, e.created_at, w.url, w.secret"
    " FROM webhook_deliveries d JOIN outbox_events e ON e.id = d.event_id"
    " JOIN webhook_endpoints w ON w.id = d.endpoint_id"
    " WHERE d.status = 'pending' AND d.next_attempt_at <= now()"
    " ORDER BY d.next_attempt_at, d.id LIMIT $1 FOR UPDATE OF d SKIP LOCKED"
)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base_seconds: float = 5.0
    cap_seconds: float = 600.0
    give_up_seconds: float = 3 * 24 * 3600.0
    timeout_seconds: float = 10.0


def backoff_seconds(attempts: int, policy: RetryPolicy) -> float:
    """Wait after the ``attempts``-th failure: base × 2^(attempts−1), at most ``cap``."""
    return float(min(policy.base_seconds * 2 ** min(attempts - 1, 30), policy.cap_seconds))


@dataclass(frozen=True, slots=True)
class _Outcome:
    attempted_at: datetime
    duration_ms: int
    status_code: int | None
    error: str | None
    response: str

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class Dispatcher:
    def __init__(self, pool: asyncpg.Pool, policy: RetryPolicy, *, poll_seconds: float = 1.0,
                 batch: int = 50) -> None:
        self._pool = pool
        self._policy = policy
        self._poll = poll_seconds
        self._batch = batch
        self._task: asyncio.Task[None] | None = None
        self._http = httpx.AsyncClient(timeout=policy.timeout_seconds, follow_redirects=False)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="webhook-dispatcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        await self._http.aclose()

    async def _loop(self) -> None:
        while True:
            try:
                sent = await self.run_once()
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("webhook round failed: %s", exc)
                sent = 0
            if sent < self._batch:
                await asyncio.sleep(self._poll)

    async def run_once(self) -> int:
        """One round: claim, send, record. Returns how many deliveries were tried."""
        async with self._pool.acquire() as connection, connection.transaction():
            rows = await connection.fetch(_CLAIM, self._batch)
            if not rows:
                return 0
            outcomes = await asyncio.gather(*(self._send(row) for row in rows))
            for row, outcome in zip(rows, outcomes, strict=True):
                await self._record(connection, row, outcome)
            return len(rows)

    async def _send(self, row: asyncpg.Record) -> _Outcome:
        now = datetime.now(UTC)
        signature = Webhook(row["secret"]).sign(row["event_id"], now, row["payload"])
        headers = {"webhook-id": row["event_id"], "webhook-timestamp": str(int(now.timestamp())),
                   "webhook-signature": signature, "content-type": "application/json",
                   "user-agent": "TokenTally-Webhooks/1"}
        started = time.perf_counter()
        try:
            response = await self._http.post(row["url"], content=row["payload"].encode(), headers=headers)
        except httpx.HTTPError as exc:
            return _Outcome(now, _ms(started), None, f"{type(exc).__name__}: {exc}"[:500], "")
        return _Outcome(now, _ms(started), response.status_code, None, response.text[:1024])

    async def _record(self, connection: asyncpg.Connection, row: asyncpg.Record, outcome: _Outcome) -> None:
        attempt = row["attempts"] + 1
        await connection.execute(
            "INSERT INTO webhook_attempts (delivery_id, attempt, attempted_at, duration_ms, status_code, error,"
            " response) VALUES ($1, $2, $3, $4, $5, $6, $7)", row["id"], attempt, outcome.attempted_at,
            outcome.duration_ms, outcome.status_code, outcome.error, outcome.response)
        if outcome.ok:
            await connection.execute(
                "UPDATE webhook_deliveries SET status = 'delivered', attempts = $2, delivered_at = $3 WHERE id = $1",
                row["id"], attempt, outcome.attempted_at)
            return
        age = (outcome.attempted_at - row["created_at"]).total_seconds()
        if age >= self._policy.give_up_seconds:
            await connection.execute(
                "UPDATE webhook_deliveries SET status = 'failed', attempts = $2 WHERE id = $1", row["id"], attempt)
            return
        await connection.execute(
            "UPDATE webhook_deliveries SET attempts = $2, next_attempt_at = now() + make_interval(secs => $3)"
            " WHERE id = $1", row["id"], attempt, backoff_seconds(attempt, self._policy))


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
