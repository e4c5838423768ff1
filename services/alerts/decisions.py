"""What to tell whom, as pure functions of the budget, the spend, the clock and what was sent.

Thresholds
    A threshold ``t`` (a fraction of ``monthly_budget``) is crossed once month-to-date spend
    is at least ``t × budget``. Each fires at most once per client and period; "fired" means
    any record exists for it, whatever became of the delivery (a failed one is retried, not
    re-decided).

A jump past several thresholds at once
    One message, naming the highest threshold crossed and listing the others it passed
    ("past the 50%, 80% and 100% alerts"); the lower ones are recorded as ``covered`` by it.
    Why: the highest one carries all the news, and three messages landing in the same second
    read as noise in a Slack channel or an inbox. For the same reason a threshold that becomes
    crossed while a higher one has already fired (a threshold added mid-month, or a budget
    raised and lowered again) is recorded as covered and not sent.

Budget changed mid-month
    Thresholds are always evaluated against the budget in force now. Records are keyed by the
    threshold fraction, so a threshold already sent this period is not sent again against the
    new budget: after "80% of $500", raising the budget to $1,000 tells the account manager
    again only at the next threshold (100% of $1,000), and lowering it to $400 (spend now over
    100%) sends the 100% alert at once.

Forecast ("on track to exceed")
    Linear run-rate over the month so far: ``projected = spend × month length / time
    elapsed``. It is the pace an account manager can check by hand ("$300 in 18 of 30
    days → $500"), it needs no history beyond the month, and it moves steadily: a
    recent-days rate (last 7 days from ``usage_totals_daily``) would react faster to a
    ramp-up but swings with every weekend and batch job, which is what makes forecast alerts
    get ignored. Actual threshold alerts still catch a late surge. Before ``min_days`` of the
    month have passed there is no projection (one busy first morning would project a
    fortune). The forecast alert fires once per period when the projection is over the
    budget while actual spend is still under it; when a threshold message goes out at the
    same moment, that message already states the projection, so the forecast is recorded as
    covered by it instead of sent separately. Once spend has reached the budget the forecast
    has nothing left to say and is not sent.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Context, Decimal, localcontext

from services.alerts.domain import AlertKey, Kind, Period

__all__ = ["Decision", "decide", "project_month_end"]

_EXACT = Context(prec=60)
_SECONDS_PER_DAY = 86_400


def project_month_end(spent: Decimal, period: Period, now: datetime, *, min_days: float) -> Decimal | None:
    """Month-end spend at this month's pace so far; the actual spend once the month is over.

    ``None`` while less than ``min_days`` of the month has passed (or before it began).
    """
    if now >= period.end:
        return spent
    elapsed = (now - period.start).total_seconds()
    if elapsed <= 0 or elapsed < min_days * _SECONDS_PER_DAY:
        return None
    length = (period.end - period.start).total_seconds()
    with localcontext(_EXACT):
        # Integer microseconds keep the ratio exact enough that cents never wobble.
        return spent * Decimal(round(length * 1_000_000)) / Decimal(round(elapsed * 1_000_000))


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of one evaluation: at most one message, plus alerts recorded as covered."""

    send: AlertKey | None
    """The alert whose message goes out now (to every channel), if any."""
    passed: tuple[Decimal, ...]
    """Every threshold newly crossed in this evaluation, lowest first (named in the message)."""
    covered: tuple[AlertKey, ...]
    """Newly due alerts told by ``send``'s message, or by one sent earlier, and so not sent."""
    covered_by: Decimal | None
    """The threshold whose message covers ``covered``."""

    @property
    def is_empty(self) -> bool:
        return self.send is None and not self.covered


NOTHING = Decision(send=None, passed=(), covered=(), covered_by=None)


def crossed_thresholds(spent: Decimal, budget: Decimal, thresholds: Iterable[Decimal]) -> list[Decimal]:
    """Thresholds whose share of the budget spend has reached, lowest first."""
    with localcontext(_EXACT):
        return sorted(t for t in set(thresholds) if spent >= t * budget)


def decide(
    *,
    budget: Decimal | None,
    thresholds: Iterable[Decimal],
    spent: Decimal,
    projected: Decimal | None,
    fired: Collection[AlertKey],
) -> Decision:
    """The alerts due now for one client and period (see the module docstring for the rules)."""
    if budget is None or budget <= 0:
        return NOTHING
    fired_thresholds = [key.threshold for key in fired if key.kind is Kind.THRESHOLD]
    highest_fired = max(fired_thresholds, default=None)
    new = [t for t in crossed_thresholds(spent, budget, thresholds) if AlertKey.at(t) not in fired]

    send: AlertKey | None = None
    covered: list[AlertKey] = []
    covered_by: Decimal | None = None
    if new:
        top = new[-1]
        if highest_fired is None or top > highest_fired:
            send, covered_by = AlertKey.at(top), top
            covered = [AlertKey.at(t) for t in new[:-1]]
        else:  # told already by a higher threshold's message
            covered, covered_by = [AlertKey.at(t) for t in new], highest_fired

    forecast = AlertKey.forecast()
    if forecast not in fired and projected is not None and projected > budget and spent < budget:
        if send is not None:
            covered.append(forecast)  # the threshold message states the projection
        else:
            send, covered_by = forecast, covered_by
    if send is None and not covered:
        return NOTHING
    return Decision(
        send=send,
        passed=tuple(new) if send is not None and send.kind is Kind.THRESHOLD else (),
        covered=tuple(covered),
        covered_by=covered_by,
    )
