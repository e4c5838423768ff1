"""Wiring of the aggregator: Kafka in, ClickHouse out, and ``/metrics`` and ``/health`` over HTTP.

Like pricing and alerts, a FastAPI app that starts its FastStream broker in the lifespan
(the aggregator has no API of its own, only what operators and Prometheus read).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from libs.common.api import install_error_handlers
from libs.common.clickhouse import connect, ensure_schema
from libs.common.docs import serve_docs_offline
from libs.common.health import ConsumerGroup, HealthMonitor, mount_health
from libs.common.kafka import create_broker, ensure_topics
from libs.common.metrics import mount_metrics
from libs.common.topics import USAGE_PRICED, USAGE_UNPRICED, topic
from services.aggregator.handlers import register_handlers
from services.aggregator.service import Aggregator
from services.aggregator.settings import AggregatorSettings, get_settings
from services.aggregator.store import PricedEventStore


def create_app(settings: AggregatorSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    prefix = settings.kafka.topic_prefix
    broker = create_broker(settings.kafka, client_id="tokentally-aggregator")
    store = PricedEventStore(insert_retries=settings.insert_retries)
    register_handlers(broker, settings, Aggregator(store))
    monitor = HealthMonitor(settings.kafka, settings.health, [
        ConsumerGroup(f"{settings.group_id}.priced", topic(USAGE_PRICED, prefix), "aggregator.priced"),
        ConsumerGroup(f"{settings.group_id}.unpriced", topic(USAGE_UNPRICED, prefix), "aggregator.unpriced"),
    ])

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await ensure_schema(settings.clickhouse)
        await ensure_topics(settings.kafka)
        clickhouse = await connect(settings.clickhouse)
        store.attach(clickhouse)
        await broker.start()
        await monitor.start()
        try:
            yield
        finally:
            await monitor.stop()
            await broker.stop()
            await clickhouse.close()

    app = FastAPI(title="TokenTally aggregator", version="1", lifespan=lifespan, docs_url=None, redoc_url=None)
    serve_docs_offline(app)
    install_error_handlers(app)
    mount_metrics(app)
    mount_health(app, monitor)
    return app
