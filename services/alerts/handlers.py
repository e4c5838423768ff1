"""The alerts consumer: ``spend.updated.v1`` in, one evaluation per (client, period) touched.

Consumed in the ``tokentally-alerts`` group, so Kafka gives each partition (and with it each
client, see ``ownership.py``) to one alert instance at a time. Batches are small and quick:
a batch's updates are de-duplicated, evaluated concurrently, and its offsets committed once
the evaluations have recorded their decisions (deliveries go on in the background).

Failures: an unreadable message is dead-lettered; an evaluation that fails for a transient
reason (ClickHouse away) is left to the sweep; one that fails for a permanent reason (the
server refuses the data) is dead-lettered as its ``SpendUpdated``. Anything else escaping
the batch (the dead-letter topic away) backs off and redelivers (``run_batch``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from aiokafka.structs import ConsumerRecord
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.subscriber.usecase import BatchSubscriber
from pydantic import ValidationError

from libs.common.consuming import batch_subscriber_options, records_of, run_batch
from libs.common.deadletter import DeadLetter, of_event, of_record, publish_dead_letters
from libs.common.events import SpendUpdated
from libs.common.failures import Backoff, describe, permanent_reason
from libs.common.metrics import RETRIES
from libs.common.topics import SPEND_UPDATED, topic
from services.alerts.ownership import Ownership
from services.alerts.service import AlertService
from services.alerts.settings import AlertsSettings

__all__ = ["CONSUMER", "register_handlers"]

STAGE = "alerts"
CONSUMER = "alerts.spend"


def register_handlers(
    broker: KafkaBroker, settings: AlertsSettings, ownership: Ownership, service: Callable[[], AlertService]
) -> BatchSubscriber:
    """Subscribe; ``service`` returns the service built in the app's lifespan."""
    prefix = settings.kafka.topic_prefix
    backoff = Backoff(settings.consumer_retry_base_seconds, settings.consumer_retry_max_seconds)

    subscriber = broker.subscriber(
        topic(SPEND_UPDATED, prefix),
        group_id=settings.group_id,
        listener=ownership,
        **batch_subscriber_options(max_records=settings.max_records, batch_timeout_ms=settings.batch_timeout_ms),
    )

    @subscriber
    async def on_spend_updated(message: KafkaMessage) -> None:
        records = records_of(message.raw_message)
        await run_batch(CONSUMER, backoff, lambda: evaluate(records))

    async def evaluate(records: Sequence[ConsumerRecord]) -> None:
        updates: dict[tuple[str, str], str] = {}
        poison: list[DeadLetter] = []
        for record in records:
            try:
                event = SpendUpdated.model_validate_json(record.value or b"")
            except ValidationError as exc:
                poison.append(of_record(record, f"SpendUpdated: {exc.error_count()} errors: "
                                                f"{exc.errors(include_url=False)[:3]}"))
                continue
            updates[(event.client_id, event.period)] = f"{record.topic}/{record.partition}/{record.offset}"
        failures = await service().on_spend_updated(updates)
        for client_id, period, error in failures:
            error_class = permanent_reason(error)
            if error_class is None:
                RETRIES.labels(consumer=CONSUMER).inc()  # left to the sweep
                continue
            update = SpendUpdated(client_id=client_id, period=period, updated_at=datetime.now(UTC))
            poison.append(of_event(update, updates.get((client_id, period), ""), describe(error, 1500), error_class))
        await publish_dead_letters(broker, prefix, STAGE, poison)

    return subscriber  # type: ignore[return-value]
