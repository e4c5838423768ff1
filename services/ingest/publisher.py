"""Publishing accepted events to ``usage.recorded.v1``, acked by Kafka before we answer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from aiokafka.errors import KafkaError
from faststream.kafka import KafkaBroker

from libs.common.errors import Unavailable
from libs.common.events import UsageRecorded
from libs.common.kafka import chunks, encode_batch, group_by_client
from libs.common.topics import USAGE_RECORDED, topic

log = logging.getLogger(__name__)


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

    async def publish(self, events: Sequence[UsageRecorded]) -> None:
        """One message per client and chunk, keyed by client_id; raises Unavailable on failure."""
        try:
            await self.start()
            sends = [
                self._broker.publish(encode_batch(chunk), self._topic, key=client_id.encode())
                for client_id, group in group_by_client(events).items()
                for chunk in chunks(group)
            ]
            await asyncio.wait_for(asyncio.gather(*sends), self._timeout)
        except (KafkaError, OSError, TimeoutError) as exc:
            log.warning("publishing %d events failed: %r", len(events), exc)
            raise Unavailable("the event stream is unavailable; nothing was accepted, retry later") from exc
