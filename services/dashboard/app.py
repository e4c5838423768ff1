"""The dashboard app: wiring and lifespan only (pages in ``api/``, logic in ``views``)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from libs.common.auth import KeyRing
from services.dashboard import formatting
from services.dashboard.api import auth, clients, documents, margins, overview, portal, prices, whatif
from services.dashboard.backend import Backend, BackendUnavailable, UpstreamTimings, upstream_timings
from services.dashboard.deps import Forbidden, NotSignedIn, PageError
from services.dashboard.sessions import PortalLinks, Sessions
from services.dashboard.settings import DashboardSettings, get_settings
from services.dashboard.views import invoice_label

__all__ = ["create_app"]

HERE = Path(__file__).parent

# No script or style from anywhere else, no framing, and no Referer leaving the site: a
# portal link carries its token in the path.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none';"
                               " form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def templates() -> Jinja2Templates:
    engine = Jinja2Templates(directory=HERE / "templates")
    engine.env.filters.update(money=formatting.money, percent=formatting.percent, number=formatting.number,
                              per_mtok=formatting.per_mtok, month_label=formatting.month_label)
    engine.env.globals.update(invoice_label=invoice_label)
    return engine


def create_app(settings: DashboardSettings | None = None) -> FastAPI:
    settings = settings if settings is not None else get_settings()
    keyring = KeyRing.from_json(settings.auth.api_keys.get_secret_value())
    secret = settings.secret_key.get_secret_value()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with httpx.AsyncClient(timeout=settings.timeout_seconds,
                                     limits=httpx.Limits(max_connections=50)) as http:
            app.state.backend = Backend(
                http, invoicing=settings.invoicing_url, alerts=settings.alerts_url, pricing=settings.pricing_url,
                key=settings.api_key.get_secret_value())
            yield

    app = FastAPI(title="TokenTally dashboard", version="1", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.settings = settings
    app.state.keyring = keyring
    app.state.sessions = Sessions(secret, settings.session_hours * 3600)
    app.state.portal_links = PortalLinks(secret, settings.portal_days * 86_400)
    app.state.templates = templates()
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for router in (auth.router, overview.router, clients.router, documents.router, portal.router, margins.router,
                   whatif.router, prices.router):
        app.include_router(router)

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        timings = UpstreamTimings()
        token = upstream_timings.set(timings)
        try:
            response = await call_next(request)
        finally:
            upstream_timings.reset(token)
        # How long the page took on the server (``app``: backend calls and rendering) and each
        # call to another service (``invoicing-month-totals`` …), for browsers' dev tools and
        # bench/dashboard.py.
        response.headers["Server-Timing"] = ", ".join(
            [f"app;dur={(time.perf_counter() - started) * 1000:.1f}", *timings.header_entries()])
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.exception_handler(NotSignedIn)
    async def _sign_in_first(request: Request, exc: NotSignedIn) -> Response:
        if request.method == "GET":
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
        return HTMLResponse("Sign in first.", status_code=401)

    def _error_page(request: Request, status: int, title: str, message: str) -> Response:
        return app.state.templates.TemplateResponse(
            request, "error.html", {"title": title, "message": message, "signed_in": False}, status_code=status)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> Response:
        return _error_page(request, 403, "Not allowed", str(exc))

    @app.exception_handler(PageError)
    async def _page_error(request: Request, exc: PageError) -> Response:
        return _error_page(request, exc.status, exc.title, exc.message)

    @app.exception_handler(BackendUnavailable)
    async def _backend(request: Request, exc: BackendUnavailable) -> Response:
        return _error_page(request, 503, f"The {exc.service} service did not answer",
                           f"{exc.detail}. Try again in a moment; nothing was changed.")

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
