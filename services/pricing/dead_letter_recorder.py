"""Pricing records every message of the dead-letter topic in ClickHouse, for ``/v1/dead-letters``.

A consumer group of its own on ``usage.deadletter.v1``; a batch is inserted, then its
offsets commit. A redelivered batch writes the same rows again (same ``letter_id``,
version 1), which changes nothing and never hides an admin's decision.
"""

from __future__ import annotations

from collections.abc import Callable

from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from libs.common.consuming import batch_subscriber_options, records_of, run_batch
from libs.common.failures import Backoff
from libs.common.topics import DEAD_LETTER, topic
from services.pricing.dead_letters import DeadLetterService
from services.pricing.settings import PricingSettings

CONSUMER = "pricing.deadletters"


def dead_letter_group(settings: PricingSettings) -> str:
    return f"{settings.group_id}.dead-letters"


def register_recorder(broker: KafkaBroker, settings: PricingSettings, letters: Callable[[], DeadLetterService]) -> None:
    """``letters()`` gives the service once the lifespan made it (and raises a transient error before)."""
    backoff = Backoff(settings.consumer_retry_base_seconds, settings.consumer_retry_max_seconds)

    @broker.subscriber(
        topic(DEAD_LETTER, settings.kafka.topic_prefix),
        group_id=dead_letter_group(settings),
        **batch_subscriber_options(max_records=500, batch_timeout_ms=200),
    )
    async def on_dead_letter(message: KafkaMessage) -> None:
        records = list(records_of(message.raw_message))
        await run_batch(CONSUMER, backoff, lambda: letters().record(records), events=len(records))
