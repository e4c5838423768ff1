"""Wiring of the aggregator: Kafka in, ClickHouse out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from faststream import FastStream

from libs.common.clickhouse import connect, ensure_schema
from libs.common.kafka import create_broker, ensure_topics
from services.aggregator.handlers import AGGREGATOR, register_handlers
from services.aggregator.service import Aggregator
from services.aggregator.settings import AggregatorSettings, get_settings
from services.aggregator.store import PricedEventStore


def create_app(settings: AggregatorSettings | None = None) -> FastStream:
    settings = settings or get_settings()
    broker = create_broker(settings.kafka, client_id="tokentally-aggregator")
    register_handlers(broker, settings)

    @asynccontextmanager
    async def lifespan() -> AsyncIterator[None]:
        await ensure_schema(settings.clickhouse)
        await ensure_topics(settings.kafka)
        clickhouse = await connect(settings.clickhouse)
        app.context.set_global(AGGREGATOR, Aggregator(PricedEventStore(clickhouse)))
        try:
            yield
        finally:
            await clickhouse.close()

    app = FastStream(broker, lifespan=lifespan)
    return app
