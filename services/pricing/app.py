"""Wiring of the pricing service: a Kafka consumer plus the price admin API."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from libs.common.api import install_error_handlers
from libs.common.auth import KeyRing
from libs.common.clickhouse import connect, ensure_schema
from libs.common.docs import serve_docs_offline
from libs.common.health import ConsumerGroup, HealthMonitor, mount_health
from libs.common.kafka import create_broker, ensure_topics
from libs.common.loop_watchdog import LoopWatchdog
from libs.common.metrics import mount_metrics
from libs.common.topics import DEAD_LETTER, USAGE_RECORDED, topic
from services.pricing.api import dead_letters, prices, unpriced
from services.pricing.catalog import CatalogPrices
from services.pricing.admin import PricingAdmin
from services.pricing.dead_letter_recorder import CONSUMER as RECORDER
from services.pricing.dead_letter_recorder import dead_letter_group, register_recorder
from services.pricing.dead_letter_store import DeadLetterStore
from services.pricing.dead_letters import DeadLetterService
from services.pricing.handlers import CONSUMER, register_handlers
from services.pricing.price_book import PriceBook
from services.pricing.producer import BatchProducer
from services.pricing.repository import OverrideRepository, QuarantineRepository
from services.pricing.service import PricingService
from services.pricing.settings import PricingSettings, get_settings


def create_app(settings: PricingSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    broker = create_broker(settings.kafka, client_id="tokentally-pricing")
    service = PricingService(PriceBook(CatalogPrices()))
    admin = PricingAdmin(
        settings=settings,
        keyring=KeyRing.from_json(settings.auth.api_keys.get_secret_value()),
        service=service,
        broker=broker,
    )
    producer = BatchProducer(settings.kafka, client_id="tokentally-pricing")
    register_handlers(broker, settings, service, producer)
    register_recorder(broker, settings, admin.letters)
    monitor = HealthMonitor(settings.kafka, settings.health, [
        ConsumerGroup(settings.group_id, topic(USAGE_RECORDED, settings.kafka.topic_prefix), CONSUMER),
        ConsumerGroup(dead_letter_group(settings), topic(DEAD_LETTER, settings.kafka.topic_prefix), RECORDER)])

    watchdog = LoopWatchdog()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await watchdog.start()
        await ensure_schema(settings.clickhouse)
        await ensure_topics(settings.kafka)
        clickhouse = await connect(settings.clickhouse)
        overrides = OverrideRepository(clickhouse)
        service.book = service.book.replace_overrides(await overrides.all())
        admin.overrides, admin.quarantine = overrides, QuarantineRepository(clickhouse)
        admin.dead_letters = DeadLetterService(DeadLetterStore(clickhouse), broker, settings.kafka.topic_prefix,
                                               settings.kafka.max_message_bytes)
        await producer.start()
        await broker.start()
        await monitor.start()
        refresher = asyncio.create_task(admin.refresh_forever())
        try:
            yield
        finally:
            await monitor.stop()
            refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await refresher
            await broker.stop()
            await producer.stop()
            admin.overrides = admin.quarantine = admin.dead_letters = None
            await clickhouse.close()
            await watchdog.stop()

    app = FastAPI(title="TokenTally pricing", version="1", lifespan=lifespan, docs_url=None, redoc_url=None)
    serve_docs_offline(app)
    app.state.admin = admin
    app.state.keyring = admin.keyring
    install_error_handlers(app)
    app.include_router(prices.router)
    app.include_router(unpriced.router)
    app.include_router(dead_letters.router)
    mount_metrics(app)
    mount_health(app, monitor)
    return app
