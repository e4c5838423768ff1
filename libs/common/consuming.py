"""Reading batches of Kafka records, with poison messages sent to the dead-letter topic.

Handlers get the raw records of a ``batch=True`` subscriber and validate each message
body in one pydantic-core pass. A message that does not validate is a poison message:
retrying cannot fix it, so it goes to ``usage.deadletter.v1`` with the reason, and the
rest of the batch goes on. Anything else (ClickHouse or Kafka down) propagates, the
batch is not committed and Kafka redelivers it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from aiokafka.structs import ConsumerRecord
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.message import StreamMessage
from pydantic import BaseModel, ValidationError

from libs.common.kafka import decode_batch
from libs.common.topics import DEAD_LETTER, topic

log = logging.getLogger(__name__)

E = TypeVar("E", bound=BaseModel)


@dataclass(slots=True)
class DecodedBatch(Generic[E]):
    events: list[E]
    poison: list[tuple[ConsumerRecord, str]]


async def raw_bodies(message: StreamMessage[Any]) -> None:
    """A FastStream ``decoder`` that decodes nothing.

    Handlers read ``message.raw_message`` and validate each body in one pydantic-core
    pass (``decode_records``); FastStream's default decoder would first build a message
    object and ``json.loads`` every body of the batch only to throw the result away
    (measured: 5% of each consumer's CPU). Pass it as ``decoder=raw_bodies``.
    """
    return None


def records_of(raw_message: object) -> Sequence[ConsumerRecord]:
    """The records behind a FastStream Kafka message (one record, or a batch's tuple)."""
    return raw_message if isinstance(raw_message, tuple) else (raw_message,)  # type: ignore[return-value]


def decode_records(model: type[E], records: Sequence[ConsumerRecord]) -> DecodedBatch[E]:
    events: list[E] = []
    poison: list[tuple[ConsumerRecord, str]] = []
    for record in records:
        try:
            events.extend(decode_batch(model, record.value or b""))
        except ValidationError as exc:
            poison.append((record, f"{model.__name__}: {exc.error_count()} errors: {exc.errors()[:3]}"))
    return DecodedBatch(events, poison)


async def dead_letter(broker: KafkaBroker, prefix: str, poison: Sequence[tuple[ConsumerRecord, str]]) -> None:
    for record, reason in poison:
        log.error("dead-lettering %s[%s]@%s: %s", record.topic, record.partition, record.offset, reason)
        await broker.publish(
            record.value or b"",
            topic(DEAD_LETTER, prefix),
            key=record.key,
            headers={
                "x-reason": reason[:2000],
                "x-source": f"{record.topic}/{record.partition}/{record.offset}",
            },
        )


def batch_subscriber_options(*, max_records: int, batch_timeout_ms: int,
                             max_partition_fetch_bytes: int = 1024 * 1024) -> dict[str, Any]:
    """What every batch consumer here subscribes with: raw bodies, commit only after success.

    ``NACK_ON_ERROR`` commits the batch's offsets once the handler has returned and seeks
    back when it raised, so a batch is never committed before its output is safe.
    """
    return {
        "batch": True,
        "max_records": max_records,
        "max_partition_fetch_bytes": max_partition_fetch_bytes,
        "batch_timeout_ms": batch_timeout_ms,
        "auto_offset_reset": "earliest",
        "decoder": raw_bodies,  # the handler validates the raw bodies itself
        "ack_policy": AckPolicy.NACK_ON_ERROR,
    }
