"""Evaluations, the sweep and resumed deliveries against a real ClickHouse (fake receivers)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from clickhouse_connect.driver.asyncclient import AsyncClient

from libs.common.clickhouse import connect
from libs.common.settings import ClickHouseSettings
from services.alerts.delivery import Deliverer
from services.alerts.domain import Channel, Kind, Period, Status
from services.alerts.messages import Message
from services.alerts.service import AlertService
from services.alerts.settings import AlertsSettings
from services.alerts.store import AlertStore

pytestmark = pytest.mark.integration

NOW = datetime(2026, 10, 20, 12, tzinfo=UTC)
OCT = Period(2026, 10)
SLACK = "slack://T000/B000/XXXX"
MAIL = "mailtos://user:pw@mail.example.com?to=am@agency.test"


class FakeNotifier:
    def __init__(self) -> None:
        self.sent: list[tuple[str, Message]] = []
        self.failing: set[str] = set()

    async def send(self, url: str, message: Message) -> str | None:
        self.sent.append((url, message))
        return "error=503" if url in self.failing else None


class Everything:
    """Ownership of every client (one instance), or of those listed."""

    def __init__(self, only: set[str] | None = None) -> None:
        self.only = only

    def owns(self, client_id: str) -> bool:
        return self.only is None or client_id in self.only


@dataclass
class Rig:
    clickhouse: AsyncClient
    notifier: FakeNotifier
    settings: AlertsSettings

    def service(self, now: datetime = NOW, ownership: Any = None) -> AlertService:
        store = AlertStore(self.clickhouse)
        deliverer = Deliverer(store, self.notifier, self.settings.retry_policy, "test")
        return AlertService(store, deliverer, ownership or Everything(), self.settings, "test", clock=lambda: now)

    async def client(self, client_id: str, budget: str | None, thresholds: tuple[str, ...] = ("0.5", "0.8", "1"),
                     notify: tuple[str, ...] = (SLACK,), version: int = 0) -> None:
        at = datetime(2026, 10, 1, tzinfo=UTC) + timedelta(seconds=version)
        await self.clickhouse.insert(
            "clients",
            [[client_id, client_id.title(), Decimal(25), None if budget is None else Decimal(budget),
              [Decimal(t) for t in thresholds], list(notify), at, at]],
            column_names=["client_id", "name", "markup_percent", "monthly_budget", "alert_thresholds", "notify",
                          "created_at", "updated_at"],
        )

    async def usage(self, client_id: str, dollars: str, model: str = "gpt-4o", month: date = OCT.first_day) -> None:
        """One more (unmerged) part in the monthly totals, as the aggregator's view writes them."""
        await self.clickhouse.insert(
            "usage_totals_monthly", [[client_id, month, "openai", model, Decimal(dollars)]],
            column_names=["client_id", "month", "provider", "model", "cost_usd"],
        )

    async def rows(self, client_id: str) -> list[tuple[str, str, str, str]]:
        records = await AlertStore(self.clickhouse).client_alerts(client_id, None, 100)
        return sorted((str(r.period), f"{r.kind}:{r.threshold}", r.channel, r.status.value) for r in records)


@pytest.fixture
async def rig(clickhouse_schema: ClickHouseSettings) -> AsyncIterator[Rig]:
    clickhouse = await connect(clickhouse_schema)
    settings = AlertsSettings(retry_base_seconds=0.01, retry_max_seconds=0.05, max_attempts=4,
                              sending_lease_seconds=40, send_timeout_seconds=5)
    try:
        yield Rig(clickhouse, FakeNotifier(), settings)
    finally:
        await clickhouse.close()


async def settle(service: AlertService) -> None:
    await service.deliverer.drain(5)


async def test_a_crossing_is_recorded_then_sent_to_every_channel_once(rig: Rig) -> None:
    await rig.client("acme", "100", notify=(SLACK, MAIL))
    await rig.usage("acme", "60")
    await rig.usage("acme", "25", model="claude")
    service = rig.service()

    decision = await service.evaluate("acme", OCT)
    await settle(service)

    assert decision.send is not None and decision.send.threshold == Decimal("0.8")
    assert sorted(url for url, _ in rig.notifier.sent) == sorted([SLACK, MAIL])
    body = rig.notifier.sent[0][1].body
    assert body.startswith("Acme is at 85% of its $100.00 AI budget for October 2026 ($85.00), past the 50% and "
                           "80% alerts; on track for $135.13 by month end (over budget).")
    assert body.endswith("Top models: openai gpt-4o $60.00, openai claude $25.00. Amounts at cost, before markup.")
    slack, mail = Channel(SLACK).label, Channel(MAIL).label
    assert await rig.rows("acme") == sorted([
        ("2026-10", "threshold:0.8", slack, "delivered"), ("2026-10", "threshold:0.8", mail, "delivered"),
        ("2026-10", "threshold:0.5", slack, "covered"), ("2026-10", "threshold:0.5", mail, "covered"),
        ("2026-10", "forecast:1", slack, "covered"), ("2026-10", "forecast:1", mail, "covered"),
    ])

    assert (await service.evaluate("acme", OCT)).is_empty
    assert (await rig.service().evaluate("acme", OCT)).is_empty  # a restarted service reads the records
    await rig.service().sweep()
    assert len(rig.notifier.sent) == 2


async def test_concurrent_triggers_for_one_client_send_once(rig: Rig) -> None:
    await rig.client("acme", "100")
    await rig.usage("acme", "55")
    service = rig.service()
    await asyncio.gather(*(service.evaluate("acme", OCT) for _ in range(5)), service.sweep())
    await settle(service)
    assert len(rig.notifier.sent) == 1


