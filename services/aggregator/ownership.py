"""Finishing (or abandoning) the batch in flight before a partition changes owner.

During a rebalance Kafka revokes partitions from one instance and assigns them to another,
which starts from the last committed offset. If the first instance were still inserting
a batch from those partitions, both would write it: the second instance's duplicate check
runs before the first insert is visible, and the two inserts carry different tokens when
the two fetches cut the stream into different batches. So:

- the handler runs each batch, **its commit included**, inside ``InFlight.batch()``;
- ``FinishBatchBeforeRevocation.on_partitions_revoked`` waits until that batch is done.
  aiokafka awaits the listener before it rejoins the group, and the group does not hand
  the partitions to anybody until every member rejoined, so the next owner starts after
  the committed batch and never sees it again;
- if the batch does not end within ``drain_seconds`` (ClickHouse hanging), the batch is
  **abandoned**: the handler checks ``still_owner()`` before it inserts and before it
  commits, and gives the batch up instead (the next owner redelivers it). Only an insert
  already on the wire when the drain gives up is left to ClickHouse's token dedup.

A clean stop (SIGTERM) is the same case: FastStream waits up to its ``graceful_timeout``
for the handler, then the consumer leaves the group.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiokafka import ConsumerRebalanceListener, TopicPartition

log = logging.getLogger(__name__)


class BatchAbandoned(Exception):
    """The partitions of this batch were revoked before it could finish: give it up."""


class InFlight:
    """The batch one consumer is working on, for the rebalance listener to wait for."""

    def __init__(self) -> None:
        self._idle = asyncio.Event()
        self._idle.set()
        self._abandoned = False

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[None]:
        self._idle.clear()
        self._abandoned = False
        try:
            yield
        finally:
            self._idle.set()

    @property
    def busy(self) -> bool:
        return not self._idle.is_set()

    def still_owner(self) -> None:
        """Raise ``BatchAbandoned`` once a revocation gave up waiting for this batch."""
        if self._abandoned:
            raise BatchAbandoned("partitions revoked while the batch was in flight; the next owner redelivers it")

    async def drain(self, timeout: float) -> bool:
        """Wait for the batch in flight to end; on timeout mark it abandoned and return False."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            self._abandoned = True
            return False
        return True


class FinishBatchBeforeRevocation(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, in_flight: InFlight, name: str, drain_seconds: float) -> None:
        self._in_flight = in_flight
        self._name = name
        self._drain_seconds = drain_seconds

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        if not revoked or not self._in_flight.busy:
            return
        log.info("%s: partitions revoked (%s); finishing the batch in flight first", self._name,
                 ", ".join(f"{tp.topic}/{tp.partition}" for tp in sorted(revoked)))
        if not await self._in_flight.drain(self._drain_seconds):
            log.warning("%s: the batch in flight did not finish within %.0fs; abandoned (not committed, "
                        "the next owner redelivers it)", self._name, self._drain_seconds)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        return None
