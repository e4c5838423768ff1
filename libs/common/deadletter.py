"""The dead-letter topic (``usage.deadletter.v1``): what no consumer can ever process, and why.

One message per offending event where the event could be read (its JSON as the body),
or the raw record when it could not. Keyed by client_id when known. Headers:

- ``x-reason``: a sentence (or the server's refusal), at most 2,000 characters;
- ``x-error-class``: ``invalid_message``, ``out_of_range``, ``message_too_large``,
  ``clickhouse:<CODE_NAME>``, ``processing_error`` (see ``libs.common.failures``);
- ``x-stage``: the consumer that gave up (``pricing``, ``aggregator``, ``alerts``);
- ``x-source``: ``topic/partition/offset`` of the message the event came in;
- ``x-dead-lettered-at``: RFC 3339 time.

Pricing records every dead letter in ClickHouse (``dead_letters``) where an admin lists,
fixes and re-drives them (``/v1/dead-letters``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka.structs import ConsumerRecord
from faststream.kafka import KafkaBroker
from pydantic import BaseModel

from libs.common.metrics import EVENTS_DEAD_LETTERED
from libs.common.topics import DEAD_LETTER, topic

log = logging.getLogger(__name__)

REASON_LIMIT = 2000
INVALID_MESSAGE = "invalid_message"
OUT_OF_RANGE = "out_of_range"
MESSAGE_TOO_LARGE = "message_too_large"
PROCESSING_ERROR = "processing_error"


@dataclass(frozen=True, slots=True)
class DeadLetter:
    payload: bytes
    key: bytes | None
    reason: str
    error_class: str
    source: str
    client_id: str = ""
    event_id: str = ""


def source_of(record: ConsumerRecord) -> str:
    return f"{record.topic}/{record.partition}/{record.offset}"


def of_record(record: ConsumerRecord, reason: str, error_class: str = INVALID_MESSAGE) -> DeadLetter:
    """A whole message that could not be read."""
    return DeadLetter(record.value or b"", record.key, reason, error_class, source_of(record),
                      client_id=(record.key or b"").decode(errors="replace"))


def of_event(event: BaseModel, source: str, reason: str, error_class: str) -> DeadLetter:
    """One event of a readable message (``client_id``/``event_id`` read from it when it has them)."""
    return of_body(event.model_dump_json().encode(), str(getattr(event, "client_id", "")),
                   str(getattr(event, "event_id", "")), source, reason, error_class)


def of_body(body: bytes, client_id: str, event_id: str, source: str, reason: str, error_class: str) -> DeadLetter:
    """One event, already written as its JSON body."""
    return DeadLetter(body, client_id.encode() or None, reason, error_class, source, client_id=client_id,
                      event_id=event_id)


async def publish_dead_letters(broker: KafkaBroker, prefix: str, stage: str, letters: Sequence[DeadLetter]) -> None:
    """Publish and wait for the acks; the caller commits its input only after this returned."""
    if not letters:
        return
    now = datetime.now(UTC).isoformat()
    for letter in letters:
        log.error("dead-lettering from %s: %s", letter.source, letter.reason,
                  extra={"stage": stage, "error_class": letter.error_class, "client_id": letter.client_id,
                         "event_id": letter.event_id, "source": letter.source})
    await asyncio.gather(*(
        broker.publish(
            letter.payload, topic(DEAD_LETTER, prefix), key=letter.key,
            headers={"x-reason": letter.reason[:REASON_LIMIT], "x-error-class": letter.error_class,
                     "x-stage": stage, "x-source": letter.source, "x-dead-lettered-at": now},
        )
        for letter in letters
    ))
    for letter in letters:
        EVENTS_DEAD_LETTERED.labels(stage=stage, error_class=letter.error_class).inc()
