"""Publishing priced and unpriced events, one message per client and chunk."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from faststream.kafka import KafkaBroker
from pydantic import BaseModel

from libs.common.kafka import chunks, encode_batch, group_by_client
from libs.common.topics import topic


async def publish_by_client(broker: KafkaBroker, name: str, prefix: str, events: Sequence[BaseModel]) -> None:
    """Publish events under their client's key and wait for the broker's acks."""
    sends = [
        broker.publish(encode_batch(chunk), topic(name, prefix), key=client_id.encode())
        for client_id, group in group_by_client(events).items()
        for chunk in chunks(group)
    ]
    await asyncio.gather(*sends)
