"""The alerts service's domain objects: periods, a client's budget, its spend, alert records.

Three shapes, mapped explicitly: the Kafka message is ``libs.common.events.SpendUpdated``,
the domain objects are here, the ClickHouse rows are built in ``store.py`` and the API
shape is ``schemas.AlertDelivery``.
"""

from __future__ import annotations

import calendar
import hashlib
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum

from libs.common.redact import mask_url

__all__ = [
    "FORECAST_THRESHOLD",
    "AlertKey",
    "BudgetSettings",
    "Channel",
    "DeliveryRecord",
    "Kind",
    "ModelSpend",
    "Period",
    "SpendSnapshot",
    "Status",
]

_PERIOD = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True, slots=True, order=True)
class Period:
    """A calendar month in UTC, the budget period: ``start`` inclusive, ``end`` exclusive."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Period:
        match = _PERIOD.match(text)
        if match is None or not 1 <= int(match[2]) <= 12 or not 1970 <= int(match[1]) <= 2148:
            raise ValueError(f"not a month written YYYY-MM: {text!r}")
        return cls(int(match[1]), int(match[2]))

    @classmethod
    def of(cls, at: datetime) -> Period:
        at = at.astimezone(UTC)
        return cls(at.year, at.month)

    @classmethod
    def of_date(cls, day: date) -> Period:
        return cls(day.year, day.month)

    @property
    def first_day(self) -> date:
        """The value of the ``month`` column in the totals tables (and ``period`` in alerts)."""
        return date(self.year, self.month, 1)

    @property
    def start(self) -> datetime:
        return datetime(self.year, self.month, 1, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        return self.next().start

    @property
    def days(self) -> int:
        return calendar.monthrange(self.year, self.month)[1]

    @property
    def label(self) -> str:
        """``October 2026``: how a person names the month (English, like the rest of the messages)."""
        return f"{calendar.month_name[self.month]} {self.year}"

    def next(self) -> Period:
        return Period(self.year + 1, 1) if self.month == 12 else Period(self.year, self.month + 1)

    def previous(self) -> Period:
        return Period(self.year - 1, 12) if self.month == 1 else Period(self.year, self.month - 1)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


class Kind(StrEnum):
    THRESHOLD = "threshold"
    """Actual month-to-date spend reached ``threshold`` × budget."""
    FORECAST = "forecast"
    """The month-end projection went over the budget while actual spend was still under it."""


#: A forecast record's ``threshold``: the fraction of the budget the projection crossed.
FORECAST_THRESHOLD = Decimal(1)


@dataclass(frozen=True, slots=True)
class AlertKey:
    """What fires at most once per client and period: a threshold, or the forecast."""

    kind: Kind
    threshold: Decimal

    @classmethod
    def at(cls, threshold: Decimal) -> AlertKey:
        return cls(Kind.THRESHOLD, threshold)

    @classmethod
    def forecast(cls) -> AlertKey:
        return cls(Kind.FORECAST, FORECAST_THRESHOLD)


@dataclass(frozen=True, slots=True)
class Channel:
    """One notify target of a client: the apprise URL, its stable id and its masked label."""

    url: str = field(repr=False)

    @property
    def channel_id(self) -> str:
        """A digest of the URL: identifies the target in records without storing its secrets."""
        return hashlib.sha256(self.url.encode()).hexdigest()[:24]

    @property
    def label(self) -> str:
        return mask_url(self.url)


@dataclass(frozen=True, slots=True)
class BudgetSettings:
    """The part of a client's record (``clients`` FINAL) that alerts read."""

    client_id: str
    name: str
    monthly_budget: Decimal | None
    thresholds: tuple[Decimal, ...]
    notify: tuple[str, ...]

    @property
    def watched(self) -> bool:
        """Has a positive budget and somewhere to send alerts: otherwise there is nothing to do."""
        return self.monthly_budget is not None and self.monthly_budget > 0 and bool(self.notify)

    @property
    def channels(self) -> tuple[Channel, ...]:
        return tuple(Channel(url) for url in dict.fromkeys(self.notify))

    def channel(self, channel_id: str) -> Channel | None:
        return next((c for c in self.channels if c.channel_id == channel_id), None)


@dataclass(frozen=True, slots=True)
class ModelSpend:
    provider: str
    model: str
    cost_usd: Decimal


@dataclass(frozen=True, slots=True)
class SpendSnapshot:
    """A client's exact month-to-date spend at cost, and the models it came from (biggest first)."""

    total_usd: Decimal
    by_model: tuple[ModelSpend, ...] = ()


class Status(StrEnum):
    SENDING = "sending"
    """Recorded before the first attempt of a round; a row stuck here past the lease was interrupted."""
    RETRYING = "retrying"
    """The last attempt failed; another round starts at ``next_attempt_at``."""
    DELIVERED = "delivered"
    FAILED = "failed"
    """Gave up after ``max_attempts``: stays listed with its last error."""
    COVERED = "covered"
    """Not sent on its own: told by the message of ``covered_by`` (a higher threshold)."""
    CANCELLED = "cancelled"
    """The target was removed from the client's ``notify`` before a retry could reach it."""


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """One alert for one channel, in one state (a row of ``alert_deliveries``)."""

    client_id: str
    period: Period
    kind: Kind
    threshold: Decimal
    channel_id: str
    channel: str
    status: Status
    covered_by: Decimal | None
    title: str
    message: str
    spend_usd: Decimal
    budget_usd: Decimal
    projected_usd: Decimal | None
    attempts: int
    last_error: str
    next_attempt_at: datetime
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None
    instance: str

    @property
    def key(self) -> AlertKey:
        return AlertKey(self.kind, self.threshold)

    @property
    def delivery_key(self) -> tuple[str, Period, Kind, Decimal, str]:
        """The table's sorting key: one live row per value."""
        return (self.client_id, self.period, self.kind, self.threshold, self.channel_id)

    def evolve(self, **changes: object) -> DeliveryRecord:
        return replace(self, **changes)  # type: ignore[arg-type]
