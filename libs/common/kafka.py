"""Kafka helpers: the broker factory, topic set-up and the batch message codec.

Messages carry a JSON array of events for one client (keyed by client_id): one Kafka
message per event would spend most of each stage's time in the Python client.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Generic, TypeVar

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from faststream.kafka import KafkaBroker
from pydantic import BaseModel, TypeAdapter

from libs.common.settings import KafkaSettings
from libs.common.topics import ALL_TOPICS, topic

log = logging.getLogger(__name__)

E = TypeVar("E", bound=BaseModel)

#: Events per Kafka message: big enough to amortise the client's per-message cost.
#: Messages are also split by size (``pack``), so big events cannot push one over the limit.
EVENTS_PER_MESSAGE = 500
#: What topics allow beyond ``max_message_bytes``: record headers (a dead letter's reason),
#: key and batch framing. Producers may send requests this much larger too.
MESSAGE_HEADROOM_BYTES = 64 * 1024


def create_broker(settings: KafkaSettings, *, client_id: str, **options: object) -> KafkaBroker:
    """A broker whose producer waits for all in-sync replicas and never duplicates on retry."""
    return KafkaBroker(
        settings.bootstrap_servers,
        client_id=client_id,
        **producer_options(settings),
        **options,  # type: ignore[arg-type]
    )


def producer_options(settings: KafkaSettings) -> dict[str, Any]:
    """How every producer of ours is configured (``create_broker``'s, and ingest's own
    ``AIOKafkaProducer``): acks from all in-sync replicas, idempotent, sized for our messages."""
    return {
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 5,
        # aiokafka's default 16 KiB batch per partition cut every publish of a few hundred
        # events into many sequential produce requests: ingest's 1,000-event POST waited
        # ~280 ms for acks with the CPU idle. 1 MiB holds a whole message group.
        "max_batch_size": settings.max_message_bytes,
        "max_request_size": settings.max_message_bytes + MESSAGE_HEADROOM_BYTES,
        "request_timeout_ms": settings.request_timeout_ms,
    }


def topic_max_message_bytes(settings: KafkaSettings) -> int:
    """The ``max.message.bytes`` our topics are created with."""
    return settings.max_message_bytes + MESSAGE_HEADROOM_BYTES


async def ensure_topics(settings: KafkaSettings, names: Iterable[str] = ALL_TOPICS) -> None:
    """Create the topics if missing, with the configured partitions, replication and message size.

    Topics that exist with a smaller ``max.message.bytes`` (made before this setting, or by
    hand) are raised to it, so a message the producers consider fine is never refused.
    """
    limit = str(topic_max_message_bytes(settings))
    physical = [topic(name, settings.topic_prefix) for name in names]
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(name=name, num_partitions=settings.topic_partitions,
                     replication_factor=settings.replication_factor, topic_configs={"max.message.bytes": limit})
            for name in physical
            if name not in existing
        ]
        if wanted:
            try:
                await admin.create_topics(wanted)
            except TopicAlreadyExistsError:
                pass  # another service created them first
        await _raise_message_limits(admin, [name for name in physical if name in existing], int(limit))
    finally:
        await admin.close()


async def _raise_message_limits(admin: AIOKafkaAdminClient, names: list[str], limit: int) -> None:
    if not names:
        return
    try:
        responses = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name, configs={"max.message.bytes": None}) for name in names])
        current = {
            resource[3]: int(entry[1])
            for response in responses for resource in response.resources
            for entry in resource[4] if entry[0] == "max.message.bytes" and entry[1] is not None
        }
        small = [name for name in names if current.get(name, 0) < limit]
        if small:
            await admin.alter_configs(
                [ConfigResource(ConfigResourceType.TOPIC, name, configs={"max.message.bytes": str(limit)})
                 for name in small])
            log.info("raised max.message.bytes to %d on %s", limit, ", ".join(small))
    except (KafkaError, ValueError, IndexError, TypeError) as exc:  # noqa: PERF203 - reported, not fatal
        log.warning("could not check max.message.bytes of existing topics (%r); producers keep to "
                    "KAFKA_MAX_MESSAGE_BYTES, which the broker default (1 MiB) allows", exc)


@cache
def batch_adapter(model: type[E]) -> TypeAdapter[list[E]]:
    return TypeAdapter(list[model])  # type: ignore[valid-type]


def encode_batch(events: Sequence[BaseModel]) -> bytes:
    """One message body: a JSON array of events of one type."""
    if not events:
        return b"[]"
    return batch_adapter(type(events[0])).dump_json(list(events))


def decode_batch(model: type[E], body: bytes) -> list[E]:
    """Validate a whole message in one pass (pydantic-core parses and validates the JSON)."""
    return batch_adapter(model).validate_json(body)


def chunks(items: Sequence[E], size: int = EVENTS_PER_MESSAGE) -> Iterator[Sequence[E]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass(slots=True)
class Packed(Generic[E]):
    """Events packed into message bodies, and those too large to travel even alone."""

    messages: list[tuple[bytes, Sequence[E]]] = field(default_factory=list)
    oversized: list[tuple[E, int]] = field(default_factory=list)
    """Each event that alone encodes to more than the limit, with its encoded size."""


Encoder = Callable[[Sequence[E]], bytes]
"""Writes one message body for events of one client (``encode_batch``, or a topic's own format)."""


def pack(events: Sequence[E], max_bytes: int, max_events: int = EVENTS_PER_MESSAGE,
         encode: Encoder[E] = encode_batch) -> Packed[E]:
    """Split events into bodies of at most ``max_events`` events and ``max_bytes`` bytes.

    A chunk is encoded once; only one over the limit is split (into as many parts as its
    size calls for) and encoded again, so the common case costs one ``encode`` per chunk.
    """
    packed: Packed[E] = Packed()
    for chunk in chunks(events, max_events):
        _pack_chunk(chunk, max_bytes, packed, encode)
    return packed


def _pack_chunk(chunk: Sequence[E], max_bytes: int, packed: Packed[E], encode: Encoder[E]) -> None:
    body = encode(chunk)
    if len(body) <= max_bytes:
        packed.messages.append((body, chunk))
    elif len(chunk) == 1:
        packed.oversized.append((chunk[0], len(body)))
    else:
        parts = min(len(chunk), -(-len(body) // max_bytes))
        size = -(-len(chunk) // parts)
        for start in range(0, len(chunk), size):
            _pack_chunk(chunk[start : start + size], max_bytes, packed, encode)


def group_by_client(events: Iterable[E]) -> dict[str, list[E]]:
    """Events by client_id, keeping order: each group goes out under its client's key."""
    groups: dict[str, list[E]] = {}
    for event in events:
        groups.setdefault(event.client_id, []).append(event)  # type: ignore[attr-defined]
    return groups
