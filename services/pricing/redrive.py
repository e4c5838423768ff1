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
    service: PricingService, quarantine: QuarantineRepository, broker: KafkaBroker, prefix: str
) -> int:
    """Price what can now be priced; return how many events left quarantine."""
    waiting = await quarantine.pending_events()
    if not waiting:
        return 0
    now = datetime.now(UTC)
    outcome = service.price(waiting, now)
    if not outcome.priced:
        return 0
    await publish_by_client(broker, USAGE_PRICED, prefix, outcome.priced)
    await quarantine.mark_repriced(outcome.priced, now)
    log.info("re-drove %d quarantined events (%d still unpriced)", len(outcome.priced), len(outcome.unpriced))
    return len(outcome.priced)
