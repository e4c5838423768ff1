"""The text of an alert: short, with everything an account manager acts on.

    Acme Corp is at 84% of its $500.00 AI budget for November 2026 ($420.50), past the 80%
    alert; on track for $560.00 by month end (over budget). Top models: openai gpt-4o $300.10,
    anthropic claude-3-5-sonnet $90.00.

    Acme Corp is on track to exceed its $500.00 AI budget for November 2026: $300.00 so far
    (60%), $560.00 projected by month end. Top models: openai gpt-4o $250.00.

Each message ends by saying what the budget counts: billed amounts (cost × (1 + markup), the
client's own dollars) or cost (the providers' prices, before markup). Spend is exact until shown;
amounts are shown rounded half-up to cents, percentages rounded down (so "at 80%" is never
said of 79.99%).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Context, Decimal, localcontext

from libs.common.money import round_cents
from services.alerts.decisions import Decision
from services.alerts.domain import Kind, ModelSpend, Period

__all__ = ["Message", "format_percent", "format_usd", "render"]

_EXACT = Context(prec=60)


@dataclass(frozen=True, slots=True)
class Message:
    title: str
    body: str
    urgent: bool
    """At or over the budget (sent as an apprise "failure" notice rather than a "warning")."""


def format_usd(amount: Decimal) -> str:
    """``$1,234.57``: rounded half-up to cents, with thousands separators."""
    return f"${round_cents(amount):,.2f}"


def format_percent(fraction: Decimal, places: int = 0) -> str:
    """``0.8`` → ``80%``, ``0.125`` → ``12.5%``; rounded down to ``places`` decimals."""
    with localcontext(_EXACT):
        percent = (fraction * 100).quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN)
    text = f"{percent:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text}%"


def _threshold_percent(threshold: Decimal) -> str:
    return format_percent(threshold, places=2)


def _spent_percent(spent: Decimal, budget: Decimal, at_least: Decimal | None) -> str:
    """Whole percent, with decimals only when needed not to fall below the threshold it passed."""
    with localcontext(_EXACT):
        share = spent / budget
    whole = format_percent(share)
    if at_least is not None and Decimal(whole[:-1]) < at_least * 100:
        return format_percent(share, places=2)
    return whole


def _join(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"


def _top_models(models: Sequence[ModelSpend], limit: int) -> str:
    shown = [m for m in models if m.cost_usd > 0][:limit]
    if not shown:
        return ""
    return " Top models: " + ", ".join(f"{m.provider} {m.model} {format_usd(m.cost_usd)}" for m in shown) + "."


def _basis_note(basis: str, markup_percent: Decimal | None) -> str:
    if basis == "billed":
        markup = f" with the {format_percent(markup_percent / 100, places=4)} markup" if markup_percent else ""
        return f" Amounts as billed{markup}."
    return " Amounts at cost, before markup."


def render(
    *,
    client_name: str,
    period: Period,
    decision: Decision,
    budget: Decimal,
    spent: Decimal,
    projected: Decimal | None,
    month_over: bool,
    top_models: Sequence[ModelSpend],
    top_limit: int = 3,
    basis: str = "cost",
    markup_percent: Decimal | None = None,
) -> Message:
    """The message for ``decision.send`` (which must be set)."""
    send = decision.send
    if send is None:
        raise ValueError("a message is rendered only for a decision that sends one")
    name = client_name or "This client"
    budget_text = format_usd(budget)
    models = _top_models(top_models, top_limit) + _basis_note(basis, markup_percent)
    if send.kind is Kind.FORECAST:
        if projected is None:
            raise ValueError("a forecast alert needs the projected spend")
        return Message(
            title=f"{name} is on track to exceed its AI budget for {period.label}",
            body=(
                f"{name} is on track to exceed its {budget_text} AI budget for {period.label}: "
                f"{format_usd(spent)} so far ({_spent_percent(spent, budget, None)}), "
                f"{format_usd(projected)} projected by month end.{models}"
            ),
            urgent=False,
        )

    highest = send.threshold
    percent = _spent_percent(spent, budget, highest)
    passed = [_threshold_percent(t) for t in decision.passed or (highest,)]
    alerts = "alert" if len(passed) == 1 else "alerts"
    if month_over:
        outlook = ""
    elif projected is None:
        outlook = " (too early in the month for a forecast)"
    else:
        over = " (over budget)" if projected > budget and spent < budget else ""
        outlook = f"; on track for {format_usd(projected)} by month end{over}"
    verb = "ended" if month_over else "is"
    return Message(
        title=f"{name} {'ended' if month_over else 'is'} at {percent} of its AI budget for {period.label}",
        body=(
            f"{name} {verb} at {percent} of its {budget_text} AI budget for {period.label} "
            f"({format_usd(spent)}), past the {_join(passed)} {alerts}{outlook}.{models}"
        ),
        urgent=spent >= budget,
    )
