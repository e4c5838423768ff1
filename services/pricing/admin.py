"""The price admin's operations, behind ``/v1/prices``, ``/v1/unpriced`` and ``/v1/dead-letters``: the service layer
the routers call (they only authenticate and translate).

Created once in the app's factory; the ClickHouse repositories are attached in the
lifespan, so a request that arrives before they are (or after they are gone) gets a
503 to retry rather than an internal error.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from faststream.kafka import KafkaBroker

from libs.common.auth import KeyRing
from libs.common.errors import Unavailable
from services.pricing.dead_letters import DeadLetterService
from services.pricing.overrides import PriceOverride, PriceOverrideCreate
from services.pricing.price_book import PriceExplanation
from services.pricing.redrive import redrive_quarantined
from services.pricing.repository import OverrideRepository, QuarantinedEvent, QuarantineRepository
from services.pricing.service import PricingService
from services.pricing.settings import PricingSettings

log = logging.getLogger(__name__)

_STARTING = "pricing is starting or stopping; retry in a moment"


@dataclass
class PricingAdmin:
    settings: PricingSettings
    keyring: KeyRing
    service: PricingService
    broker: KafkaBroker
    overrides: OverrideRepository | None = None
    quarantine: QuarantineRepository | None = None
    dead_letters: DeadLetterService | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _background: set[asyncio.Task[int]] = field(default_factory=set)

    def _override_store(self) -> OverrideRepository:
        if self.overrides is None:
            raise Unavailable(_STARTING)
        return self.overrides

    def _quarantine_store(self) -> QuarantineRepository:
        if self.quarantine is None:
            raise Unavailable(_STARTING)
        return self.quarantine

    def letters(self) -> DeadLetterService:
        """The dead letters (``/v1/dead-letters``): list, fix and re-drive, discard."""
        if self.dead_letters is None:
            raise Unavailable(_STARTING)
        return self.dead_letters

    # -- overrides ------------------------------------------------------------------------

    async def add_override(self, body: PriceOverrideCreate) -> PriceOverride:
        """Store an override, price new events with it at once, re-drive quarantined ones soon."""
        override = PriceOverride.from_create(body)
        await self._override_store().add(override)
        self.service.book = self.service.book.with_override(override)
        self.redrive_soon()
        return override

    def list_overrides(self) -> list[PriceOverride]:
        return list(self.service.book.overrides)

    def explain(self, provider: str, model: str, at: datetime | None) -> PriceExplanation:
        """The price that applies to a model at ``at`` (default now; naive means UTC), and why."""
        when = at or datetime.now(UTC)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return self.service.book.explain(provider.strip().lower(), model.strip(), when)

    # -- the quarantine of unpriced events -----------------------------------------------

    async def list_unpriced(self, status: str, client_id: str | None, limit: int) -> list[QuarantinedEvent]:
        return await self._quarantine_store().list(status=status, client_id=client_id, limit=limit)

    async def reload_and_redrive(self) -> int:
        """Reload overrides from ClickHouse (other instances may have added some), then re-drive."""
        overrides, quarantine = self._override_store(), self._quarantine_store()
        async with self._lock:
            self.service.book = self.service.book.replace_overrides(await overrides.all())
            return await redrive_quarantined(self.service, quarantine, self.broker,
                                             self.settings.kafka.topic_prefix, self.settings.kafka.max_message_bytes)

    def redrive_soon(self) -> None:
        """Re-drive in the background, so an override's POST answers without waiting for it."""
        task = asyncio.get_running_loop().create_task(self.reload_and_redrive())
        self._background.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(self._background.discard)

    async def refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.refresh_seconds)
            try:
                await self.reload_and_redrive()
            except Exception:  # noqa: BLE001 - keep refreshing; the next round retries
                log.exception("price refresh failed; retrying in %ss", self.settings.refresh_seconds)
