"""Sending a batch's priced and unpriced messages: one aiokafka batch per partition.

A consumer batch of ingest's messages becomes hundreds of small priced messages (one per client
and batch: ~4 events each in the HTTP benchmark). ``broker.publish`` per message (FastStream's
command object, middlewares and correlation id, then aiokafka's ``send``: partitioner, future and
batch lookup) cost pricing more CPU than reading and pricing the events (py-spy during
``bench.pipeline --mode http``). Here the messages are appended to one aiokafka batch per
partition and each batch handed over with ``send_batch``, as ingest does
(``services.ingest.publisher``, which measured ``send`` at ~2.4 times the CPU).

Partitions are aiokafka's default for the key (murmur2, as the Java client), exactly where
``broker.publish`` put them, so a client's events stay on one partition across versions. The
producer is configured as every producer of ours (``libs.common.kafka.producer_options``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2
from aiokafka.producer.message_accumulator import BatchBuilder

from libs.common.kafka import producer_options
from libs.common.settings import KafkaSettings

__all__ = ["BatchProducer"]

_HASHES_KEPT = 65_536
"""Client keys whose partition hash is remembered (forgotten all at once past it)."""


class BatchProducer:
    """An aiokafka producer that sends many keyed messages at once; start it before use."""

    def __init__(self, settings: KafkaSettings, client_id: str) -> None:
        self._settings = settings
        self._client_id = client_id
        self._started: AIOKafkaProducer | None = None
        self._hashes: dict[bytes, int] = {}
        self._turns: dict[tuple[str, int], asyncio.Lock] = {}

    async def start(self) -> None:
        """Connect (aiokafka builds its producer inside the running loop only)."""
        producer = AIOKafkaProducer(bootstrap_servers=self._settings.bootstrap_servers, client_id=self._client_id,
                                    **producer_options(self._settings))
        await producer.start()
        self._started = producer

    async def stop(self) -> None:
        if self._started is not None:
            producer, self._started = self._started, None
            await producer.stop()

    @property
    def _producer(self) -> AIOKafkaProducer:
        if self._started is None:
            raise RuntimeError("BatchProducer.start() first")
        return self._started

    async def send(self, target: str, messages: Sequence[tuple[bytes, bytes]]) -> list[BaseException | None]:
        """Send ``(key, body)`` messages to ``target`` and wait for every ack.

        Returns, per message, ``None`` when Kafka acknowledged it or the error of the batch it
        travelled in (the caller sends those again one by one, to find the one refused).
        """
        partitions = sorted(await self._producer.partitions_for(target))
        batches: dict[int, tuple[BatchBuilder, list[int]]] = {}
        sent: list[tuple[asyncio.Future[Any], list[int]]] = []
        alone: list[tuple[asyncio.Future[Any], list[int]]] = []
        refused_now: dict[int, BaseException] = {}
        for position, (key, body) in enumerate(messages):
            partition = partitions[self._hash(key) % len(partitions)]
            current = batches.get(partition)
            if current is not None and current[0].append(key=key, value=body, timestamp=None) is not None:
                current[1].append(position)
                continue
            if current is not None:  # full: hand it over, start the next
                sent.append((await self._hand_over(current[0], target, partition), current[1]))
            batch = self._producer.create_batch()
            if batch.append(key=key, value=body, timestamp=None) is None:  # not even alone: send() decides
                batches.pop(partition, None)
                try:
                    alone.append((await self._producer.send(target, body, key=key, partition=partition), [position]))
                except Exception as exc:  # noqa: BLE001 - refused at once (too large): reported as its error
                    refused_now[position] = exc
                continue
            batches[partition] = (batch, [position])
        for partition, (batch, positions) in batches.items():
            sent.append((await self._hand_over(batch, target, partition), positions))
        errors: list[BaseException | None] = [refused_now.get(position) for position in range(len(messages))]
        pending = [*sent, *alone]
        outcomes = await asyncio.gather(*(ack for ack, _ in pending), return_exceptions=True)
        for (_, positions), outcome in zip(pending, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                for position in positions:
                    errors[position] = outcome
        return errors

    async def _hand_over(self, batch: BatchBuilder, target: str, partition: int) -> asyncio.Future[Any]:
        """``send_batch``, one at a time per partition (see ``services.ingest.publisher._hand_over``:
        aiokafka charges a waiter's whole wait against its budget on every wake-up)."""
        turn = self._turns.setdefault((target, partition), asyncio.Lock())
        async with turn:
            return await self._producer.send_batch(batch, target, partition=partition)

    def _hash(self, key: bytes) -> int:
        """aiokafka's ``DefaultPartitioner`` hash of a key, computed once per client (it is pure Python)."""
        found = self._hashes.get(key)
        if found is None:
            if len(self._hashes) >= _HASHES_KEPT:
                self._hashes.clear()
            found = self._hashes[key] = murmur2(key) & 0x7FFFFFFF
        return found
