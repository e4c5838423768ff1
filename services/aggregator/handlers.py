"""Kafka subscribers of the aggregator: thin, one call into the service each.

Each batch runs through ``run_batch``: a transient failure (ClickHouse or Kafka away)
waits out a capped exponential backoff, then the batch is redelivered; events the
service sets aside as impossible to store go to the dead-letter topic before the
batch's offsets are committed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from aiokafka.structs import ConsumerRecord
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from libs.common.consuming import DecodedBatch, batch_subscriber_options, decode_records, records_of, run_batch
from libs.common.deadletter import DeadLetter, of_body, of_event, publish_dead_letters
from libs.common.events import SpendUpdated, UsageUnpriced
from libs.common.failures import Backoff, Refused
from libs.common.gc_pause import gc_paused
from libs.common.metrics import DUPLICATES_DROPPED, EVENTS_INSERTED
from libs.common.topics import SPEND_UPDATED, USAGE_PRICED, USAGE_UNPRICED, topic
from services.aggregator.ownership import FinishBatchBeforeRevocation, InFlight
from services.aggregator.entries import PricedEntry, read_priced
from services.aggregator.service import Aggregator, batch_token
from services.aggregator.settings import AggregatorSettings

STAGE = "aggregator"


def letters_for(refused: Sequence[Refused[Any]], decoded: DecodedBatch[Any]) -> list[DeadLetter]:
    """Dead letters for refused events, each naming the message it came in."""
    if not refused:  # the common case: no per-event index to build
        return []
    source = {id(event): src for event, src in zip(decoded.events, decoded.sources, strict=True)}
    return [_letter(r, source.get(id(r.item), "")) for r in refused]


def _letter(refused: Refused[Any], source: str) -> DeadLetter:
    item = refused.item
    if isinstance(item, PricedEntry):
        return of_body(item.dead_letter_body(), item.client_id, item.event_id, source, refused.reason,
                       refused.error_class)
    return of_event(item, source, refused.reason, refused.error_class)


def register_handlers(broker: KafkaBroker, settings: AggregatorSettings, aggregator: Aggregator) -> None:
    prefix = settings.kafka.topic_prefix
    batch_options = batch_subscriber_options(
        max_records=settings.max_records,
        max_partition_fetch_bytes=settings.max_partition_fetch_bytes,
        batch_timeout_ms=settings.batch_timeout_ms,
    )
    spend_publisher = broker.publisher(topic(SPEND_UPDATED, prefix))
    min_interval = settings.min_batch_interval_ms / 1000
    priced_backoff = Backoff(settings.consumer_retry_base_seconds, settings.consumer_retry_max_seconds)
    unpriced_backoff = Backoff(settings.consumer_retry_base_seconds, settings.consumer_retry_max_seconds)

    in_flight = InFlight()
    listener = FinishBatchBeforeRevocation(in_flight, "aggregator.priced", settings.rebalance_drain_seconds)

    @broker.subscriber(topic(USAGE_PRICED, prefix), group_id=f"{settings.group_id}.priced", listener=listener,
                       **batch_options)
    async def on_priced(message: KafkaMessage) -> None:
        started = time.monotonic()
        records = records_of(message.raw_message)
        # The whole batch, its commit included, inside ``in_flight``: a rebalance waits for it
        # (``services/aggregator/ownership.py``), so no other instance replays it meanwhile.
        async with in_flight.batch():
            periods = await run_batch("aggregator.priced", priced_backoff, lambda: record_batch(records))
            now = datetime.now(UTC)
            await asyncio.gather(*(
                spend_publisher.publish(
                    SpendUpdated(client_id=client_id, period=period, updated_at=now).model_dump_json().encode(),
                    key=client_id.encode(),
                )
                for client_id, period in sorted(periods)
            ))
            in_flight.still_owner()
            await message.ack()  # commit now; FastStream's own ack after the handler is then a no-op
        # Pace batches (see ``min_batch_interval_ms``), after the commit.
        await asyncio.sleep(max(0.0, min_interval - (time.monotonic() - started)))

    async def record_batch(records: Sequence[ConsumerRecord]) -> set[tuple[str, str]]:
        with gc_paused():  # the batch's objects live in store_batch: freed before the collector resumes
            inserted, duplicates, periods = await store_batch(records)
        EVENTS_INSERTED.labels(table="priced_events").inc(inserted)
        DUPLICATES_DROPPED.inc(duplicates)
        return periods

    async def store_batch(records: Sequence[ConsumerRecord]) -> tuple[int, int, set[tuple[str, str]]]:
        decoded = read_priced(records)
        outcome = await aggregator.record_priced(decoded.events, token=batch_token(records),
                                                 still_owner=in_flight.still_owner)
        await publish_dead_letters(broker, prefix, STAGE, [*decoded.poison, *letters_for(outcome.refused, decoded)])
        return outcome.inserted, outcome.duplicates, outcome.periods

    @broker.subscriber(topic(USAGE_UNPRICED, prefix), group_id=f"{settings.group_id}.unpriced", **batch_options)
    async def on_unpriced(message: KafkaMessage) -> None:
        records = records_of(message.raw_message)
        await run_batch("aggregator.unpriced", unpriced_backoff, lambda: record_unpriced(records))

    async def record_unpriced(records: Sequence[ConsumerRecord]) -> None:
        decoded = decode_records(UsageUnpriced, records)
        refused = await aggregator.record_unpriced(decoded.events)
        await publish_dead_letters(broker, prefix, STAGE, [*decoded.poison, *letters_for(refused, decoded)])
        EVENTS_INSERTED.labels(table="unpriced_events").inc(len(decoded.events) - len(refused))
