"""Re-driving quarantined events once a price for them exists.

Runs after every override change and every ``refresh_seconds``. Order: publish the
priced events, then mark them repriced. A crash in between re-drives them again, which
the aggregator's dedup by (client_id, event_id) makes harmless.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from faststream.kafka import KafkaBroker

from libs.common.topics import USAGE_PRICED
from services.pricing.publishing import publish_by_client
from services.pricing.repository import QuarantineRepository
from services.pricing.service import PricingService

log = logging.getLogger(__name__)


async def redrive_quarantined(
    service: PricingService, quarantine: QuarantineRepository, broker: KafkaBroker, prefix: str,
    page_size: int = 10_000,
) -> int:
    """Price what can now be priced, page by page; return how many events left quarantine."""
    repriced = 0
    after = ("", "")
    while page := await quarantine.pending_events(after, page_size):
        after = (page[-1].client_id, page[-1].event_id)
        now = datetime.now(UTC)
        outcome = service.price(page, now)
        if outcome.priced:
            await publish_by_client(broker, USAGE_PRICED, prefix, outcome.priced)
            await quarantine.mark_repriced(outcome.priced, now)
            repriced += len(outcome.priced)
        if len(page) < page_size:
            break
    if repriced:
        log.info("re-drove %d quarantined events", repriced)
    return repriced
