"""Automatic issuing: each month, once it has ended and its grace period has passed.

Every ``auto_issue_every_seconds`` an instance looks at the months that ended within the
longest grace period allowed (90 days) plus one, and issues each client's month once
``now >= month end + grace`` (the client's own ``grace_hours``, else the agency's
``INVOICING_GRACE_HOURS``), unless the client has ``auto_issue: false``. The clients of a
month are those the draft listing shows: usage in the month, or a record created before
it ended. Issuing is idempotent and numbered in PostgreSQL, so every instance may run
this loop: two that pick the same client get the same invoice, never two.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from libs.common.errors import TokenTallyError
from libs.common.periods import Period
from services.invoicing.issuing import InvoiceDesk
from services.invoicing.ledger import StoredDocument

__all__ = ["AutoIssuer"]

log = logging.getLogger(__name__)

_LOOKBACK_MONTHS = 4  # the longest grace (90 days) ends within the fourth month after
_IN_FLIGHT = 4  # issues at once: enough to overlap ClickHouse and PostgreSQL round trips, light on both


class AutoIssuer:
    def __init__(self, desk: Callable[[], InvoiceDesk], every_seconds: float) -> None:
        self._desk = desk
        self._every = every_seconds
        self._task: asyncio.Task[None] | None = None

    async def due(self, desk: InvoiceDesk, now: datetime) -> list[tuple[str, Period]]:
        """The (client, month) pairs to issue now."""
        options = await desk.ledger.all_client_options()
        default_grace = timedelta(hours=desk.settings.grace_hours)
        due: list[tuple[str, Period]] = []
        month = Period.of(now).previous()
        for _ in range(_LOOKBACK_MONTHS):
            if now < month.end + default_grace and not any(
                    o.grace_hours is not None and now >= month.end + timedelta(hours=o.grace_hours)
                    for o in options.values()):
                month = month.previous()
                continue
            usage, clients, issued = await asyncio.gather(
                desk.usage.period_usage(month), desk.usage.list_clients(), desk.ledger.issued_periods(str(month)))
            candidates = set(usage) | {c.client_id for c in clients if c.created_at < month.end}
            for client_id in sorted(candidates - issued):
                option = options.get(client_id)
                if option is not None and not option.auto_issue:
                    continue
                grace = timedelta(hours=option.grace_hours) if option and option.grace_hours is not None \
                    else default_grace
                if now >= month.end + grace:
                    due.append((client_id, month))
            month = month.previous()
        return due

    async def run_once(self) -> list[StoredDocument]:
        """Issue everything due now, a few at a time; a failure is logged and retried next round."""
        desk = self._desk()
        gate = asyncio.Semaphore(_IN_FLIGHT)

        async def one(client_id: str, month: Period) -> StoredDocument | None:
            async with gate:
                try:
                    return await desk.issue(client_id, month)
                except TokenTallyError as exc:
                    log.warning("auto-issue of %s %s failed, retried next round: %s", client_id, month, exc.message)
                    return None

        due = await self.due(desk, desk.clock())
        # Numbers follow completion order under concurrency; the order of ``due`` is kept in the result.
        issued = [d for d in await asyncio.gather(*(one(c, m) for c, m in due)) if d is not None]
        if issued:
            log.info("auto-issued %d invoices", len(issued))
        return issued

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:  # noqa: BLE001 - a bad round must not end the loop
                log.exception("auto-issue round failed")
            await asyncio.sleep(self._every)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="auto-issue")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
