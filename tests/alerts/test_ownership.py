"""One owner per client: the partition rule matches Kafka's producer, and the listener tracks it."""

from __future__ import annotations

import asyncio

from aiokafka import TopicPartition
from aiokafka.partitioner import DefaultPartitioner

from services.alerts.ownership import Ownership, partition_for

TOPIC = "t.spend.updated.v1"


def test_partition_for_matches_the_producers_default_partitioner() -> None:
    partitioner = DefaultPartitioner()
    for partitions in (1, 3, 4, 12):
        for n in range(300):
            client_id = f"client-{n}"
            expected = partitioner(client_id.encode(), list(range(partitions)), list(range(partitions)))
            assert partition_for(client_id, partitions) == expected


def clients_on(partition: int, partitions: int = 4, count: int = 3) -> list[str]:
    found = []
    n = 0
    while len(found) < count:
        candidate = f"c{n}"
        if partition_for(candidate, partitions) == partition:
            found.append(candidate)
        n += 1
    return found


async def test_owns_only_the_clients_of_assigned_partitions_and_waits_for_work_on_revoke() -> None:
    assigned: list[frozenset[int]] = []
    quiesced: list[bool] = []

    async def quiesce() -> None:
        await asyncio.sleep(0)
        quiesced.append(True)

    ownership = Ownership(TOPIC, lambda: 4, on_assigned=assigned.append, quiesce=quiesce)
    assert not ownership.owns(clients_on(0)[0])  # nothing before the first assignment

    await ownership.on_partitions_assigned({TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 2),
                                            TopicPartition("other", 1)})
    assert assigned == [frozenset({0, 2})]
    assert all(ownership.owns(c) for c in clients_on(0) + clients_on(2))
    assert not any(ownership.owns(c) for c in clients_on(1) + clients_on(3))

    await ownership.on_partitions_revoked({TopicPartition(TOPIC, 0)})
    assert quiesced == [True]
    assert not any(ownership.owns(c) for c in clients_on(0))
    assert all(ownership.owns(c) for c in clients_on(2))


async def test_unknown_partition_count_owns_nothing() -> None:
    ownership = Ownership(TOPIC, lambda: None)
    await ownership.on_partitions_assigned({TopicPartition(TOPIC, 0)})
    assert not ownership.owns("anyone")
