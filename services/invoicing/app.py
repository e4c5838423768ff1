"""The invoicing API: wiring and lifespan only (logic in ``service``, queries in ``repository``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import Depends, FastAPI

from libs.common.api import document_storable_text, install_error_handlers, refuse_unstorable_text
from libs.common.auth import KeyRing
from libs.common.clickhouse import connect, ensure_schema
from libs.common.docs import serve_docs_offline
from services.invoicing.api import agency, billing, clients, exports, invoices, usage, webhooks
from services.invoicing.auto_issue import AutoIssuer
from services.invoicing.catchup import KafkaPipeline, Pipeline
from services.invoicing.exports.service import AccountingExports
from services.invoicing.exports.store import MappingStore
from services.invoicing.db.migrate import upgrade
from services.invoicing.idempotency import IdempotencyMiddleware, document_idempotency
from services.invoicing.issuing import InvoiceDesk
from services.invoicing.ledger import Ledger, connect_pool
from services.invoicing.openapi import DESCRIPTION, TAGS
from services.invoicing.party_store import PartyStore
from services.invoicing.profiles import Parties
from services.invoicing.repository import InvoicingRepository
from services.invoicing.settings import InvoicingSettings, get_settings
from services.invoicing.webhooks.dispatcher import Dispatcher, RetryPolicy
from services.invoicing.webhooks.publisher import Publisher

__all__ = ["create_app", "desk_of", "exports_of", "parties_of"]


def utc_now() -> datetime:
    return datetime.now(UTC)


def desk_of(app: FastAPI) -> InvoiceDesk:
    """The invoice service over the app's connections (per request, and for the auto-issuer)."""
    state = app.state
    return InvoiceDesk(InvoicingRepository(state.clickhouse), Ledger(state.postgres), state.settings,
                       state.pipeline, state.clock, parties_of(app))


def parties_of(app: FastAPI) -> Parties:
    """The agency profile and client billing details over the app's PostgreSQL pool."""
    return Parties(PartyStore(app.state.postgres), app.state.settings, app.state.clock)


def exports_of(app: FastAPI) -> AccountingExports:
    """The accounting exports over the app's PostgreSQL pool."""
    state = app.state
    return AccountingExports(Ledger(state.postgres), MappingStore(state.postgres), parties_of(app), state.clock)


def retry_policy(settings: InvoicingSettings) -> RetryPolicy:
    return RetryPolicy(base_seconds=settings.webhook_retry_base_seconds, cap_seconds=settings.webhook_retry_cap_seconds,
                       give_up_seconds=settings.webhook_give_up_hours * 3600,
                       timeout_seconds=settings.webhook_timeout_seconds)


def create_app(
    settings: InvoicingSettings | None = None,
    *,
    clock: Callable[[], datetime] = utc_now,
    pipeline: Pipeline | None = None,
) -> FastAPI:
    """A new app; the key ring is parsed now so a bad ``TOKENTALLY_API_KEYS`` fails at start-up.

    ``clock`` is the one source of "now" (tests pass a fixed one); ``pipeline`` is how an
    issue waits for ingest to be counted (Kafka's committed offsets by default).
    """
    settings = settings if settings is not None else get_settings()
    keyring = KeyRing.from_json(settings.auth.api_keys.get_secret_value())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database_url = settings.database.url.get_secret_value()
        await ensure_schema(settings.clickhouse)
        await upgrade(database_url)  # Alembic migrations, to head
        app.state.clickhouse = await connect(settings.clickhouse)
        app.state.postgres = await connect_pool(database_url, settings.database.pool_size)
        app.state.auto_issuer = AutoIssuer(lambda: desk_of(app), settings.auto_issue_every_seconds)
        if settings.auto_issue:
            app.state.auto_issuer.start()
        app.state.dispatcher = Dispatcher(app.state.postgres, retry_policy(settings),
                                          poll_seconds=settings.webhook_poll_seconds)
        if settings.webhooks:
            app.state.dispatcher.start()
        app.state.publisher = Publisher(app.state.postgres, settings.kafka, poll_seconds=settings.webhook_poll_seconds)
        if settings.kafka_events:
            app.state.publisher.start()
        try:
            yield
        finally:
            await app.state.publisher.stop()
            await app.state.dispatcher.stop()
            await app.state.auto_issuer.stop()
            await app.state.postgres.close()
            await app.state.clickhouse.close()

    app = FastAPI(title="TokenTally invoicing", version="1", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description=DESCRIPTION, openapi_tags=TAGS, dependencies=[Depends(refuse_unstorable_text)])
    serve_docs_offline(app)
    app.state.settings = settings
    app.state.keyring = keyring  # read by libs.common.api.current_principal
    app.state.clock = clock
    app.state.document_amounts = {}  # issued documents' per-month amounts by number (bodies never change)
    app.state.pipeline = pipeline if pipeline is not None else KafkaPipeline(settings.kafka, settings.pipeline)
    install_error_handlers(app)
    document_storable_text(app)
    app.add_middleware(IdempotencyMiddleware)  # Idempotency-Key on every write
    document_idempotency(app)
    app.include_router(agency.router)
    app.include_router(clients.router)
    app.include_router(billing.router)
    app.include_router(invoices.router)
    app.include_router(exports.router)
    app.include_router(usage.router)
    app.include_router(webhooks.router)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process serves requests (ClickHouse trouble shows as 503 on real calls)."""
        return {"status": "ok"}

    return app
