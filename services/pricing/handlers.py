"""The pricing consumer: raw events in, priced (or quarantined) events out."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from aiokafka.structs import ConsumerRecord
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from libs.common.consuming import (
    batch_subscriber_options,
    dead_letter,
    decode_records,
    records_of,
)
from libs.common.events import UsageRecorded
from libs.common.gc_pause import gc_paused
from libs.common.topics import USAGE_PRICED, USAGE_RECORDED, USAGE_UNPRICED, topic
from services.pricing.publishing import publish_by_client
from services.pricing.service import PricingService
from services.pricing.settings import PricingSettings


def register_handlers(broker: KafkaBroker, settings: PricingSettings, service: PricingService) -> None:
    prefix = settings.kafka.topic_prefix

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
        with gc_paused():  # exits after price_batch returned: its objects are freed by then
            await price_batch(records_of(message.raw_message))

    async def price_batch(records: Sequence[ConsumerRecord]) -> None:
        decoded = decode_records(UsageRecorded, records)
        await dead_letter(broker, prefix, decoded.poison)
        outcome = service.price(decoded.events, datetime.now(UTC))
        await publish_by_client(broker, USAGE_PRICED, prefix, outcome.priced)
        await publish_by_client(broker, USAGE_UNPRICED, prefix, outcome.unpriced)
