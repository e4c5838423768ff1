"""Publishing accepted events to ``usage.recorded.v1``, acked by Kafka before we answer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from aiokafka.errors import KafkaError
from faststream.kafka import KafkaBroker

from libs.common.errors import TokenTallyError, Unavailable
from libs.common.failures import permanent_reason
from libs.common.metrics import BYTES_PUBLISHED, EVENTS_PUBLISHED, MESSAGES_PUBLISHED
from libs.common.topics import USAGE_RECORDED, topic

log = logging.getLogger(__name__)


class StreamRefused(TokenTallyError):
    """Kafka refuses a message we built within the configured limits: a deployment problem
    (a topic's ``max.message.bytes`` lowered by hand), not the client's and not transient."""


class UsagePublisher:
    """Connects lazily, so ingest starts (and answers 503) while Kafka is away."""

    def __init__(self, broker: KafkaBroker, topic_prefix: str, timeout_seconds: float) -> None:
        self._broker = broker
        self._topic = topic(USAGE_RECORDED, topic_prefix)
        self._timeout = timeout_seconds
        self._started = False
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        async with self._lock:
            if not self._started:
                await asyncio.wait_for(self._broker.start(), self._timeout)
                self._started = True

    async def stop(self) -> None:
        if self._started:
            await self._broker.stop()
            self._started = False

    async def publish(self, messages: Sequence[tuple[str, bytes, int]]) -> None:
        """Send ``(client_id, body, events)`` messages keyed by client_id and wait for every ack.

        Raises ``Unavailable`` when Kafka is away or slow (retrying later works), and
        ``StreamRefused`` when it refuses the data itself.
        """
        try:
            await self.start()
            sends = [self._broker.publish(body, self._topic, key=client_id.encode()) for client_id, body, _ in messages]
            await asyncio.wait_for(asyncio.gather(*sends), self._timeout)
        except (KafkaError, OSError, TimeoutError) as exc:
            if permanent_reason(exc):
                log.error("Kafka refused %d messages built within KAFKA_MAX_MESSAGE_BYTES: %r; check the "
                          "topic's max.message.bytes", len(messages), exc)
                raise StreamRefused("the event stream refused these events; nothing was accepted") from exc
            log.warning("publishing %d messages failed: %r", len(messages), exc)
            raise Unavailable("the event stream is unavailable; nothing was accepted, retry later") from exc
        for _, body, count in messages:
            MESSAGES_PUBLISHED.labels(topic=self._topic).inc()
            EVENTS_PUBLISHED.labels(topic=self._topic).inc(count)
            BYTES_PUBLISHED.labels(topic=self._topic).inc(len(body))
