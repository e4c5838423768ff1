"""Delivering one alert to one channel through apprise, with retries, every step recorded.

Order of operations for a delivery (each a new version of its ``alert_deliveries`` row):

1. ``sending`` is recorded by the evaluation, before any attempt (``service.py``);
2. a round of up to ``attempts_per_round`` attempts, ``retry_base_seconds``, then twice
   that, … apart; each failed attempt is recorded with ``attempts`` and ``last_error``;
3. success: ``delivered``. A round that fails: ``retrying``, with ``next_attempt_at``
   ``retry_base_seconds × 2^(attempts-1)`` away (capped at ``retry_max_seconds``; with the
   defaults 8 s, 64 s, 8.5 min, then hourly: 18 attempts over about 2¼ hours), picked up by
   the sweep (on whichever instance owns the client), until ``max_attempts`` in all; then
   ``failed`` (logged as an error and listed by the API with its last error: never dropped
   silently).

Crash safety: a crash before step 3 leaves ``sending`` or ``retrying``; the sweep retries a
``sending`` row once it is older than ``sending_lease_seconds`` (no attempt writes for that
long means nobody is working on it). A crash between a receiver accepting the message and
``delivered`` being recorded therefore sends it again: we prefer a rare duplicate to a lost
alert. Each delivery runs in a task of its own, so a slow or failing target of one client
never holds up another's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import apprise

from services.alerts.domain import DeliveryRecord, Status
from services.alerts.messages import Message
from services.alerts.store import AlertStore

__all__ = ["AppriseNotifier", "Deliverer", "Notifier", "RetryPolicy", "backoff_seconds"]

log = logging.getLogger(__name__)

MAX_ERROR_LENGTH = 1000


class Notifier(Protocol):
    async def send(self, url: str, message: Message) -> str | None:
        """Deliver; ``None`` on success, else why it failed (without secrets)."""


class AppriseNotifier:
    """Sends through apprise: any URL it understands (Slack, mailto, Teams, Discord, json://…)."""

    def __init__(self, timeout_seconds: float) -> None:
        self._timeout = timeout_seconds

    async def send(self, url: str, message: Message) -> str | None:
        notifier = apprise.Apprise()
        if not notifier.add(url):
            return "apprise does not understand this URL"
        problems: list[str] = []

        def collect(entry: object, _plugin: object) -> None:
            level, text = getattr(entry, "level", ""), str(getattr(entry, "message", ""))
            if level in ("WARNING", "ERROR", "CRITICAL") or "Exception" in text:
                problems.append(text)

        try:
            result = await notifier.async_notify(
                body=message.body,
                title=message.title,
                notify_type=apprise.NotifyType.FAILURE if message.urgent else apprise.NotifyType.WARNING,
                body_format=apprise.NotifyFormat.TEXT,
                timeout=self._timeout,
                log_callback=collect,
                log_level=logging.DEBUG,
            )
        except Exception as exc:  # noqa: BLE001 - a plugin bug is a failed attempt, not a dead task
            return f"{type(exc).__name__}: {exc}"[:MAX_ERROR_LENGTH]
        if result:
            return None
        detail = "; ".join(dict.fromkeys(problems)) or f"apprise reported {getattr(result, 'status', 'failure')}"
        return detail[:MAX_ERROR_LENGTH]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts_per_round: int = 3
    max_attempts: int = 18
    base_seconds: float = 2.0
    max_seconds: float = 3600.0


def backoff_seconds(attempts: int, policy: RetryPolicy) -> float:
    """The wait after the ``attempts``-th failed attempt: base, 2×base, 4×base, … up to the cap."""
    return float(min(policy.max_seconds, policy.base_seconds * 2 ** max(0, attempts - 1)))


class Deliverer:
    """Runs deliveries as background tasks; one task per (alert, channel) at a time."""

    def __init__(
        self, store: AlertStore, notifier: Notifier, policy: RetryPolicy, instance: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._notifier = notifier
        self._policy = policy
        self._instance = instance
        self._clock = clock
        self._tasks: dict[tuple[object, ...], asyncio.Task[None]] = {}

    def busy(self, record: DeliveryRecord) -> bool:
        return record.delivery_key in self._tasks

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    def start(self, record: DeliveryRecord, url: str) -> bool:
        """Deliver in the background; False if this delivery is already running here."""
        key = record.delivery_key
        if key in self._tasks:
            return False
        task = asyncio.get_running_loop().create_task(self._run(record, url), name=f"alert {key}")
        self._tasks[key] = task
        task.add_done_callback(lambda _: self._tasks.pop(key, None))
        return True

    async def drain(self, timeout: float) -> None:
        """Let running deliveries finish (shutdown); those still running after ``timeout`` are
        cancelled and left as ``sending``/``retrying`` for the next sweep to resume."""
        tasks = list(self._tasks.values())
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=5)

    async def _run(self, record: DeliveryRecord, url: str) -> None:
        try:
            await self._deliver(record, url)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - e.g. ClickHouse away: the row stays due and the sweep retries
            log.exception("delivery of %s %s to %s for %s %s stopped", record.kind, record.threshold,
                          record.channel, record.client_id, record.period)

    async def _deliver(self, record: DeliveryRecord, url: str) -> None:
        policy = self._policy
        message = Message(record.title, record.message, urgent=record.spend_usd >= record.budget_usd)
        for attempt_in_round in range(1, policy.attempts_per_round + 1):
            error = await self._notifier.send(url, message)
            now = self._clock()
            record = record.evolve(attempts=record.attempts + 1, updated_at=now, instance=self._instance)
            if error is None:
                await self._store.save([record.evolve(status=Status.DELIVERED, delivered_at=now)])
                log.info("delivered %s %s alert for %s %s to %s (attempt %d)", record.kind, record.threshold,
                         record.client_id, record.period, record.channel, record.attempts)
                return
            last_round = attempt_in_round == policy.attempts_per_round or record.attempts >= policy.max_attempts
            if record.attempts >= policy.max_attempts:
                await self._store.save([record.evolve(status=Status.FAILED, last_error=error)])
                log.error("gave up on %s %s alert for %s %s to %s after %d attempts: %s", record.kind,
                          record.threshold, record.client_id, record.period, record.channel, record.attempts, error)
                return
            # Within a round: base, 2×base… apart. Between rounds: one step further per attempt made.
            wait = backoff_seconds(record.attempts if last_round else attempt_in_round, policy)
            status = Status.RETRYING if last_round else Status.SENDING
            record = record.evolve(status=status, last_error=error, next_attempt_at=now + timedelta(seconds=wait))
            await self._store.save([record])
            log.warning("attempt %d of %s %s alert for %s %s to %s failed: %s", record.attempts, record.kind,
                        record.threshold, record.client_id, record.period, record.channel, error)
            if last_round:
                return
            await asyncio.sleep(wait)
