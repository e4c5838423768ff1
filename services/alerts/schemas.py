"""API shapes: ``AlertDelivery`` out (what was sent, to which channel, and how it went)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, PlainSerializer

from services.alerts.domain import DeliveryRecord

__all__ = ["AlertDelivery"]


def _plain(value: Decimal) -> str:
    """Fixed-point text without trailing zeros (``0.8``, ``500``, ``401.12``), never ``1E+2``."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


DecimalText = Annotated[Decimal, PlainSerializer(_plain, return_type=str, when_used="json")]


class AlertDelivery(BaseModel):
    """One alert for one channel: a message sent (or being sent), or a threshold it covered."""

    period: str
    """The budget period, ``YYYY-MM`` (UTC calendar month)."""
    kind: str
    """``threshold`` (actual spend reached it) or ``forecast`` (projected to exceed the budget)."""
    threshold: DecimalText
    """Fraction of the budget (``0.8`` = 80%); ``1`` for a forecast."""
    channel: str
    """The apprise target with its secrets masked."""
    status: str
    """``sending``, ``retrying``, ``delivered``, ``failed`` (gave up), ``covered`` (told by the
    message of ``covered_by``), ``cancelled`` (target removed before a retry)."""
    covered_by: DecimalText | None
    attempts: int
    last_error: str
    title: str
    message: str
    spend_usd: DecimalText
    """Month-to-date spend at cost when the alert was decided (exact)."""
    budget_usd: DecimalText
    projected_usd: DecimalText | None
    created_at: datetime
    """When the alert was decided."""
    updated_at: datetime
    delivered_at: datetime | None
    next_attempt_at: datetime | None
    """When the next round of attempts is due (``retrying`` only)."""
    instance: str
    """The alerts instance (host:pid) that last worked on it."""

    @classmethod
    def of(cls, record: DeliveryRecord) -> AlertDelivery:
        return cls(
            period=str(record.period), kind=record.kind.value, threshold=record.threshold, channel=record.channel,
            status=record.status.value, covered_by=record.covered_by, attempts=record.attempts,
            last_error=record.last_error, title=record.title, message=record.message, spend_usd=record.spend_usd,
            budget_usd=record.budget_usd, projected_usd=record.projected_usd, created_at=record.created_at,
            updated_at=record.updated_at, delivered_at=record.delivered_at,
            next_attempt_at=record.next_attempt_at if record.status.value == "retrying" else None,
            instance=record.instance,
        )
