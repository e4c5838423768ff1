"""Pricing of recorded events: the applied price row and the exact cost of each event."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from libs.common.deadletter import PROCESSING_ERROR
from libs.common.events import UsagePriced, UsageRecorded, UsageUnpriced
from libs.common.failures import Refused, describe
from services.pricing.calculation import price_usage
from services.pricing.construct import construct
from services.pricing.price_book import PriceBook

log = logging.getLogger(__name__)


@dataclass(slots=True)
class PricingOutcome:
    priced: list[UsagePriced] = field(default_factory=list)
    unpriced: list[UsageUnpriced] = field(default_factory=list)
    failed: list[Refused[UsageRecorded]] = field(default_factory=list)
    """Events pricing itself could not handle (a bug or data no check foresaw): dead-lettered,
    so one event can never stop every other client's billing."""


class PricingService:
    """Holds the current price book; a reload swaps it whole, so a batch sees one book."""

    def __init__(self, book: PriceBook) -> None:
        self.book = book

    def price(self, events: Iterable[UsageRecorded], now: datetime) -> PricingOutcome:
        book = self.book
        outcome = PricingOutcome()
        for event in events:
            try:
                applied = book.resolve(event.provider, event.model, event.timestamp, event)
                fields = event.__dict__  # the event's validated fields, copied without re-validation
                if applied is None:
                    reason = book.explain(event.provider, event.model, event.timestamp, event).reason
                    outcome.unpriced.append(UsageUnpriced.model_construct(**fields, reason=reason, detected_at=now))
                else:
                    cost = price_usage(event, applied)
                    outcome.priced.append(construct(UsagePriced, {**fields, "price": applied, "cost": cost,
                                                                  "priced_at": now}))
            except Exception as exc:  # noqa: BLE001 - isolated: this event is dead-lettered, the rest go on
                log.exception("pricing event %s of %s failed", event.event_id, event.client_id)
                outcome.failed.append(Refused(event, f"pricing failed: {describe(exc)}", PROCESSING_ERROR))
        return outcome
