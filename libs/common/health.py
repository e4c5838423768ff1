"""Is a consumer keeping up? ``GET /health`` of pricing, the aggregator and alerts.

A background task reads, every ``poll_seconds``, each consumer group's committed offsets
and its topics' end offsets (with an admin client and a group-less consumer of its own,
so a stuck handler cannot stop it from looking), and the dead-letter topic's size. It
sets the lag gauges and answers:

- ``degraded`` when a group has lag and has not committed progress for more than
  ``stall_seconds`` ("stuck"), when a batch is being retried after a transient failure,
  when the dead-letter topic grew within ``dead_letter_window_seconds``, or when Kafka
  cannot be read; each with a reason;
- ``ok`` otherwise.

The answer is always HTTP 200 (the process is alive; ``/healthz`` is the liveness probe):
``status`` says whether it is keeping up. Reasons name the error type only, never hosts
or driver messages (those are in the log).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from fastapi import FastAPI

from libs.common.consuming import ACTIVE_BACKOFFS
from libs.common.metrics import CONSUMER_LAG, CONSUMER_STALLED_SECONDS, DEAD_LETTER_MESSAGES
from libs.common.settings import KafkaSettings, ServiceHealthSettings
from libs.common.topics import DEAD_LETTER, topic

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ConsumerGroup:
    group_id: str
    topic: str
    consumer: str
    """The name ``run_batch`` knows the consumer by (for its retry state)."""


@dataclass
class _GroupState:
    committed: dict[int, int] = field(default_factory=dict)
    lag: dict[int, int] = field(default_factory=dict)
    last_progress: float = field(default_factory=time.monotonic)


class HealthMonitor:
    def __init__(self, kafka: KafkaSettings, settings: ServiceHealthSettings, groups: Sequence[ConsumerGroup]) -> None:
        self._kafka = kafka
        self._settings = settings
        self._groups = tuple(groups)
        self._states = {g.group_id: _GroupState() for g in self._groups}
        self._dead_letter_topic = topic(DEAD_LETTER, kafka.topic_prefix)
        self._dead_letters: int | None = None
        self._dead_letter_growth: deque[tuple[float, int]] = deque()
        self._partitions: dict[str, list[int]] = {}
        self._error: str = "not polled yet"
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self._kafka.bootstrap_servers)
        offsets = AIOKafkaConsumer(bootstrap_servers=self._kafka.bootstrap_servers, group_id=None,
                                   enable_auto_commit=False)
        started = False
        try:
            while True:
                try:
                    if not started:
                        await admin.start()
                        await offsets.start()
                        started = True
                    await self.poll(admin, offsets)
                    self._error = ""
                except Exception as exc:  # noqa: BLE001 - reported in /health, retried next round
                    self._error = f"cannot read consumer offsets from Kafka ({type(exc).__name__})"
                    log.warning("health poll failed: %r", exc)
                await asyncio.sleep(self._settings.poll_seconds)
        finally:
            with contextlib.suppress(Exception):
                await offsets.stop()
                await admin.close()

    async def poll(self, admin: AIOKafkaAdminClient, offsets: AIOKafkaConsumer) -> None:
        described = await admin.describe_topics([*{g.topic for g in self._groups}, self._dead_letter_topic])
        self._partitions = {t["topic"]: sorted(p["partition"] for p in t["partitions"]) for t in described}
        now = time.monotonic()
        for group in self._groups:
            partitions = [TopicPartition(group.topic, p) for p in self._partitions.get(group.topic, ())]
            if not partitions:
                continue
            committed = await admin.list_consumer_group_offsets(group.group_id, partitions=partitions)
            ends = await offsets.end_offsets(partitions)
            starts = await offsets.beginning_offsets(partitions)
            state = self._states[group.group_id]
            current = {tp.partition: (committed[tp].offset if tp in committed and committed[tp].offset >= 0
                                      else starts[tp]) for tp in partitions}
            state.lag = {tp.partition: max(0, ends[tp] - current[tp.partition]) for tp in partitions}
            if current != state.committed or not any(state.lag.values()):
                state.last_progress = now
            state.committed = current
            for partition, lag in state.lag.items():
                CONSUMER_LAG.labels(group=group.group_id, topic=group.topic, partition=str(partition)).set(lag)
            CONSUMER_STALLED_SECONDS.labels(group=group.group_id).set(self._stalled_for(state, now))
        await self._poll_dead_letters(offsets, now)

    async def _poll_dead_letters(self, offsets: AIOKafkaConsumer, now: float) -> None:
        partitions = [TopicPartition(self._dead_letter_topic, p)
                      for p in self._partitions.get(self._dead_letter_topic, ())]
        total = sum((await offsets.end_offsets(partitions)).values()) if partitions else 0
        if self._dead_letters is not None and total > self._dead_letters:
            self._dead_letter_growth.append((now, total - self._dead_letters))
        self._dead_letters = total
        DEAD_LETTER_MESSAGES.set(total)

    def _stalled_for(self, state: _GroupState, now: float) -> float:
        return now - state.last_progress if any(state.lag.values()) else 0.0

    def report(self) -> dict[str, Any]:
        """The ``/health`` body."""
        now = time.monotonic()
        reasons: list[str] = [self._error] if self._error else []
        consumers = []
        for group in self._groups:
            state = self._states[group.group_id]
            stalled = self._stalled_for(state, now)
            lag = sum(state.lag.values())
            backoff = ACTIVE_BACKOFFS.get(group.consumer)
            retrying = backoff.failures if backoff else 0
            if lag and stalled > self._settings.stall_seconds:
                reasons.append(f"{group.group_id} has not advanced for {stalled:.0f}s with {lag} messages waiting")
            if retrying:
                reasons.append(f"{group.consumer} is retrying a batch after {retrying} transient failures "
                               f"({backoff.last_error_type if backoff else ''})")
            consumers.append({"group": group.group_id, "topic": group.topic, "lag": lag,
                              "lag_by_partition": {str(p): n for p, n in sorted(state.lag.items())},
                              "stalled_seconds": round(stalled, 1), "retrying": retrying})
        window = self._settings.dead_letter_window_seconds
        while self._dead_letter_growth and self._dead_letter_growth[0][0] < now - window:
            self._dead_letter_growth.popleft()
        recent = sum(n for _, n in self._dead_letter_growth)
        if recent:
            reasons.append(f"the dead-letter topic grew by {recent} in the last {window:.0f}s "
                           "(see GET /v1/dead-letters on pricing)")
        return {"status": "degraded" if reasons else "ok", "reasons": reasons, "consumers": consumers,
                "dead_letters": {"total": self._dead_letters, "recent": recent}}


def mount_health(app: FastAPI, monitor: HealthMonitor) -> None:
    """``GET /health`` (readiness and progress, see the module docstring) and ``GET /healthz`` (liveness)."""

    @app.get("/health", tags=["health"])
    async def health() -> dict[str, Any]:
        """Whether the consumers keep up: ``ok`` or ``degraded`` with reasons, lag per partition."""
        return monitor.report()

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process serves requests."""
        return {"status": "ok"}
