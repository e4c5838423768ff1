"""The alerts service's domain objects: periods, a client's budget, its spend, alert records.

Three shapes, mapped explicitly: the Kafka message is ``libs.common.events.SpendUpdated``,
the domain objects are here, the ClickHouse rows are built in ``store.py`` and the API
shape is ``schemas.AlertDelivery``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Context, Decimal, localcontext
from enum import StrEnum

from libs.common.periods import Period
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
    markup_percent: Decimal = Decimal(0)
    budget_basis: str = "cost"
    """``billed``: the budget counts cost × (1 + markup), what the client pays; ``cost``: provider prices."""

    @property
    def billed(self) -> bool:
        return self.budget_basis == "billed"

    def in_budget_terms(self, cost: Decimal) -> Decimal:
        """An exact amount at cost, in the budget's basis (with the markup when billed)."""
        if not self.billed:
            return cost
        with localcontext(Context(prec=60)):
            return cost * (1 + self.markup_percent / 100)

    def spend_in_budget_terms(self, spend: SpendSnapshot) -> SpendSnapshot:
        return SpendSnapshot(
            total_usd=self.in_budget_terms(spend.total_usd),
            by_model=tuple(ModelSpend(m.provider, m.model, self.in_budget_terms(m.cost_usd)) for m in spend.by_model),
        )

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
