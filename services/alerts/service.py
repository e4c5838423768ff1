"""Evaluating clients and starting deliveries; the decisions themselves are in ``decisions.py``.

An evaluation of one (client, period), always under that client's lock in this process:

1. read the client's settings (``clients`` FINAL), its month-to-date spend per model and the
   alert records of the period;
2. decide (pure): at most one message, and alerts to record as covered;
3. record the decision (one ``sending`` row per channel for the message, ``covered`` rows),
   *then* start a delivery task per channel. The records are what makes an alert fire once:
   a restart, a redelivered Kafka batch or the sweep re-reading them finds it fired.

Which periods: the month of "now" and, for ``late_grace_hours`` into a month, the previous
one (late usage for a month that just ended still alerts for it, without a forecast).
Updates for other months are ignored: an old month's budget alert is history, not news.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from libs.common.money import round_cents
from services.alerts.decisions import Decision, decide, project_month_end
from services.alerts.delivery import Deliverer
from services.alerts.domain import (
    AlertKey,
    BudgetSettings,
    DeliveryRecord,
    Period,
    SpendSnapshot,
    Status,
)
from services.alerts.messages import render
from services.alerts.ownership import Ownership
from services.alerts.settings import AlertsSettings
from services.alerts.store import AlertStore

__all__ = ["AlertService"]

log = logging.getLogger(__name__)

#: Evaluations the sweep runs at once (each is a few small queries).
SWEEP_CONCURRENCY = 16


class AlertService:
    def __init__(
        self,
        store: AlertStore,
        deliverer: Deliverer,
        ownership: Ownership,
        settings: AlertsSettings,
        instance: str,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.store = store
        self.deliverer = deliverer
        self.ownership = ownership
        self.settings = settings
        self.instance = instance
        self.clock = clock or (lambda: datetime.now(UTC))
        self._locks: dict[str, asyncio.Lock] = {}
        self._running = 0
        self._idle = asyncio.Event()
        self._idle.set()

    # -- periods -----------------------------------------------------------------------------

    def open_periods(self, now: datetime) -> list[Period]:
        """The periods that still alert: this month, and last month during the grace window."""
        current = Period.of(now)
        periods = [current]
        if now - current.start < timedelta(hours=self.settings.late_grace_hours):
            periods.append(current.previous())
        return periods

    def projection(self, spent: Decimal, period: Period, now: datetime) -> Decimal | None:
        return project_month_end(spent, period, now, min_days=self.settings.forecast_min_days)

    # -- evaluation ----------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _evaluating(self, client_id: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(client_id, asyncio.Lock())
        self._running += 1
        self._idle.clear()
        try:
            async with lock:
                yield
        finally:
            self._running -= 1
            if self._running == 0:
                self._idle.set()

    async def quiesce(self, timeout: float = 30.0) -> None:
        """Wait until no evaluation is running (partitions are being handed over)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout)

    async def on_spend_updated(self, updates: Iterable[tuple[str, str]]) -> list[tuple[str, str, BaseException]]:
        """Evaluate each (client, period) once, concurrently across clients; return the failures.

        A failed evaluation (ClickHouse away) is logged and left to the sweep, which looks at
        every watched client again within ``sweep_seconds``; redelivering the Kafka batch
        would only hammer ClickHouse while it is down. The handler dead-letters the failures
        that retrying cannot fix (``libs.common.failures``), so the sweep does not retry
        them forever unseen.
        """
        open_now = set(self.open_periods(self.clock()))
        wanted: set[tuple[str, Period]] = set()
        for client_id, text in updates:
            try:
                period = Period.parse(text)
            except ValueError:
                continue
            if period in open_now:
                wanted.add((client_id, period))
        ordered = sorted(wanted, key=str)
        results = await asyncio.gather(*(self.evaluate(c, p, "spend update") for c, p in ordered),
                                       return_exceptions=True)
        failures: list[tuple[str, str, BaseException]] = []
        for (client_id, period), result in zip(ordered, results, strict=True):
            if isinstance(result, BaseException):
                log.error("evaluating %s %s failed (the sweep will retry): %r", client_id, period, result)
                failures.append((client_id, str(period), result))
        return failures

    async def evaluate(self, client_id: str, period: Period, trigger: str = "") -> Decision:
        """Decide and record what is due for one client and period, and start its deliveries."""
        async with self._evaluating(client_id):
            client = await self.store.client(client_id)
            if client is None or not client.watched or client.monthly_budget is None:
                return Decision(send=None, passed=(), covered=(), covered_by=None)
            budget = client.monthly_budget
            cost, records = await asyncio.gather(
                self.store.spend(client_id, period), self.store.records(client_id, period)
            )
            spend = client.spend_in_budget_terms(cost)  # billed or at cost, as the budget counts
            now = self.clock()
            projected = self.projection(spend.total_usd, period, now)
            decision = decide(
                budget=budget, thresholds=client.thresholds, spent=spend.total_usd,
                projected=projected, fired={r.key for r in records},
            )
            if decision.is_empty:
                return decision
            rows = self._records_for(client, budget, period, decision, spend, projected, month_over=now >= period.end)
            await self.store.save(rows)
            urls = {channel.channel_id: channel.url for channel in client.channels}
            for row in rows:
                if row.status is Status.SENDING:
                    self.deliverer.start(row, urls[row.channel_id])
            log.info("%s %s: %s (spend %s of %s; trigger: %s)", client_id, period, _describe(decision),
                     spend.total_usd, client.monthly_budget, trigger or "direct")
            return decision

    def _records_for(
        self, client: BudgetSettings, budget: Decimal, period: Period, decision: Decision, spend: SpendSnapshot,
        projected: Decimal | None, *, month_over: bool,
    ) -> list[DeliveryRecord]:
        real_now = datetime.now(UTC)
        title = body = ""
        if decision.send is not None:
            message = render(
                client_name=client.name, period=period, decision=decision, budget=budget,
                spent=spend.total_usd, projected=projected, month_over=month_over, top_models=spend.by_model,
                top_limit=self.settings.top_models, basis=client.budget_basis, markup_percent=client.markup_percent,
            )
            title, body = message.title, message.body

        def row(key: AlertKey, channel_id: str, channel: str, status: Status) -> DeliveryRecord:
            return DeliveryRecord(
                client_id=client.client_id, period=period, kind=key.kind, threshold=key.threshold,
                channel_id=channel_id, channel=channel, status=status,
                covered_by=decision.covered_by if status is Status.COVERED else None,
                title=title if status is Status.SENDING else "",
                message=body if status is Status.SENDING else "",
                spend_usd=spend.total_usd, budget_usd=budget, projected_usd=_cents(projected),
                attempts=0, last_error="", next_attempt_at=real_now, created_at=real_now, updated_at=real_now,
                delivered_at=None, instance=self.instance,
            )

        rows: list[DeliveryRecord] = []
        for channel in client.channels:
            if decision.send is not None:
                rows.append(row(decision.send, channel.channel_id, channel.label, Status.SENDING))
            rows.extend(row(key, channel.channel_id, channel.label, Status.COVERED) for key in decision.covered)
        return rows

    # -- the sweep ---------------------------------------------------------------------------------

    async def sweep(self) -> None:
        """Re-evaluate every watched client this instance owns; then resume due deliveries.

        A first look uses two bulk queries per period (totals and fired alerts for every
        client); only clients with something due get a full evaluation under their lock.
        """
        now = self.clock()
        clients = [c for c in await self.store.budgeted_clients() if c.watched and self.ownership.owns(c.client_id)]
        due: list[tuple[str, Period]] = []
        for period in self.open_periods(now):
            if not clients:
                break
            totals, fired = await asyncio.gather(self.store.period_totals(period), self.store.fired(period))
            for client in clients:
                spent = client.in_budget_terms(totals.get(client.client_id, Decimal(0)))
                decision = decide(
                    budget=client.monthly_budget, thresholds=client.thresholds, spent=spent,
                    projected=self.projection(spent, period, now), fired=fired.get(client.client_id, set()),
                )
                if not decision.is_empty:
                    due.append((client.client_id, period))
        if due:
            limit = asyncio.Semaphore(SWEEP_CONCURRENCY)

            async def bounded(client_id: str, period: Period) -> None:
                async with limit:
                    try:
                        await self.evaluate(client_id, period, "sweep")
                    except Exception:  # noqa: BLE001 - one client's trouble must not stop the sweep
                        log.exception("sweep: evaluating %s %s failed", client_id, period)

            await asyncio.gather(*(bounded(c, p) for c, p in due))
        await self.resume_due_deliveries({c.client_id: c for c in clients})

    async def resume_due_deliveries(self, owned_clients: dict[str, BudgetSettings]) -> None:
        """Start the next round of every delivery that is due and whose client this instance owns."""
        for record in await self.store.due(datetime.now(UTC), timedelta(seconds=self.settings.sending_lease_seconds)):
            if not self.ownership.owns(record.client_id) or self.deliverer.busy(record):
                continue
            client = owned_clients.get(record.client_id) or await self.store.client(record.client_id)
            channel = client.channel(record.channel_id) if client is not None else None
            if channel is None:
                await self.store.save([record.evolve(
                    status=Status.CANCELLED, updated_at=datetime.now(UTC), instance=self.instance,
                    last_error=(record.last_error + "; " if record.last_error else "")
                    + "target removed from the client's notify list",
                )])
                continue
            claimed = record.evolve(status=Status.SENDING, updated_at=datetime.now(UTC), instance=self.instance)
            await self.store.save([claimed])
            self.deliverer.start(claimed, channel.url)

    async def sweep_forever(self, wake: asyncio.Event) -> None:
        """Sweep every ``sweep_seconds``, or at once when ``wake`` is set (partitions assigned)."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), self.settings.sweep_seconds)
            wake.clear()
            try:
                await self.sweep()
            except Exception:  # noqa: BLE001 - keep sweeping; the next round retries
                log.exception("sweep failed; retrying in %ss", self.settings.sweep_seconds)


def _cents(amount: Decimal | None) -> Decimal | None:
    return None if amount is None else round_cents(amount)


def _describe(decision: Decision) -> str:
    parts = []
    if decision.send is not None:
        parts.append(f"sending {decision.send.kind} {decision.send.threshold}")
    if decision.covered:
        parts.append("covered " + ", ".join(f"{k.kind} {k.threshold}" for k in decision.covered))
    return "; ".join(parts)

