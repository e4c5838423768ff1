"""The caught-up rule: before an invoice is frozen, every event received before its cutoff is counted.

An event's path is ingest → ``usage.recorded`` → pricing → ``usage.priced`` → aggregator
→ ClickHouse. Pricing commits a batch's offsets only after its priced events are acked
by Kafka, and the aggregator only after they are in ClickHouse (at-least-once; ClickHouse
deduplicates). So the rule is checked in two steps, each on committed offsets:

1. **pricing**: on every partition of ``usage.recorded``, the pricing group's committed
   offset has reached the first message stamped at or after the cutoff
   (``offsets_for_times``; the end of the partition when there is none). Every event
   received before the cutoff is then priced and in ``usage.priced``.
2. **aggregator**: the end offsets of ``usage.priced`` are read *after* step 1, and the
   aggregator's group must commit up to them. Every priced event from step 1 lies below
   those offsets, so it is then in ClickHouse.

Only then is ClickHouse read for the invoice. A topic that does not exist yet holds no
events. If the pipeline does not catch up within the timeout, issuing fails with 503
(nothing is frozen, no number is taken) and is retried later.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Protocol

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from libs.common.errors import Unavailable
from libs.common.settings import KafkaSettings
from libs.common.topics import USAGE_PRICED, USAGE_RECORDED, topic
from services.invoicing.settings import PipelineGroups

__all__ = ["KafkaPipeline", "Pipeline"]


class Pipeline(Protocol):
    async def wait_caught_up(self, cutoff: datetime, timeout: float) -> None:
        """Return once every event received before ``cutoff`` is in ClickHouse; ``Unavailable`` if not in time."""


class KafkaPipeline:
    """The caught-up rule read from Kafka's committed offsets (see the module docstring)."""

    def __init__(self, kafka: KafkaSettings, groups: PipelineGroups, poll_seconds: float = 0.2) -> None:
        self._kafka = kafka
        self._groups = groups
        self._poll = poll_seconds
        self._lock = asyncio.Lock()
        self._caught_up_to = datetime.min.replace(tzinfo=UTC)

    async def wait_caught_up(self, cutoff: datetime, timeout: float) -> None:
        """One check at a time, each to the wall-clock time it starts at: issues waiting meanwhile
        (1,000 clients issued at once) are all covered by the next check instead of one each."""
        if cutoff <= self._caught_up_to:
            return
        async with self._lock:
            if cutoff <= self._caught_up_to:
                return
            checked = max(cutoff, datetime.now(UTC))
            await self._check(checked, timeout)
            self._caught_up_to = checked

    async def _check(self, cutoff: datetime, timeout: float) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self._kafka.bootstrap_servers)
        offsets = AIOKafkaConsumer(bootstrap_servers=self._kafka.bootstrap_servers, group_id=None,
                                   enable_auto_commit=False)
        deadline = time.monotonic() + timeout
        try:
            try:
                await admin.start()
                await offsets.start()
            except Exception as exc:  # noqa: BLE001 - any failure to reach Kafka is "try again later"
                raise Unavailable(f"cannot read the pipeline's progress from Kafka ({type(exc).__name__})") from exc
            prefix = self._kafka.topic_prefix
            recorded = await self._partitions(admin, topic(USAGE_RECORDED, prefix))
            if recorded:
                by_time = await offsets.offsets_for_times({tp: int(cutoff.timestamp() * 1000) for tp in recorded})
                ends = await offsets.end_offsets(recorded)
                targets = {tp: (found.offset if found is not None else ends[tp]) for tp, found in by_time.items()}
                await self._wait_group(admin, self._groups.pricing_group, targets, deadline)
            priced = await self._partitions(admin, topic(USAGE_PRICED, prefix))
            if priced:
                await self._wait_group(admin, f"{self._groups.aggregator_group}.priced",
                                       await offsets.end_offsets(priced), deadline)
        finally:
            with contextlib.suppress(Exception):
                await offsets.stop()
            with contextlib.suppress(Exception):
                await admin.close()

    @staticmethod
    async def _partitions(admin: AIOKafkaAdminClient, name: str) -> list[TopicPartition]:
        described = await admin.describe_topics([name])
        return [TopicPartition(name, p["partition"]) for t in described if not t.get("error_code")
                for p in t["partitions"]]

    async def _wait_group(
        self, admin: AIOKafkaAdminClient, group: str, targets: Mapping[TopicPartition, int], deadline: float
    ) -> None:
        needed = {tp: offset for tp, offset in targets.items() if offset > 0}
        while needed:
            committed = await admin.list_consumer_group_offsets(group, partitions=list(needed))
            behind = {tp: offset for tp, offset in needed.items()
                      if tp not in committed or committed[tp].offset < offset}
            if not behind:
                return
            if time.monotonic() > deadline:
                lag = sum(offset - max(committed[tp].offset if tp in committed else 0, 0)
                          for tp, offset in behind.items())
                raise Unavailable(f"the pipeline has not caught up to the cutoff: consumer group {group} is"
                                  f" {lag} messages behind; retry once it has", retry_after_seconds=30)
            await asyncio.sleep(self._poll)