async def test_clients_without_budget_or_target_or_record_are_left_alone(rig: Rig) -> None:
    await rig.client("nobudget", None)
    await rig.client("zero", "0")
    await rig.client("nowhere", "10", notify=())
    for client in ("nobudget", "zero", "nowhere", "unknown"):
        await rig.usage(client, "1000")
    service = rig.service()
    for client in ("nobudget", "zero", "nowhere", "unknown"):
        assert (await service.evaluate(client, OCT)).is_empty
    await service.sweep()
    assert rig.notifier.sent == []


async def test_spend_updates_for_closed_months_are_ignored_and_last_month_gets_a_grace_day(rig: Rig) -> None:
    await rig.client("acme", "100", thresholds=("1",))
    await rig.usage("acme", "120", month=date(2026, 9, 1))
    await rig.usage("acme", "120", month=date(2026, 8, 1))

    await rig.service().on_spend_updated([("acme", "2026-08"), ("acme", "2026-09"), ("acme", "garbage")])
    assert rig.notifier.sent == []  # Oct 20: September is closed

    service = rig.service(now=datetime(2026, 10, 1, 6, tzinfo=UTC))
    await service.on_spend_updated([("acme", "2026-08"), ("acme", "2026-09")])
    await settle(service)
    (sent,) = rig.notifier.sent
    assert sent[1].body == "Acme ended at 120% of its $100.00 AI budget for September 2026 ($120.00), past the " \
        "100% alert. Top models: openai gpt-4o $120.00. Amounts at cost, before markup."


async def test_the_sweep_catches_a_budget_change_and_only_for_owned_clients(rig: Rig) -> None:
    await rig.client("acme", "100")
    await rig.client("globex", "100")
    await rig.usage("acme", "60")
    await rig.usage("globex", "60")
    service = rig.service(ownership=Everything({"acme"}))
    await service.sweep()
    await settle(service)
    assert [m.body.split(" is at")[0] for _, m in rig.notifier.sent] == ["Acme"]

    await rig.client("acme", "70", version=1)  # 60 of 70: the 80% threshold now; 50% already sent
    await service.sweep()
    await settle(service)
    assert len(rig.notifier.sent) == 2
    assert "at 85% of its $70.00 AI budget" in rig.notifier.sent[1][1].body
    assert "past the 80% alert" in rig.notifier.sent[1][1].body

    await rig.client("acme", "200", version=2)
    await rig.usage("acme", "50")  # 110 of 200
    await service.sweep()
    await settle(service)
    assert len(rig.notifier.sent) == 2


async def test_a_failed_round_is_resumed_by_the_sweep_until_it_gives_up(rig: Rig) -> None:
    await rig.client("acme", "10", thresholds=("1",))
    await rig.usage("acme", "11")
    rig.notifier.failing.add(SLACK)
    service = rig.service()
    await service.evaluate("acme", OCT)
    await settle(service)
    (record,) = await service.store.client_alerts("acme", None, 10)
    assert (record.status, record.attempts, record.last_error) == (Status.RETRYING, 3, "error=503")

    await asyncio.sleep(0.06)  # past next_attempt_at
    await service.sweep()
    await settle(service)
    (record,) = await service.store.client_alerts("acme", None, 10)
    assert (record.status, record.attempts) == (Status.FAILED, 4)  # max_attempts
    await service.sweep()
    await settle(service)
    assert len(rig.notifier.sent) == 4


async def test_a_retry_after_recovery_delivers_and_a_removed_target_is_cancelled(rig: Rig) -> None:
    await rig.client("acme", "10", thresholds=("1",), notify=(SLACK, MAIL))
    await rig.usage("acme", "11")
    rig.notifier.failing.update({SLACK, MAIL})
    service = rig.service()
    await service.evaluate("acme", OCT)
    await settle(service)

    rig.notifier.failing.clear()
    await rig.client("acme", "10", thresholds=("1",), notify=(SLACK,), version=1)  # mail target removed
    await asyncio.sleep(0.06)
    await service.sweep()
    await settle(service)
    statuses = {r.channel: (r.status, r.attempts) for r in await service.store.client_alerts("acme", None, 10)}
    assert statuses == {Channel(SLACK).label: (Status.DELIVERED, 4), Channel(MAIL).label: (Status.CANCELLED, 3)}


async def test_a_send_interrupted_by_a_crash_is_resumed_after_the_lease(rig: Rig) -> None:
    await rig.client("acme", "10", thresholds=("1",))
    await rig.usage("acme", "11")
    service = rig.service()
    service.deliverer.start = lambda record, url: True  # type: ignore[method-assign]  # "crash" before sending
    await service.evaluate("acme", OCT)
    (record,) = await service.store.client_alerts("acme", None, 10)
    assert record.status is Status.SENDING

    fresh = rig.service()
    await fresh.sweep()  # within the lease: someone may still be sending it
    await settle(fresh)
    assert rig.notifier.sent == []

    stale = record.evolve(updated_at=datetime.now(UTC) - timedelta(seconds=41))
    await fresh.store.save([stale])
    await fresh.sweep()
    await settle(fresh)
    assert len(rig.notifier.sent) == 1
    (record,) = await fresh.store.client_alerts("acme", None, 10)
    assert (record.status, record.kind) == (Status.DELIVERED, Kind.THRESHOLD)


async def test_a_failing_clickhouse_is_logged_not_raised(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    service = rig.service()

    async def broken(*_: object) -> None:
        raise RuntimeError("ClickHouse is away")

    service.store.client = broken  # type: ignore[method-assign]
    await service.on_spend_updated([("acme", "2026-10"), ("globex", "2026-10")])
    assert sum("the sweep will retry" in r.message for r in caplog.records) == 2
