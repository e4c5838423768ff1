"""The alerts consumer: ``spend.updated.v1`` in, one evaluation per (client, period) touched.

Consumed in the ``tokentally-alerts`` group, so Kafka gives each partition (and with it each
client, see ``ownership.py``) to one alert instance at a time. Batches are small and quick:
a batch's updates are de-duplicated, evaluated concurrently, and its offsets committed once
the evaluations have recorded their decisions (deliveries go on in the background).
"""

from __future__ import annotations

from collections.abc import Callable

from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.subscriber.usecase import BatchSubscriber
from pydantic import ValidationError

from libs.common.consuming import (
    batch_subscriber_options,
    dead_letter,
    records_of,
)
from libs.common.events import SpendUpdated
from libs.common.topics import SPEND_UPDATED, topic
from services.alerts.ownership import Ownership
from services.alerts.service import AlertService
from services.alerts.settings import AlertsSettings

__all__ = ["register_handlers"]


def register_handlers(
    broker: KafkaBroker, settings: AlertsSettings, ownership: Ownership, service: Callable[[], AlertService]
) -> BatchSubscriber:
    """Subscribe; ``service`` returns the service built in the app's lifespan."""
    prefix = settings.kafka.topic_prefix

    subscriber = broker.subscriber(
        topic(SPEND_UPDATED, prefix),
        group_id=settings.group_id,
        listener=ownership,
        **batch_subscriber_options(max_records=settings.max_records, batch_timeout_ms=settings.batch_timeout_ms),
    )

    @subscriber
    async def on_spend_updated(message: KafkaMessage) -> None:
        updates: set[tuple[str, str]] = set()
        poison = []
        for record in records_of(message.raw_message):
            try:
                event = SpendUpdated.model_validate_json(record.value or b"")
            except ValidationError as exc:
                poison.append((record, f"SpendUpdated: {exc.error_count()} errors: {exc.errors()[:3]}"))
                continue
            updates.add((event.client_id, event.period))
        await dead_letter(broker, prefix, poison)
        await service().on_spend_updated(updates)

    return subscriber  # type: ignore[return-value]
