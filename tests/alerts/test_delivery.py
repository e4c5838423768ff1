"""Delivery rounds: retries with backoff, every attempt recorded, giving up visibly."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from services.alerts.delivery import (
    AppriseNotifier,
    Deliverer,
    RetryPolicy,
    backoff_seconds,
)
from services.alerts.domain import DeliveryRecord, Kind, Period, Status
from services.alerts.messages import Message

FAST = RetryPolicy(attempts_per_round=3, max_attempts=5, base_seconds=0.01, max_seconds=0.05)


class FakeNotifier:
    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.sent: list[tuple[str, Message]] = []

    async def send(self, url: str, message: Message) -> str | None:
        self.sent.append((url, message))
        if self.failures != 0:
            self.failures -= 1
            return "error=500"
        return None


class RecordingStore:
    def __init__(self) -> None:
        self.saved: list[DeliveryRecord] = []

    async def save(self, records: Any) -> None:
        self.saved.extend(records)


def record(**changes: Any) -> DeliveryRecord:
    now = datetime.now(UTC)
    base = DeliveryRecord(
        client_id="acme", period=Period(2026, 10), kind=Kind.THRESHOLD, threshold=Decimal("0.8"), channel_id="c1",
        channel="slack://***", status=Status.SENDING, covered_by=None, title="Acme at 80%", message="body",
        spend_usd=Decimal(80), budget_usd=Decimal(100), projected_usd=None, attempts=0, last_error="",
        next_attempt_at=now, created_at=now, updated_at=now, delivered_at=None, instance="test",
    )
    return base.evolve(**changes)


def test_backoff_doubles_up_to_the_cap() -> None:
    policy = RetryPolicy(base_seconds=2, max_seconds=3600)
    assert [backoff_seconds(n, policy) for n in (1, 2, 3, 6, 9, 12, 20)] == [2, 4, 8, 64, 512, 3600, 3600]


async def deliver(notifier: FakeNotifier, start: DeliveryRecord, policy: RetryPolicy = FAST) -> RecordingStore:
    store = RecordingStore()
    deliverer = Deliverer(store, notifier, policy, "test")  # type: ignore[arg-type]
    assert deliverer.start(start, "slack://a/b/c")
    assert not deliverer.start(start, "slack://a/b/c")  # already running here
    await deliverer.drain(5)
    assert deliverer.in_flight == 0
    return store


async def test_first_attempt_succeeds() -> None:
    store = await deliver(FakeNotifier(), record())
    (delivered,) = store.saved
    assert (delivered.status, delivered.attempts, delivered.last_error) == (Status.DELIVERED, 1, "")
    assert delivered.delivered_at is not None


async def test_fails_twice_then_succeeds_within_the_round() -> None:
    notifier = FakeNotifier(failures=2)
    store = await deliver(notifier, record())
    assert [(r.status, r.attempts) for r in store.saved] == [
        (Status.SENDING, 1), (Status.SENDING, 2), (Status.DELIVERED, 3),
    ]
    assert store.saved[-1].last_error == "error=500"
    assert len(notifier.sent) == 3
    assert notifier.sent[0][1] == Message("Acme at 80%", "body", urgent=False)


async def test_a_failed_round_is_left_for_the_sweep_with_its_next_time() -> None:
    store = await deliver(FakeNotifier(failures=-1), record())
    last = store.saved[-1]
    assert (last.status, last.attempts, last.last_error) == (Status.RETRYING, 3, "error=500")
    assert last.next_attempt_at > last.updated_at


async def test_gives_up_after_max_attempts_and_says_so() -> None:
    store = await deliver(FakeNotifier(failures=-1), record(status=Status.SENDING, attempts=3))
    assert [(r.status, r.attempts) for r in store.saved] == [(Status.SENDING, 4), (Status.FAILED, 5)]
    assert store.saved[-1].last_error == "error=500"


async def test_a_slow_delivery_does_not_hold_up_another() -> None:
    class Slow(FakeNotifier):
        async def send(self, url: str, message: Message) -> str | None:
            if "slow" in url:
                await asyncio.sleep(0.5)
            return await super().send(url, message)

    store = RecordingStore()
    deliverer = Deliverer(store, Slow(), FAST, "test")  # type: ignore[arg-type]
    deliverer.start(record(client_id="slow"), "json://slow")
    deliverer.start(record(client_id="fast"), "json://fast")
    await asyncio.sleep(0.1)
    assert [r.client_id for r in store.saved] == ["fast"]
    await deliverer.drain(5)


async def test_drain_cancels_what_outlives_the_grace() -> None:
    class Hang(FakeNotifier):
        async def send(self, url: str, message: Message) -> str | None:
            await asyncio.sleep(60)
            return None

    store = RecordingStore()
    deliverer = Deliverer(store, Hang(), FAST, "test")  # type: ignore[arg-type]
    deliverer.start(record(), "json://x")
    await deliverer.drain(0.05)
    assert deliverer.in_flight == 0 and store.saved == []  # still 'sending' in ClickHouse: the sweep resumes it


async def test_apprise_notifier_reports_why_it_failed() -> None:
    notifier = AppriseNotifier(timeout_seconds=5)
    error = await notifier.send("json://127.0.0.1:9/hook", Message("t", "b", urgent=False))  # port 9: discard
    assert error is not None and error
    assert await notifier.send("not a url at all", Message("t", "b", urgent=False)) == \
        "apprise does not understand this URL"


@pytest.mark.parametrize("attempts_per_round", [1, 2, 3])
async def test_rounds_of_any_size(attempts_per_round: int) -> None:
    policy = RetryPolicy(attempts_per_round=attempts_per_round, max_attempts=10, base_seconds=0.001, max_seconds=0.01)
    store = await deliver(FakeNotifier(failures=-1), record(), policy)
    assert store.saved[-1].status is Status.RETRYING and store.saved[-1].attempts == attempts_per_round
