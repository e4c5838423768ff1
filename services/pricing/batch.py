"""One consumer batch of pricing without I/O: read the records, price the events, write the bodies.

The handler (``services.pricing.handlers``) sends what ``prepare`` returns and dead-letters
what it refused; ``bench.pricing_batch`` times the same function, so the benchmark measures
the consumer's own CPU work per event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from aiokafka.structs import ConsumerRecord

from libs.common.consuming import DecodedBatch, decode_records
from libs.common.events import UsagePriced, UsageRecorded, UsageUnpriced
from libs.common.topics import USAGE_PRICED, USAGE_UNPRICED
from services.pricing.publishing import Outgoing, pack_by_client
from services.pricing.service import PricingOutcome, PricingService


@dataclass(slots=True)
class PreparedBatch:
    """A batch read, priced and written, ready to send."""

    decoded: DecodedBatch[UsageRecorded]
    outcome: PricingOutcome
    priced: Outgoing[UsagePriced]
    unpriced: Outgoing[UsageUnpriced]


def decode(records: Sequence[ConsumerRecord]) -> DecodedBatch[UsageRecorded]:
    """The batch's events; a message that does not read is poison (dead-lettered whole)."""
    return decode_records(UsageRecorded, records)


def encode(outcome: PricingOutcome, max_bytes: int) -> tuple[Outgoing[UsagePriced], Outgoing[UsageUnpriced]]:
    """The priced and the unpriced topic's message bodies."""
    return pack_by_client(USAGE_PRICED, outcome.priced, max_bytes), pack_by_client(USAGE_UNPRICED, outcome.unpriced,
                                                                                   max_bytes)


def prepare(service: PricingService, records: Sequence[ConsumerRecord], now: datetime,
            max_bytes: int) -> PreparedBatch:
    """Read, price at ``now`` and write one batch; call with the collector paused (``gc_paused``)."""
    decoded = decode(records)
    outcome = service.price(decoded.events, now)
    priced, unpriced = encode(outcome, max_bytes)
    return PreparedBatch(decoded, outcome, priced, unpriced)
