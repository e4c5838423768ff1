"""One consumer batch of pricing without I/O: read the records, price the events, write the bodies.

The handler (``services.pricing.handlers``) sends what ``prepare`` returns and dead-letters
what it refused; ``bench.pricing_batch`` times the same function, so the benchmark measures
the consumer's own CPU work per event.

The hot path builds no pydantic model: raw messages are read by msgspec
(``libs.common.recorded_wire``), priced calls go straight into compact priced rows
(``PricingService.price_calls``). Models are built only for what leaves the hot path: unpriced
events, and the rare event that is dead-lettered (``as_model``), in the shapes they always had.
``tests/pricing/test_batch.py`` holds the bodies to the model path's, byte for byte.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

import msgspec
from aiokafka.structs import ConsumerRecord
from pydantic import BaseModel

from libs.common.consuming import DecodedBatch, decode_records
from libs.common.events import UsagePriced, UsageRecorded, UsageUnpriced
from libs.common.priced_wire import PricedRow, encode_rows
from libs.common.recorded_wire import RecordedCall, as_recorded, decode_calls
from libs.common.topics import USAGE_PRICED, USAGE_UNPRICED
from services.pricing.calculation import price_usage
from services.pricing.construct import construct
from services.pricing.publishing import Outgoing, pack_by_client, pack_groups
from services.pricing.service import PricedCalls, PricingService


@dataclass(slots=True)
class PreparedBatch:
    """A batch read, priced and written, ready to send."""

    decoded: DecodedBatch[RecordedCall]
    outcome: PricedCalls
    priced: Outgoing[PricedRow]
    unpriced: Outgoing[UsageUnpriced]


def decode(records: Sequence[ConsumerRecord]) -> DecodedBatch[RecordedCall]:
    """The batch's events; a message that does not read is poison (dead-lettered whole, with
    pydantic's reason for ``UsageRecorded``, as before)."""
    return decode_records(UsageRecorded, records, read=decode_calls)  # type: ignore[arg-type]


def encode(outcome: PricedCalls, max_bytes: int) -> tuple[Outgoing[PricedRow], Outgoing[UsageUnpriced]]:
    """The priced and the unpriced topic's message bodies, one client's events under its key."""
    groups: dict[str, list[PricedRow]] = {}
    for item in outcome.priced:
        groups.setdefault(item[0].client_id, []).append(item)
    priced = pack_groups(USAGE_PRICED, groups, max_bytes,
                         lambda client_id: partial(encode_rows, client_id, outcome.priced_at))
    return priced, pack_by_client(USAGE_UNPRICED, outcome.unpriced, max_bytes)


def prepare(service: PricingService, records: Sequence[ConsumerRecord], now: datetime,
            max_bytes: int) -> PreparedBatch:
    """Read, price at ``now`` and write one batch; call with the collector paused (``gc_paused``)."""
    decoded = decode(records)
    outcome = service.price_calls(decoded.events, now)
    priced, unpriced = encode(outcome, max_bytes)
    return PreparedBatch(decoded, outcome, priced, unpriced)


def as_model(item: Any, priced_at: datetime) -> BaseModel:
    """A refused item of the batch as the model its dead letter has always held: a call as
    ``UsageRecorded``, a priced row as ``UsagePriced`` (its cost computed again, exactly)."""
    if isinstance(item, RecordedCall):
        return as_recorded(item)
    if isinstance(item, tuple):
        call, price, _ = item
        return construct(UsagePriced, {**msgspec.structs.asdict(call), "price": price,
                                       "cost": price_usage(call, price), "priced_at": priced_at})
    return item  # type: ignore[no-any-return]
