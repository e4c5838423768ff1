"""Publishing priced and unpriced events: one message per client and chunk, split by count and size."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TypeVar

from faststream.kafka import KafkaBroker
from pydantic import BaseModel

from libs.common.deadletter import MESSAGE_TOO_LARGE
from libs.common.failures import Refused, write_isolating
from libs.common.kafka import Encoder, encode_batch, group_by_client, pack
from libs.common.metrics import BYTES_PUBLISHED, EVENTS_PUBLISHED, MESSAGES_PUBLISHED
from libs.common.priced_wire import encode_priced
from libs.common.topics import USAGE_PRICED, topic

E = TypeVar("E", bound=BaseModel)


async def publish_by_client(broker: KafkaBroker, name: str, prefix: str, events: Sequence[E],
                            max_bytes: int) -> list[Refused[E]]:
    """Publish events under their client's key and wait for the broker's acks.

    Priced events travel in the compact format the aggregator reads fastest
    (``libs.common.priced_wire``); unpriced ones as JSON arrays of ``UsageUnpriced``.

    Messages hold at most ``max_bytes`` (``KAFKA_MAX_MESSAGE_BYTES``). Returns the events
    that cannot travel: one that alone encodes to more, or one Kafka refuses alone (found
    by bisecting a refused message). A transient failure propagates.
    """
    target = topic(name, prefix)
    encode: Encoder[E] = encode_priced if name == USAGE_PRICED else encode_batch  # type: ignore[assignment]
    refused: list[Refused[E]] = []
    sends = []
    for client_id, group in group_by_client(events).items():
        packed = pack(group, max_bytes, encode=encode)
        refused.extend(
            Refused(event, f"its {name} message alone would be {size:,} bytes, over the "
                           f"{max_bytes:,}-byte message limit (KAFKA_MAX_MESSAGE_BYTES)", MESSAGE_TOO_LARGE)
            for event, size in packed.oversized
        )
        sends.extend(_send_isolating(broker, target, client_id, body, chunk, encode)
                     for body, chunk in packed.messages)
    for found in await asyncio.gather(*sends):
        refused.extend(found)
    return refused


async def _send_isolating(broker: KafkaBroker, target: str, client_id: str, body: bytes,
                          chunk: Sequence[E], encode: Encoder[E]) -> list[Refused[E]]:
    async def send(items: Sequence[E]) -> None:
        payload = body if items is chunk else encode(items)
        await broker.publish(payload, target, key=client_id.encode())
        MESSAGES_PUBLISHED.labels(topic=target).inc()
        EVENTS_PUBLISHED.labels(topic=target).inc(len(items))
        BYTES_PUBLISHED.labels(topic=target).inc(len(payload))

    return await write_isolating(chunk, send)
