"""The batch in flight and the rebalance listener that waits for it (no Kafka needed for the logic)."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import TopicPartition

from services.aggregator.ownership import BatchAbandoned, FinishBatchBeforeRevocation, InFlight

REVOKED = {TopicPartition("usage.priced.v1", 0)}


async def test_revocation_waits_until_the_batch_in_flight_is_done() -> None:
    in_flight = InFlight()
    listener = FinishBatchBeforeRevocation(in_flight, "t", drain_seconds=5)
    steps: list[str] = []

    async def batch() -> None:
        async with in_flight.batch():
            await asyncio.sleep(0.2)
            in_flight.still_owner()
            steps.append("committed")

    task = asyncio.create_task(batch())
    await asyncio.sleep(0.05)
    await listener.on_partitions_revoked(REVOKED)
    steps.append("revoked")
    await task
    assert steps == ["committed", "revoked"]


async def test_a_batch_that_outlives_the_drain_is_abandoned_and_may_not_insert_or_commit() -> None:
    in_flight = InFlight()
    listener = FinishBatchBeforeRevocation(in_flight, "t", drain_seconds=0.1)
    release = asyncio.Event()

    async def batch() -> None:
        async with in_flight.batch():
            await release.wait()  # ClickHouse hanging
            in_flight.still_owner()

    task = asyncio.create_task(batch())
    await asyncio.sleep(0.02)
    await listener.on_partitions_revoked(REVOKED)  # returns after 0.1 s: the rebalance goes on
    release.set()
    with pytest.raises(BatchAbandoned):
        await task
    async with in_flight.batch():  # the next batch starts owned again
        in_flight.still_owner()


async def test_an_idle_consumer_is_revoked_at_once() -> None:
    in_flight = InFlight()
    listener = FinishBatchBeforeRevocation(in_flight, "t", drain_seconds=0.01)
    await listener.on_partitions_revoked(REVOKED)
    in_flight.still_owner()  # nothing was abandoned
