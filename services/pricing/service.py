"""Pricing of recorded events: the applied price row and the exact cost of each event."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from libs.common.deadletter import PROCESSING_ERROR
from libs.common.events import AppliedPrice, UnitBucket, UsagePriced, UsageRecorded, UsageUnpriced
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


def unpriced_units_reason(applied: AppliedPrice, missing: Sequence[UnitBucket]) -> str:
    """Why a call whose price row does not price a unit it uses waits in the quarantine.

    Never billed at a guess such as the text price: 1-hour cache writes and audio cost a
    multiple of text, and which multiple is the vendor's to say (the one published rule applied,
    Claude's 1-hour writes at 2 x input, is in the catalog's rows already). An override that
    gives the price re-drives the call.
    """
    names = " and ".join(unit.label + " tokens" for unit in missing)
    fields = ", ".join(unit.price for unit in missing)
    row = f"override {applied.price_id}" if applied.source == "override" else f"catalog {applied.price_id}"
    return f"no price for {names}: {row} does not price them; add an override with {fields}"


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
                if applied is not None and (
                    event.cache_write_1h_tokens or event.input_audio_tokens or event.output_audio_tokens
                    or event.cache_audio_read_tokens or event.input_image_tokens or event.cache_image_read_tokens
                    or event.output_image_tokens
                ) and (missing := applied.unpriced_units(event)):
                    outcome.unpriced.append(UsageUnpriced.model_construct(
                        **fields, reason=unpriced_units_reason(applied, missing), detected_at=now))
                elif applied is None:
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
