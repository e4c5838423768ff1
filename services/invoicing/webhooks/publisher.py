"""Publishes outbox events to Kafka (``invoice.issued.v1``, …) for internal consumers.

Each round takes the oldest unpublished events with ``FOR UPDATE SKIP LOCKED`` (instances
share the work), sends each to ``<type>.v1`` keyed by client_id with an ``event-id``
header (the webhook-id), waits for every ack (acks=all, idempotent producer) and marks
them published in the same transaction. A crash between ack and commit sends them again:
at least once, deduplicated by ``event-id``. Kafka being down delays events, never loses them.
"""

from __future__ import annotations

import asyncio
import json
import logging

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from libs.common.kafka import ensure_topics
from libs.common.settings import KafkaSettings
from libs.common.topics import DOCUMENT_TOPICS, topic

__all__ = ["Publisher"]

log = logging.getLogger(__name__)

_CLAIM = ("SELECT id, event_id, type, payload FROM outbox_events WHERE published_at IS NULL"
          " ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED")


class Publisher:
    def __init__(self, pool: asyncpg.Pool, kafka: KafkaSettings, *, poll_seconds: float = 1.0,
                 batch: int = 100) -> None:
        self._pool = pool
        self._kafka = kafka
        self._poll = poll_seconds
        self._batch = batch
        self._producer: AIOKafkaProducer | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="outbox-publisher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        if self._producer is not None:
            await self._producer.stop()

    async def _loop(self) -> None:
        while True:
            try:
                sent = await self.run_once()
            except (OSError, KafkaError, asyncpg.PostgresError) as exc:
                log.warning("outbox publish round failed (retried): %s", exc)
                sent = 0
            if sent < self._batch:
                await asyncio.sleep(self._poll)

    async def _connected(self) -> AIOKafkaProducer:
        if self._producer is None:
            await ensure_topics(self._kafka, DOCUMENT_TOPICS)
            producer = AIOKafkaProducer(bootstrap_servers=self._kafka.bootstrap_servers, acks="all",
                                        enable_idempotence=True, request_timeout_ms=10_000)
            await producer.start()
            self._producer = producer
        return self._producer

    async def run_once(self) -> int:
        """One round; returns how many events were published."""
        async with self._pool.acquire() as connection, connection.transaction():
            rows = await connection.fetch(_CLAIM, self._batch)
            if not rows:
                return 0
            producer = await self._connected()
            acks = [await producer.send(
                topic(f"{row['type']}.v1", self._kafka.topic_prefix), value=row["payload"].encode(),
                key=str(json.loads(row["payload"])["data"]["client_id"]).encode(),
                headers=[("event-id", row["event_id"].encode()), ("event-type", row["type"].encode())])
                for row in rows]
            await asyncio.gather(*acks)
            await connection.execute("UPDATE outbox_events SET published_at = now() WHERE id = ANY($1::bigint[])",
                                     [row["id"] for row in rows])
            return len(rows)
