"""Re-driving quarantined events once a price for them exists.

Runs after every override change and every ``refresh_seconds``. Order: publish the
priced events, then mark them repriced. A crash in between re-drives them again, which
the aggregator's dedup by (client_id, event_id) makes harmless.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from faststream.kafka import KafkaBroker

from libs.common.deadletter import of_event, publish_dead_letters
from libs.common.topics import USAGE_PRICED
from services.pricing.publishing import publish_by_client
from services.pricing.repository import QuarantineRepository
from services.pricing.service import PricingService

log = logging.getLogger(__name__)


async def redrive_quarantined(
    service: PricingService, quarantine: QuarantineRepository, broker: KafkaBroker, prefix: str,
    max_message_bytes: int, page_size: int = 10_000,
) -> int:
    """Price what can now be priced, page by page; return how many events left quarantine.

    An event that prices but cannot travel (its priced message alone over the size limit)
    goes to the dead-letter topic and leaves quarantine as ``dead_lettered``.
    """
    repriced = 0
    after = ("", "")
    while page := await quarantine.pending_events(after, page_size):
        after = (page[-1].client_id, page[-1].event_id)
        now = datetime.now(UTC)
        outcome = service.price(page, now)
        if outcome.priced:
            refused = await publish_by_client(broker, USAGE_PRICED, prefix, outcome.priced, max_message_bytes)
            await publish_dead_letters(broker, prefix, "pricing",
                                       [of_event(r.item, "unpriced_events", r.reason, r.error_class) for r in refused])
            gone = {(r.item.client_id, r.item.event_id) for r in refused}
            await quarantine.mark_repriced([e for e in outcome.priced if (e.client_id, e.event_id) not in gone], now)
            await quarantine.mark_repriced([r.item for r in refused], now, status="dead_lettered")
            repriced += len(outcome.priced) - len(refused)
        if len(page) < page_size:
            break
    if repriced:
        log.info("re-drove %d quarantined events", repriced)
    return repriced
