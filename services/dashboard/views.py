"""Page models built from the services' answers: pure functions, Decimal end to end.

Nothing here does I/O, so every figure a page shows is unit-testable from plain dicts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
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
    if period.start > now or period.is_closed(now):  # nothing to forecast before or after the month
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


def invoice_label(invoice: Mapping[str, Any]) -> str:
    """An invoice's state in words: its lifecycle status (draft / issued / paid) when the
    invoicing API gives one, else whether its month is still open."""
    for key in ("lifecycle_status", "state", "status"):
        value = invoice.get(key)
        if isinstance(value, str) and value in ("draft", "issued", "paid", "void"):
            return value
    return "draft"


LAST_MONTH_STATUSES = ("paid", "issued", "void", "draft", "open", "none")


def build_overview(
    *,
    period: Period,
    now: datetime,
    totals: Iterable[Mapping[str, Any]],
    alert_counts: Mapping[str, int] | None,
    sort: str = "billed",
    descending: bool = True,
) -> Overview:
    """The overview from invoicing's every-client month (``GET /v1/usage/{period}/clients``: each
    client's cost, margin and billed as on its invoice, last month's invoice status and its budget)."""
    rows = []
    for row in totals:
        client_id = row["client_id"]
        cost = to_decimal(row.get("cost"), _ZERO) or _ZERO
        billed = to_decimal(row.get("billed"), _ZERO) or _ZERO
        last = row.get("last_month_invoice_status")
        rows.append(OverviewRow(
            client_id=client_id,
            name=row.get("name") or client_id,
            cost=cost,
            billed=billed,
            margin=to_decimal(row.get("margin"), _ZERO) or _ZERO,
            markup_percent=to_decimal(row.get("markup_percent"), _ZERO) or _ZERO,
            events=int(row.get("events", 0)),
            budget=budget_status(row, cost, billed, period, now),
            alerts_sent=None if alert_counts is None else alert_counts.get(client_id, 0),
            last_invoice_status=last if last in LAST_MONTH_STATUSES else "none",
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


# --- client page and portal ---------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ModelShare:
    provider: str
    model: str
    amount: Decimal
    tokens: int
    events: int
    share: Decimal
    color: str

    @property
    def share_percent(self) -> Decimal:
        return (self.share * 100).quantize(Decimal("0.1"))


@dataclass(frozen=True, slots=True)
class UsagePicture:
    """Daily spend by model (the chart) and the model mix, in one unit (cost or billed)."""

    chart_svg: str
    legend: list[tuple[str, str]]
    mix: list[ModelShare]
    total: Decimal


MAX_SERIES = 6


def month_days(period: Period, now: datetime) -> list[date]:
    """Every day of the month, the days still to come too: the chart reads as month to date."""
    return [date(period.year, period.month, d) for d in range(1, period.days + 1)]


def usage_picture(daily: Iterable[Mapping[str, Any]], period: Period, now: datetime, *,
                  factor: Decimal = Decimal(1), title: str = "Daily spend by model") -> UsagePicture:
    """``factor`` turns cost into what is shown: 1 at cost, ``1 + markup`` in billed dollars."""
    from services.dashboard.charts import PALETTE, Series, stacked_bars

    per_model: dict[tuple[str, str], dict[date, Decimal]] = {}
    tokens: dict[tuple[str, str], int] = {}
    events: dict[tuple[str, str], int] = {}
    for row in daily:
        key = (str(row["provider"]), str(row["model"]))
        day = date.fromisoformat(str(row["day"]))
        amount = (to_decimal(row.get("cost_usd"), _ZERO) or _ZERO) * factor
        per_model.setdefault(key, {})
        per_model[key][day] = per_model[key].get(day, _ZERO) + amount
        tokens[key] = tokens.get(key, 0) + sum(int(row.get(c, 0)) for c in (
            "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens"))
        events[key] = events.get(key, 0) + int(row.get("events", 0))
    totals = {key: sum(days.values(), _ZERO) for key, days in per_model.items()}
    grand = sum(totals.values(), _ZERO)
    ranked = sorted(totals, key=lambda k: (-totals[k], k))
    colors = {key: PALETTE[i % len(PALETTE)] if i < MAX_SERIES else "#98a2b3" for i, key in enumerate(ranked)}
    mix = [ModelShare(provider=k[0], model=k[1], amount=totals[k], tokens=tokens[k], events=events[k],
                      share=totals[k] / grand if grand > 0 else _ZERO, color=colors[k]) for k in ranked]
    series = [Series(f"{k[0]} {k[1]}", colors[k], per_model[k]) for k in ranked[:MAX_SERIES]]
    if len(ranked) > MAX_SERIES:
        other: dict[date, Decimal] = {}
        for k in ranked[MAX_SERIES:]:
            for day, amount in per_model[k].items():
                other[day] = other.get(day, _ZERO) + amount
        series.append(Series("other models", "#98a2b3", other))
    days = month_days(period, now)
    return UsagePicture(chart_svg=stacked_bars(days, series, title=title),
                        legend=[(s.label, s.color) for s in series], mix=mix, total=grand)


def billed_before_tax(invoice: Mapping[str, Any] | None) -> Decimal:
    """What an invoice bills before any tax, ``base_cost + markup``: what billed budgets, the alerts
    and the overview count (a tax line is the state's, not the client's AI spend)."""
    invoice = invoice or {}
    return (to_decimal(invoice.get("base_cost"), _ZERO) or _ZERO) + (to_decimal(invoice.get("markup"), _ZERO) or _ZERO)


def billed_factor(markup_percent: object) -> Decimal:
    """What one dollar at cost is billed at: ``1 + markup / 100``."""
    return 1 + (to_decimal(markup_percent, _ZERO) or _ZERO) / 100


def thresholds_text(thresholds: Iterable[object]) -> str:
    return ", ".join(str(t) for t in thresholds)


def settings_body(form: Mapping[str, str], existing: Mapping[str, Any] | None) -> dict[str, Any]:
    """The settings form as the API's ``ClientUpdate`` (the API does all the validation)."""
    body: dict[str, Any] = {
        "name": form.get("name", ""),
        "markup_percent": form.get("markup_percent", "").strip() or None,
        "monthly_budget": form.get("monthly_budget", "").strip() or None,
        "alert_thresholds": [t.strip() for t in form.get("alert_thresholds", "").replace(";", ",").split(",")
                             if t.strip()],
        "notify": [line.strip() for line in form.get("notify", "").splitlines() if line.strip()],
    }
    if "budget_basis" in form:
        body["budget_basis"] = form["budget_basis"]
    elif existing is not None and "budget_basis" in existing:
        body["budget_basis"] = existing["budget_basis"]
    return body


def form_errors(api_errors: Mapping[str, str]) -> dict[str, str]:
    """API field paths (``alert_thresholds.1``) onto the form's fields (``alert_thresholds``)."""
    errors: dict[str, str] = {}
    for path, message in api_errors.items():
        name = path.split(".", 1)[0]
        errors[name] = f"{errors[name]}; {message}" if name in errors else message
    return errors
