"""Which clients this instance is responsible for: those whose partition of ``spend.updated.v1``
Kafka has assigned to it.

The aggregator publishes every ``SpendUpdated`` with ``key=client_id``, so Kafka's default
partitioner (murmur2 of the key, as in the Java client and aiokafka) puts all of a client's
updates on one partition, and the consumer group gives each partition to one alert instance
at a time. The periodic sweep uses the same rule (``partition_for``) to look only at the
clients whose partition it holds, so a client is evaluated by one instance at a time whether
the trigger is a spend update or the sweep.

Hand-over: when partitions are revoked (a rebalance), this instance first stops treating
their clients as its own, then waits for evaluations already running to finish recording
their decisions before the rebalance completes; the new owner therefore reads those records
before deciding anything itself. Deliveries already started carry on (their rows say
``sending``, which the new owner leaves alone for ``sending_lease_seconds``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiokafka import ConsumerRebalanceListener, TopicPartition
from aiokafka.partitioner import murmur2

__all__ = ["Ownership", "partition_for"]

log = logging.getLogger(__name__)


def partition_for(client_id: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives to messages keyed ``client_id``."""
    return (murmur2(client_id.encode()) & 0x7FFFFFFF) % partitions


class Ownership(ConsumerRebalanceListener):  # type: ignore[misc]
    """Tracks this instance's partitions; passed to the subscriber as its rebalance listener."""

    def __init__(
        self,
        topic: str,
        partition_count: Callable[[], int | None],
        *,
        on_assigned: Callable[[frozenset[int]], None] = lambda _: None,
        quiesce: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.topic = topic
        self._partition_count = partition_count
        self._on_assigned = on_assigned
        self._quiesce = quiesce
        self.partitions: frozenset[int] = frozenset()

    def owns(self, client_id: str) -> bool:
        if not self.partitions:
            return False
        count = self._partition_count()
        if not count:
            return False
        return partition_for(client_id, count) in self.partitions

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        mine = {tp.partition for tp in revoked if tp.topic == self.topic}
        self.partitions = self.partitions - mine
        if mine:
            log.info("partitions %s of %s revoked; finishing evaluations in flight", sorted(mine), self.topic)
            if self._quiesce is not None:
                await self._quiesce()

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        mine = frozenset(tp.partition for tp in assigned if tp.topic == self.topic)
        self.partitions = self.partitions | mine
        log.info("owning partitions %s of %s", sorted(self.partitions), self.topic)
        if mine:
            self._on_assigned(mine)
