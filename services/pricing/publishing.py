"""Publishing priced and unpriced events: one message per client and chunk, split by count and size."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from faststream.kafka import KafkaBroker
from pydantic import BaseModel

from libs.common.deadletter import MESSAGE_TOO_LARGE
from libs.common.failures import Refused, permanent_reason, write_isolating
from libs.common.kafka import Encoder, encode_batch, group_by_client, pack
from libs.common.metrics import BYTES_PUBLISHED, EVENTS_PUBLISHED, MESSAGES_PUBLISHED
from libs.common.priced_wire import encode_priced
from libs.common.topics import USAGE_PRICED, topic
from services.pricing.producer import BatchProducer

E = TypeVar("E", bound=BaseModel)
T = TypeVar("T")


@dataclass(slots=True)
class Outgoing(Generic[T]):
    """One topic's message bodies, ready to send, and the events that cannot travel.

    Written before anything is sent (``pack_groups``), so a batch's CPU work is done in one
    place, apart from the waits for Kafka's acks (``send``).
    """

    name: str
    messages: list[tuple[str, bytes, Sequence[T], Encoder[T]]] = field(default_factory=list)
    """``(client_id, body, the events in it, how to write a part of them again)``."""
    refused: list[Refused[T]] = field(default_factory=list)


def pack_groups(name: str, groups: Mapping[str, Sequence[T]], max_bytes: int,
                encoder_for: Callable[[str], Encoder[T]]) -> Outgoing[T]:
    """The bodies of each client's events for topic ``name``, written by ``encoder_for(client_id)``.

    Messages hold at most ``max_bytes`` (``KAFKA_MAX_MESSAGE_BYTES``); an event that alone
    encodes to more is refused.
    """
    outgoing: Outgoing[T] = Outgoing(name)
    for client_id, group in groups.items():
        encode = encoder_for(client_id)
        packed = pack(group, max_bytes, encode=encode)  # type: ignore[type-var]
        outgoing.refused.extend(
            Refused(event, f"its {name} message alone would be {size:,} bytes, over the "
                           f"{max_bytes:,}-byte message limit (KAFKA_MAX_MESSAGE_BYTES)", MESSAGE_TOO_LARGE)
            for event, size in packed.oversized
        )
        outgoing.messages.extend((client_id, body, chunk, encode) for body, chunk in packed.messages)
    return outgoing


def pack_by_client(name: str, events: Sequence[E], max_bytes: int) -> Outgoing[E]:
    """``pack_groups`` of events (models) by their ``client_id``.

    Priced events travel in the compact format the aggregator reads fastest
    (``libs.common.priced_wire``); unpriced ones as JSON arrays of ``UsageUnpriced``.
    """
    encode: Encoder[E] = encode_priced if name == USAGE_PRICED else encode_batch  # type: ignore[assignment]
    return pack_groups(name, group_by_client(events), max_bytes, lambda _: encode)


async def send(broker: KafkaBroker, prefix: str, outgoing: Outgoing[T],
               producer: BatchProducer | None = None) -> list[Refused[T]]:
    """Send every message and wait for the acks.

    With ``producer``, the messages go in one aiokafka batch per partition (the consumer's
    path: ``services.pricing.producer``); a batch Kafka refuses is sent again message by
    message through ``broker``. Returns the events that cannot travel: those ``pack_groups``
    refused, and any Kafka refuses alone (found by bisecting a refused message). A transient
    failure propagates.
    """
    target = topic(outgoing.name, prefix)
    refused = list(outgoing.refused)
    messages = outgoing.messages
    if producer is not None and messages:
        errors = await producer.send(target, [(client_id.encode(), body) for client_id, body, _, _ in messages])
        for error in errors:
            if error is not None and permanent_reason(error) is None:
                raise error  # transient: the batch is tried again (the aggregator drops what arrived twice)
        done = [message for message, error in zip(messages, errors, strict=True) if error is None]
        MESSAGES_PUBLISHED.labels(topic=target).inc(len(done))
        EVENTS_PUBLISHED.labels(topic=target).inc(sum(len(chunk) for _, _, chunk, _ in done))
        BYTES_PUBLISHED.labels(topic=target).inc(sum(len(body) for _, body, _, _ in done))
        messages = [message for message, error in zip(messages, errors, strict=True) if error is not None]
    for found in await asyncio.gather(*(_send_isolating(broker, target, client_id, body, chunk, encode)
                                        for client_id, body, chunk, encode in messages)):
        refused.extend(found)
    return refused


async def publish_by_client(broker: KafkaBroker, name: str, prefix: str, events: Sequence[E],
                            max_bytes: int) -> list[Refused[E]]:
    """``pack_by_client`` then ``send``: publish events under their client's key, wait for the acks."""
    return await send(broker, prefix, pack_by_client(name, events, max_bytes))


async def _send_isolating(broker: KafkaBroker, target: str, client_id: str, body: bytes,
                          chunk: Sequence[T], encode: Encoder[T]) -> list[Refused[T]]:
    async def send(items: Sequence[T]) -> None:
        payload = body if items is chunk else encode(items)
        await broker.publish(payload, target, key=client_id.encode())
        MESSAGES_PUBLISHED.labels(topic=target).inc()
        EVENTS_PUBLISHED.labels(topic=target).inc(len(items))
        BYTES_PUBLISHED.labels(topic=target).inc(len(payload))

    return await write_isolating(chunk, send)
