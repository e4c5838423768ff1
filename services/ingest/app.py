"""Wiring of the ingest API."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from libs.common.api import install_error_handlers
from libs.common.auth import KeyRing
from libs.common.docs import serve_docs_offline
from libs.common.errors import TokenTallyError
from libs.common.kafka import ensure_topics
from libs.common.metrics import mount_metrics
from services.ingest.api import events, traces
from services.ingest.api.events import PayloadTooLarge
from services.ingest.api.openapi import document_request_bodies
from services.ingest.bodies import UnsupportedMediaType
from services.ingest.otlp_decoding import DecompressedTooLarge
from services.ingest.publisher import StreamRefused, UsagePublisher
from services.ingest.service import IngestService
from services.ingest.settings import IngestSettings, get_settings

log = logging.getLogger(__name__)


def create_app(settings: IngestSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    publisher = UsagePublisher(settings.kafka, "tokentally-ingest", settings.publish_timeout_seconds)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            await ensure_topics(settings.kafka)
            await publisher.start()
        except Exception as exc:  # noqa: BLE001 - serve anyway; requests get 503 until Kafka is back
            log.warning("Kafka unavailable at start-up (%r); answering 503 until it is back", exc)
        try:
            yield
        finally:
            await publisher.stop()

    app = FastAPI(title="TokenTally ingest", version="1", lifespan=lifespan, docs_url=None, redoc_url=None)
    serve_docs_offline(app)
    app.state.settings = settings
    app.state.publisher = publisher
    app.state.ingest = IngestService(publisher, settings)
    app.state.keyring = KeyRing.from_json(settings.auth.api_keys.get_secret_value())
    install_error_handlers(app)

    @app.exception_handler(PayloadTooLarge)
    async def _too_large(_: Request, exc: TokenTallyError) -> JSONResponse:
        return JSONResponse({"error": "payload_too_large", "detail": exc.message}, status_code=413)

    @app.exception_handler(DecompressedTooLarge)
    async def _inflated(_: Request, exc: TokenTallyError) -> JSONResponse:
        return JSONResponse({"error": "payload_too_large", "detail": exc.message}, status_code=413)

    @app.exception_handler(UnsupportedMediaType)
    async def _media(_: Request, exc: TokenTallyError) -> JSONResponse:
        return JSONResponse({"error": "unsupported_media_type", "detail": exc.message}, status_code=415)

    @app.exception_handler(StreamRefused)
    async def _refused(_: Request, exc: TokenTallyError) -> JSONResponse:
        return JSONResponse({"error": "internal_error", "detail": exc.message}, status_code=500)

    app.include_router(events.router)
    app.include_router(traces.router)
    document_request_bodies(app)
    mount_metrics(app)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
