"""Kafka subscribers of the aggregator: thin, one call into the service each."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated

from aiokafka.structs import ConsumerRecord
from faststream import Context
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from libs.common.consuming import (
    batch_subscriber_options,
    dead_letter,
    decode_records,
    records_of,
)
from libs.common.events import SpendUpdated, UsageUnpriced
from libs.common.gc_pause import gc_paused
from libs.common.topics import SPEND_UPDATED, USAGE_PRICED, USAGE_UNPRICED, topic
from services.aggregator.rows import PricedRecord
from services.aggregator.service import Aggregator, batch_token
from services.aggregator.settings import AggregatorSettings

AGGREGATOR = "aggregator"
AggregatorDep = Annotated[Aggregator, Context(AGGREGATOR)]
"""Set in the app's lifespan, once ClickHouse is connected."""


def register_handlers(broker: KafkaBroker, settings: AggregatorSettings) -> None:
    prefix = settings.kafka.topic_prefix
    batch_options = batch_subscriber_options(
        max_records=settings.max_records,
        max_partition_fetch_bytes=settings.max_partition_fetch_bytes,
        batch_timeout_ms=settings.batch_timeout_ms,
    )
    spend_publisher = broker.publisher(topic(SPEND_UPDATED, prefix))
    min_interval = settings.min_batch_interval_ms / 1000

    @broker.subscriber(topic(USAGE_PRICED, prefix), group_id=f"{settings.group_id}.priced", **batch_options)
    async def on_priced(message: KafkaMessage, aggregator: AggregatorDep) -> None:
        started = time.monotonic()
        with gc_paused():  # exits after record_batch returned: its objects are freed by then
            periods = await record_batch(records_of(message.raw_message), aggregator)
        now = datetime.now(UTC)
        await asyncio.gather(*(
            spend_publisher.publish(
                SpendUpdated(client_id=client_id, period=period, updated_at=now).model_dump_json().encode(),
                key=client_id.encode(),
            )
            for client_id, period in sorted(periods)
        ))
        # Pace batches (see ``min_batch_interval_ms``); the offsets commit after this wait,
        # which only means a crash meanwhile redelivers a batch the dedup then skips.
        await asyncio.sleep(max(0.0, min_interval - (time.monotonic() - started)))

    async def record_batch(records: Sequence[ConsumerRecord], aggregator: Aggregator) -> set[tuple[str, str]]:
        decoded = decode_records(PricedRecord, records)
        await dead_letter(broker, prefix, decoded.poison)
        outcome = await aggregator.record_priced(decoded.events, token=batch_token(records))
        return outcome.periods

    @broker.subscriber(topic(USAGE_UNPRICED, prefix), group_id=f"{settings.group_id}.unpriced", **batch_options)
    async def on_unpriced(message: KafkaMessage, aggregator: AggregatorDep) -> None:
        decoded = decode_records(UsageUnpriced, records_of(message.raw_message))
        await dead_letter(broker, prefix, decoded.poison)
        await aggregator.record_unpriced(decoded.events)

