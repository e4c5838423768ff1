"""The pricing consumer: raw events in, priced (or quarantined) events out.

Order within a batch: price; publish priced and unpriced events (split by count and size)
and wait for the acks; dead-letter what could not be read, priced or published; return,
and the offsets commit. A crash before the commit reprices the batch, which the
aggregator's dedup makes harmless. A transient failure backs off (``run_batch``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from aiokafka.structs import ConsumerRecord
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from libs.common.consuming import DecodedBatch, batch_subscriber_options, records_of, run_batch
from libs.common.deadletter import DeadLetter, of_event, publish_dead_letters
from libs.common.failures import Backoff, Refused
from libs.common.gc_pause import gc_paused
from libs.common.metrics import EVENTS_PRICED, EVENTS_UNPRICED
from libs.common.topics import USAGE_RECORDED, topic
from services.pricing.batch import as_model, prepare
from services.pricing.producer import BatchProducer
from services.pricing.publishing import send
from services.pricing.service import PricingService
from services.pricing.settings import PricingSettings

STAGE = "pricing"
CONSUMER = "pricing.recorded"


def letters_for(refused: Sequence[Refused[Any]], decoded: DecodedBatch[Any], priced_at: datetime) -> list[DeadLetter]:
    """Dead letters naming the message each event came in (priced events by their event key)."""
    if not refused:  # the common case: no per-event index to build
        return []
    source = {(e.client_id, e.event_id): src for e, src in zip(decoded.events, decoded.sources, strict=True)}
    letters = []
    for r in refused:
        event = as_model(r.item, priced_at)
        letters.append(of_event(event, source.get((event.client_id, event.event_id), ""),  # type: ignore[attr-defined]
                                r.reason, r.error_class))
    return letters


def register_handlers(broker: KafkaBroker, settings: PricingSettings, service: PricingService,
                      producer: BatchProducer | None = None) -> None:
    """The raw topic's consumer; its priced and unpriced messages go through ``producer`` when
    given (started and stopped by the caller), else through ``broker`` one by one."""
    prefix = settings.kafka.topic_prefix
    max_bytes = settings.kafka.max_message_bytes
    backoff = Backoff(settings.consumer_retry_base_seconds, settings.consumer_retry_max_seconds)

    @broker.subscriber(
        topic(USAGE_RECORDED, prefix),
        group_id=settings.group_id,
        **batch_subscriber_options(
            max_records=settings.max_records,
            max_partition_fetch_bytes=settings.max_partition_fetch_bytes,
            batch_timeout_ms=settings.batch_timeout_ms,
        ),
    )
    async def on_recorded(message: KafkaMessage) -> None:
        records = records_of(message.raw_message)
        await run_batch(CONSUMER, backoff, lambda: price_batch(records))

    async def price_batch(records: Sequence[ConsumerRecord]) -> None:
        with gc_paused():  # the batch's objects live in price_and_publish: freed before the collector resumes
            priced, unpriced = await price_and_publish(records)
        EVENTS_PRICED.inc(priced)
        EVENTS_UNPRICED.inc(unpriced)

    async def price_and_publish(records: Sequence[ConsumerRecord]) -> tuple[int, int]:
        now = datetime.now(UTC)
        batch = prepare(service, records, now, max_bytes)
        decoded, outcome = batch.decoded, batch.outcome
        refused = [
            *outcome.failed,
            *await send(broker, prefix, batch.priced, producer),
            *await send(broker, prefix, batch.unpriced, producer),
        ]
        await publish_dead_letters(broker, prefix, STAGE, [*decoded.poison, *letters_for(refused, decoded, now)])
        return len(outcome.priced), len(outcome.unpriced)
