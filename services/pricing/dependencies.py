"""What the pricing API's handlers depend on, created once in the app's lifespan."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from faststream.kafka import KafkaBroker

from libs.common.auth import KeyRing
from services.pricing.redrive import redrive_quarantined
from services.pricing.repository import OverrideRepository, QuarantineRepository
from services.pricing.service import PricingService
from services.pricing.settings import PricingSettings

log = logging.getLogger(__name__)


@dataclass
class PricingRuntime:
    settings: PricingSettings
    keyring: KeyRing
    service: PricingService
    broker: KafkaBroker
    overrides: OverrideRepository | None = None
    quarantine: QuarantineRepository | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _background: set[asyncio.Task[int]] = field(default_factory=set)

    async def reload_and_redrive(self) -> int:
        """Reload overrides from ClickHouse (other instances may have added some), then re-drive."""
        assert self.overrides is not None and self.quarantine is not None
        async with self._lock:
            overrides = await self.overrides.all()
            self.service.book = self.service.book.replace_overrides(overrides)
            return await redrive_quarantined(self.service, self.quarantine, self.broker,
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


def get_runtime(request: Request) -> PricingRuntime:
    return request.app.state.runtime  # type: ignore[no-any-return]


Runtime = Annotated[PricingRuntime, Depends(get_runtime)]
