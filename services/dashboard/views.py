"""Page models built from the services' answers: pure functions, Decimal end to end.

Nothing here does I/O, so every figure a page shows is unit-testable from plain dicts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from libs.common.periods import Period
from services.alerts.decisions import project_month_end
from services.dashboard.formatting import to_decimal

__all__ = [
    "BudgetStatus",
    "OverviewRow",
    "Overview",
    "budget_status",
    "build_overview",
    "SORT_KEYS",
]

_ZERO = Decimal(0)
FORECAST_MIN_DAYS = 3.0  # as the alerts service's default (ALERTS_FORECAST_MIN_DAYS)
BudgetBasis = Literal["billed", "cost"]


def basis_of(client: Mapping[str, Any] | None) -> BudgetBasis:
    """A client's budget basis; records from before ``budget_basis`` existed meant cost."""
    value = (client or {}).get("budget_basis")
    return "billed" if value == "billed" else "cost"


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    """Spend against a monthly budget, in the budget's own basis (billed or cost)."""

    budget: Decimal
    basis: BudgetBasis
    spent: Decimal
    projected: Decimal | None

    @property
    def used(self) -> Decimal:
        return self.spent / self.budget if self.budget > 0 else _ZERO

    @property
    def projected_share(self) -> Decimal | None:
        if self.projected is None or self.budget <= 0:
            return None
        return self.projected / self.budget

    @property
    def bar_percent(self) -> Decimal:
        """Width of the filled bar, 0–100."""
        return min(self.used * 100, Decimal(100)).quantize(Decimal("0.1"))

    @property
    def forecast_percent(self) -> Decimal | None:
        """Where the month-end forecast marker sits on the bar, 0–100."""
        share = self.projected_share
        return None if share is None else min(share * 100, Decimal(100)).quantize(Decimal("0.1"))

    @property
    def level(self) -> str:
        """``ok``, ``warn`` (over 80% or forecast over budget) or ``over`` (at or past the budget)."""
        if self.spent >= self.budget:
            return "over"
        if self.used >= Decimal("0.8") or (self.projected is not None and self.projected > self.budget):
            return "warn"
        return "ok"


def budget_status(
    client: Mapping[str, Any] | None, cost: Decimal, billed: Decimal, period: Period, now: datetime
) -> BudgetStatus | None:
    """The budget bar of a client for a period, or None without a budget."""
    budget = to_decimal((client or {}).get("monthly_budget"))
    if budget is None or budget <= 0:
        return None
    basis = basis_of(client)
    spent = billed if basis == "billed" else cost
    if period.start > now:
        projected = None
    else:
        projected = project_month_end(spent, period, now, min_days=FORECAST_MIN_DAYS)
    return BudgetStatus(budget=budget, basis=basis, spent=spent, projected=projected)


@dataclass(frozen=True, slots=True)
class OverviewRow:
    client_id: str
    name: str
    cost: Decimal
    billed: Decimal
    margin: Decimal
    markup_percent: Decimal
    events: int
    budget: BudgetStatus | None
    alerts_sent: int | None
    last_invoice_status: str

    @property
    def margin_share(self) -> Decimal | None:
        return self.margin / self.billed if self.billed > 0 else None


@dataclass(frozen=True, slots=True)
class Overview:
    period: Period
    rows: list[OverviewRow]
    sort: str
    descending: bool
    total_cost: Decimal = _ZERO
    total_billed: Decimal = _ZERO
    total_margin: Decimal = _ZERO
    total_alerts: int = 0
    notes: list[str] = field(default_factory=list)


SORT_KEYS: dict[str, Any] = {
    "name": lambda r: (r.name.lower(), r.client_id),
    "cost": lambda r: (r.cost, r.client_id),
    "billed": lambda r: (r.billed, r.client_id),
    "margin": lambda r: (r.margin, r.client_id),
    "budget": lambda r: (r.budget.used if r.budget else Decimal(-1), r.client_id),
    "alerts": lambda r: (r.alerts_sent if r.alerts_sent is not None else -1, r.client_id),
}


def invoice_status(summary: Mapping[str, Any] | None, period: Period, now: datetime) -> str:
    """Last month's invoice as the invoicing API describes it: its lifecycle ``status``
    (draft / issued / paid) when the API gives one, else ``open`` or ``not issued``."""
    if summary is None:
        return "none"
    status = summary.get("status")
    if isinstance(status, str) and status and status not in ("open", "closed"):
        return status
    return "open" if not period.is_closed(now) else "draft"


def build_overview(
    *,
    period: Period,
    now: datetime,
    summaries: Iterable[Mapping[str, Any]],
    clients: Iterable[Mapping[str, Any]],
    alert_counts: Mapping[str, int] | None,
    last_month: Iterable[Mapping[str, Any]],
    sort: str = "billed",
    descending: bool = True,
) -> Overview:
    records = {c["client_id"]: c for c in clients}
    previous = {s["client_id"]: s for s in last_month}
    rows = []
    for summary in summaries:
        client_id = summary["client_id"]
        cost = to_decimal(summary.get("base_cost"), _ZERO) or _ZERO
        billed = to_decimal(summary.get("total"), _ZERO) or _ZERO
        record = records.get(client_id)
        rows.append(OverviewRow(
            client_id=client_id,
            name=summary.get("name") or client_id,
            cost=cost,
            billed=billed,
            margin=to_decimal(summary.get("markup"), _ZERO) or _ZERO,
            markup_percent=to_decimal(summary.get("markup_percent"), _ZERO) or _ZERO,
            events=int(summary.get("events", 0)),
            budget=budget_status(record, cost, billed, period, now),
            alerts_sent=None if alert_counts is None else alert_counts.get(client_id, 0),
            last_invoice_status=invoice_status(previous.get(client_id), period.previous(), now),
        ))
    sort = sort if sort in SORT_KEYS else "billed"
    rows.sort(key=SORT_KEYS[sort], reverse=descending)
    notes = [] if alert_counts is not None else ["The alerts service did not answer: alert counts are not shown."]
    return Overview(
        period=period, rows=rows, sort=sort, descending=descending,
        total_cost=sum((r.cost for r in rows), _ZERO),
        total_billed=sum((r.billed for r in rows), _ZERO),
        total_margin=sum((r.margin for r in rows), _ZERO),
        total_alerts=sum(r.alerts_sent or 0 for r in rows),
        notes=notes,
    )
