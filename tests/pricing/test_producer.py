"""Pricing's batch producer on the real Kafka: every message arrives whole, keyed, on the partition
aiokafka's default partitioner (``broker.publish`` before it) picks for its key; a message Kafka
refuses is reported alone and everything else arrives."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer
from aiokafka.partitioner import DefaultPartitioner

from libs.common.kafka import ensure_topics
from libs.common.settings import KafkaSettings
from libs.common.topics import USAGE_PRICED, topic
from services.pricing.producer import BatchProducer


async def _read(settings: KafkaSettings, count: int) -> list[tuple[int, bytes, bytes]]:
    consumer = AIOKafkaConsumer(topic(USAGE_PRICED, settings.topic_prefix), bootstrap_servers=settings.bootstrap_servers,
                                auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    found: list[tuple[int, bytes, bytes]] = []
    try:
        async with asyncio.timeout(30):
            while len(found) < count:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    found += [(r.partition, r.key or b"", r.value or b"") for r in records]
    finally:
        await consumer.stop()
    return found


async def test_messages_arrive_on_the_default_partition_of_their_key(kafka_settings: KafkaSettings) -> None:
    settings = kafka_settings.model_copy(update={"max_message_bytes": 16 * 1024})
    await ensure_topics(settings, [USAGE_PRICED])
    producer = BatchProducer(settings, "test-pricing")
    await producer.start()
    # 60 clients; some bodies near the limit so batches fill up and are handed over early.
    messages = [(f"client-{n % 60}".encode(), f'{{"n":{n},"pad":"{"x" * (n % 7) * 2_000}"}}'.encode())
                for n in range(300)]
    try:
        errors = await producer.send(topic(USAGE_PRICED, settings.topic_prefix), messages)
    finally:
        await producer.stop()

    assert errors == [None] * len(messages)
    found = await _read(settings, len(messages))
    partitions = sorted({partition for partition, _, _ in found} | set(range(settings.topic_partitions)))
    assert sorted((key, value) for _, key, value in found) == sorted(messages)
    for partition, key, _ in found:
        assert partition == DefaultPartitioner()(key, partitions, partitions)
    for client in {key for key, _ in messages}:  # one client's messages keep their order
        assert [v for _, k, v in found if k == client] == [b for k, b in messages if k == client]


async def test_a_message_kafka_refuses_is_reported_as_its_own_permanent_error(kafka_settings: KafkaSettings) -> None:
    """The caller sends such a message again alone through the broker, to isolate the event refused
    (``services.pricing.publishing.send``)."""
    from libs.common.failures import permanent_reason

    settings = kafka_settings.model_copy(update={"max_message_bytes": 16 * 1024})
    await ensure_topics(settings, [USAGE_PRICED])
    producer = BatchProducer(settings, "test-pricing")
    await producer.start()
    try:
        (error,) = await producer.send(topic(USAGE_PRICED, settings.topic_prefix),
                                       [(b"big", b"x" * settings.max_message_bytes * 8)])
        assert error is not None and permanent_reason(error) == "kafka:message_too_large"
        assert await producer.send(topic(USAGE_PRICED, settings.topic_prefix), [(b"ok", b"1")]) == [None]
    finally:
        await producer.stop()
    assert [(k, v) for _, k, v in await _read(settings, 1)] == [(b"ok", b"1")]
