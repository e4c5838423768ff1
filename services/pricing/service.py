"""Pricing of recorded events: the applied price row and the exact cost of each event."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import localcontext
from typing import Any

import msgspec

from libs.common.deadletter import PROCESSING_ERROR
from libs.common.events import AppliedPrice, UnitBucket, UsagePriced, UsageRecorded, UsageUnpriced
from libs.common.failures import Refused, describe
from libs.common.priced_wire import PricedRow, event_row
from libs.common.recorded_wire import RecordedCall
from services.pricing.calculation import EXACT, bucket_costs, has_unit_tokens, price_usage
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


def decide(book: PriceBook, event: Any) -> AppliedPrice | str:
    """The price row ``event`` is billed at, or why it waits in the quarantine.

    ``event`` has ``UsageRecorded``'s attributes (a model, or the consumer's ``RecordedCall``).
    """
    applied = book.resolve(event.provider, event.model, event.timestamp, event)
    if applied is None:
        return book.unpriced_reason(event.provider, event.model, event.timestamp, event)
    if has_unit_tokens(event) and (missing := applied.unpriced_units(event)):
        return unpriced_units_reason(applied, missing)
    return applied


@dataclass(slots=True)
class PricedCalls:
    """The consumer's batch priced straight into compact priced rows (``PricingService.price_calls``)."""

    priced_at: datetime
    priced: list[PricedRow] = field(default_factory=list)
    unpriced: list[UsageUnpriced] = field(default_factory=list)
    failed: list[Refused[RecordedCall]] = field(default_factory=list)


class PricingService:
    """Holds the current price book; a reload swaps it whole, so a batch sees one book."""

    def __init__(self, book: PriceBook) -> None:
        self.book = book

    def price(self, events: Iterable[UsageRecorded], now: datetime) -> PricingOutcome:
        """Price models (quarantined events re-driven, tools): priced ones as ``UsagePriced``."""
        book = self.book
        outcome = PricingOutcome()
        for event in events:
            try:
                applied = decide(book, event)
                fields = event.__dict__  # the event's validated fields, copied without re-validation
                if isinstance(applied, str):
                    outcome.unpriced.append(UsageUnpriced.model_construct(**fields, reason=applied, detected_at=now))
                else:
                    cost = price_usage(event, applied)
                    outcome.priced.append(construct(UsagePriced, {**fields, "price": applied, "cost": cost,
                                                                  "priced_at": now}))
            except Exception as exc:  # noqa: BLE001 - isolated: this event is dead-lettered, the rest go on
                log.exception("pricing event %s of %s failed", event.event_id, event.client_id)
                outcome.failed.append(Refused(event, f"pricing failed: {describe(exc)}", PROCESSING_ERROR))
        return outcome

    def price_calls(self, calls: Iterable[RecordedCall], now: datetime) -> PricedCalls:
        """``price`` for the consumer's hot path: the same decisions and amounts, each priced call
        written straight into its compact row (``libs.common.priced_wire``) without building models.

        Measured (``bench.pricing_batch``): the models were about half of pricing's CPU per event.
        """
        book = self.book
        outcome = PricedCalls(now)
        priced = outcome.priced.append
        with localcontext(EXACT):  # once per batch: entering it costs more than an event's arithmetic
            for call in calls:
                try:
                    applied = decide(book, call)
                    if applied.__class__ is str:
                        outcome.unpriced.append(construct(UsageUnpriced, {
                            **msgspec.structs.asdict(call), "reason": applied, "detected_at": now}))
                    else:
                        priced((call, applied, event_row(call, *bucket_costs(call, applied))))  # type: ignore[arg-type]
                except Exception as exc:  # noqa: BLE001 - isolated: this event is dead-lettered, the rest go on
                    log.exception("pricing event %s of %s failed", call.event_id, call.client_id)
                    outcome.failed.append(Refused(call, f"pricing failed: {describe(exc)}", PROCESSING_ERROR))
        return outcome
