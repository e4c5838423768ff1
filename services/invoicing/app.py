"""The invoicing API: wiring and lifespan only (logic in ``service``, queries in ``repository``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from libs.common.api import install_error_handlers
from libs.common.auth import KeyRing
from libs.common.clickhouse import connect, ensure_schema
from services.invoicing.api import clients, invoices, usage
from services.invoicing.settings import InvoicingSettings, get_settings

__all__ = ["create_app"]


def create_app(settings: InvoicingSettings | None = None) -> FastAPI:
    """A new app; the key ring is parsed now so a bad ``TOKENTALLY_API_KEYS`` fails at start-up."""
    settings = settings if settings is not None else get_settings()
    keyring = KeyRing.from_json(settings.auth.api_keys.get_secret_value())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await ensure_schema(settings.clickhouse)
        app.state.clickhouse = await connect(settings.clickhouse)
        try:
            yield
        finally:
            await app.state.clickhouse.close()

    app = FastAPI(title="TokenTally invoicing", version="1", lifespan=lifespan)
    app.state.settings = settings
    app.state.keyring = keyring  # read by libs.common.api.current_principal
    install_error_handlers(app)
    app.include_router(clients.router)
    app.include_router(invoices.router)
    app.include_router(usage.router)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process serves requests (ClickHouse trouble shows as 503 on real calls)."""
        return {"status": "ok"}

    return app
