"""Putting events into the pipeline: the ingest HTTP API in batches, or straight onto the raw topic.

Bodies and Kafka messages are encoded before a phase's clock starts, so the load
generator spends its time sending, not building JSON. Both senders can pace themselves
to a target rate (events/s); without one they send as fast as the pipeline takes them
(HTTP: ``concurrency`` requests in flight; Kafka: the producer's own buffering).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
from aiokafka import AIOKafkaProducer

from libs.common.kafka import EVENTS_PER_MESSAGE


@dataclass
class SendStats:
    events: int = 0
    requests: int = 0
    started: float = 0.0
    finished: float = 0.0
    request_seconds: list[float] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return max(self.finished - self.started, 1e-9)


# --------------------------------------------------------------------------- HTTP


@dataclass(frozen=True, slots=True)
class HttpBatch:
    body: bytes
    events: int


def http_batches(events: Sequence[dict[str, Any]], size: int) -> list[HttpBatch]:
    return [HttpBatch(orjson.dumps(events[i : i + size]), len(events[i : i + size]))
            for i in range(0, len(events), size)]


async def send_http(url: str, key: str, batches: Sequence[HttpBatch], *, concurrency: int,
                    rate: float | None = None, stats: SendStats | None = None) -> SendStats:
    """POST every batch to ``/v1/events``; each must be accepted whole (202, nothing rejected)."""
    stats = stats or SendStats()
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    queue: asyncio.Queue[tuple[int, HttpBatch]] = asyncio.Queue()
    due, offset = [], 0
    for index, batch in enumerate(batches):
        queue.put_nowait((index, batch))
        due.append(offset / rate if rate else 0.0)
        offset += batch.events
    stats.started = time.monotonic()

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            index, batch = queue.get_nowait()
            wait = stats.started + due[index] - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            began = time.monotonic()
            reply = await client.post("/v1/events", content=batch.body)
            stats.request_seconds.append(time.monotonic() - began)
            if reply.status_code != 202 or reply.json()["accepted"] != batch.events:
                raise RuntimeError(f"ingest refused a batch: {reply.status_code} {reply.text[:500]}")
            stats.events += batch.events
            stats.requests += 1

    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=60) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    stats.finished = time.monotonic()
    return stats


# --------------------------------------------------------------------------- Kafka


@dataclass(frozen=True, slots=True)
class KafkaTick:
    """The messages of one slice of the stream: one JSON array per client and chunk, keyed by client."""

    messages: list[tuple[bytes, bytes]]
    events: int


def kafka_ticks(events: Sequence[dict[str, Any]], tick_events: int) -> list[KafkaTick]:
    """Group each slice of ``tick_events`` by client, as ingest does with a request.

    The records are ``UsageRecorded`` as ingest writes them (every field it fills, with
    ``received_at`` set when encoded); a high-volume agency's own producer would send the same.
    """
    received_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    ticks = []
    for start in range(0, len(events), tick_events):
        by_client: dict[str, list[dict[str, Any]]] = {}
        for event in events[start : start + tick_events]:
            by_client.setdefault(event["client_id"], []).append({**event, "received_at": received_at})
        messages = [
            (client.encode(), orjson.dumps(group[i : i + EVENTS_PER_MESSAGE]))
            for client, group in by_client.items()
            for i in range(0, len(group), EVENTS_PER_MESSAGE)
        ]
        ticks.append(KafkaTick(messages, len(events[start : start + tick_events])))
    return ticks


async def send_kafka(bootstrap: str, topic: str, ticks: Sequence[KafkaTick], *, rate: float | None = None,
                     stats: SendStats | None = None) -> SendStats:
    """Produce every tick (acks=all, idempotent, like the services' producers), paced per tick."""
    stats = stats or SendStats()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5,
                                max_batch_size=256 * 1024, max_request_size=8 * 1024 * 1024)
    await producer.start()
    try:
        stats.started = time.monotonic()
        offset = 0
        pending: list[asyncio.Future[Any]] = []
        for tick in ticks:
            if rate:
                wait = stats.started + offset / rate - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
            offset += tick.events
            for key, value in tick.messages:
                pending.append(await producer.send(topic, value, key=key))
            stats.events += tick.events
            stats.requests += len(tick.messages)
            if len(pending) > 2_000:  # keep the producer's buffer bounded
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    stats.finished = time.monotonic()
    return stats
