"""Wiring of the alerts service: the ``spend.updated.v1`` consumer, the sweep and the alerts API.

Like pricing, a FastAPI app that starts its FastStream broker in the lifespan. Shutdown
order: stop the sweep; stop the broker (its rebalance listener waits for evaluations in
flight, and offsets of finished batches are committed); give running deliveries
``shutdown_grace_seconds`` to finish (the rest stay ``sending``/``retrying`` for the next
owner's sweep); close ClickHouse.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime

import apprise
from fastapi import FastAPI

from libs.common.api import install_error_handlers
from libs.common.auth import KeyRing
from libs.common.clickhouse import connect, ensure_schema
from libs.common.docs import serve_docs_offline
from libs.common.errors import Unavailable
from libs.common.health import ConsumerGroup, HealthMonitor, mount_health
from libs.common.kafka import create_broker, ensure_topics
from libs.common.metrics import mount_metrics
from libs.common.topics import SPEND_UPDATED, topic
from services.alerts.api import alerts, counts
from services.alerts.delivery import AppriseNotifier, Deliverer
from services.alerts.handlers import CONSUMER, register_handlers
from services.alerts.ownership import Ownership
from services.alerts.service import AlertService
from services.alerts.settings import AlertsSettings, get_settings
from services.alerts.store import AlertStore

__all__ = ["create_app"]


def warm_up() -> None:
    """Pay one-time costs at start-up rather than on the first alert (measured: 2.1 s).

    clickhouse-connect imports pandas on its first insert (1.5 s, to check whether the rows
    are a DataFrame) and apprise loads its ~130 plugins on the first URL it parses (0.7 s);
    either would stall the event loop, and every client's alerts with it. Run in a thread.
    """
    from clickhouse_connect.driver import options

    _ = options.pd
    apprise.Apprise().add("json://localhost")


@dataclass
class AlertsRuntime:
    """What the handlers and routes use, created in the lifespan."""

    settings: AlertsSettings
    instance: str
    service: AlertService | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def store(self) -> AlertStore:
        return self.require_service().store

    def require_service(self) -> AlertService:
        """The service once the lifespan made it; before (or after) that a 503 to retry, not an assert."""
        if self.service is None:
            raise Unavailable("alerts is starting or stopping; retry in a moment")
        return self.service


def create_app(settings: AlertsSettings | None = None, clock: Callable[[], datetime] | None = None) -> FastAPI:
    """The alerts app; ``clock`` (the real one unless given) picks the budget period and the point of
    the month forecasts project from."""
    settings = settings if settings is not None else get_settings()
    keyring = KeyRing.from_json(settings.auth.api_keys.get_secret_value())
    runtime = AlertsRuntime(settings=settings, instance=f"{socket.gethostname()}:{os.getpid()}")
    broker = create_broker(settings.kafka, client_id="tokentally-alerts")
    spend_topic = topic(SPEND_UPDATED, settings.kafka.topic_prefix)

    def partition_count() -> int | None:
        consumer = subscriber.consumer
        partitions = consumer.partitions_for_topic(spend_topic) if consumer is not None else None
        return len(partitions) if partitions else settings.kafka.topic_partitions

    async def quiesce() -> None:
        if runtime.service is not None:
            await runtime.service.quiesce()

    ownership = Ownership(spend_topic, partition_count, on_assigned=lambda _: runtime.wake.set(), quiesce=quiesce)
    subscriber = register_handlers(broker, settings, ownership, runtime.require_service)
    monitor = HealthMonitor(settings.kafka, settings.health, [ConsumerGroup(settings.group_id, spend_topic, CONSUMER)])

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(warm_up)
        await ensure_schema(settings.clickhouse)
        await ensure_topics(settings.kafka)
        clickhouse = await connect(settings.clickhouse)
        store = AlertStore(clickhouse)
        deliverer = Deliverer(store, AppriseNotifier(settings.send_timeout_seconds), settings.retry_policy,
                              runtime.instance)
        runtime.service = AlertService(store, deliverer, ownership, settings, runtime.instance, clock=clock)
        await broker.start()
        await monitor.start()
        sweeper = asyncio.create_task(runtime.service.sweep_forever(runtime.wake))
        try:
            yield
        finally:
            await monitor.stop()
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            await broker.stop()
            await deliverer.drain(settings.shutdown_grace_seconds)
            await clickhouse.close()

    app = FastAPI(title="TokenTally alerts", version="1", lifespan=lifespan, docs_url=None, redoc_url=None)
    serve_docs_offline(app)
    app.state.runtime = runtime
    app.state.keyring = keyring  # read by libs.common.api.current_principal
    install_error_handlers(app)
    app.include_router(alerts.router)
    app.include_router(counts.router)
    mount_metrics(app)
    mount_health(app, monitor)
    return app
