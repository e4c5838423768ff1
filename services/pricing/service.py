"""Pricing of recorded events: the applied price row and the exact cost of each event."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from libs.common.events import UsagePriced, UsageRecorded, UsageUnpriced
from services.pricing.calculation import price_usage
from services.pricing.construct import construct
from services.pricing.price_book import PriceBook


@dataclass(slots=True)
class PricingOutcome:
    priced: list[UsagePriced] = field(default_factory=list)
    unpriced: list[UsageUnpriced] = field(default_factory=list)


class PricingService:
    """Holds the current price book; a reload swaps it whole, so a batch sees one book."""

    def __init__(self, book: PriceBook) -> None:
        self.book = book

    def price(self, events: Iterable[UsageRecorded], now: datetime) -> PricingOutcome:
        book = self.book
        outcome = PricingOutcome()
        for event in events:
            applied = book.resolve(event.provider, event.model, event.timestamp, event)
            fields = event.__dict__  # the event's validated fields, copied without re-validation
            if applied is None:
                reason = book.explain(event.provider, event.model, event.timestamp, event).reason
                outcome.unpriced.append(UsageUnpriced.model_construct(**fields, reason=reason, detected_at=now))
            else:
                cost = price_usage(event, applied)
                outcome.priced.append(construct(UsagePriced, {**fields, "price": applied, "cost": cost,
                                                              "priced_at": now}))
        return outcome
