"""A client's page: daily spend by model, model mix, the invoice as the client sees it, alert
history, the settings form (validated by the invoicing API) and portal links."""

from __future__ import annotations

import asyncio
import re
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from libs.common.ids import CLIENT_ID_PATTERN
from libs.common.periods import Period
from services.dashboard import views
from services.dashboard.backend import Backend, BackendUnavailable, InvalidUpdate
from services.dashboard.charts import swatch
from services.dashboard.deps import (
    AdminSession,
    BackendDep,
    CsrfChecked,
    PageError,
    month_or_current,
    now,
    portal_links,
    templates,
)
from services.dashboard.sessions import Session

router = APIRouter(include_in_schema=False)

ClientIdPath = Annotated[str, Path()]
_CLIENT_ID = re.compile(CLIENT_ID_PATTERN)


def checked_client_id(client_id: str) -> str:
    if not _CLIENT_ID.match(client_id):
        raise PageError(404, "No such client", "client_id: not a client id (letters, digits and ._:-)")
    return client_id


async def _optional(call: Any, default: Any) -> Any:
    try:
        return await call
    except BackendUnavailable:
        return default


async def render_client_page(
    request: Request, session: Session, backend: Backend, client_id: str, period: Period, *,
    form: dict[str, str] | None = None, errors: dict[str, str] | None = None, saved: bool = False,
    portal_link: str | None = None, status_code: int = 200,
) -> Response:
    at = now()
    client, invoice, daily, alerts = await asyncio.gather(
        backend.client(client_id), backend.invoice(client_id, str(period)), backend.daily_usage(client_id, str(period)),
        _optional(backend.alerts(client_id), None))
    if client is None and invoice is None:
        raise PageError(404, "No such client", f"There is no client '{client_id}' with a record or usage.")
    cost = views.to_decimal((invoice or {}).get("base_cost"), views._ZERO) or views._ZERO
    billed = views.billed_before_tax(invoice)
    picture = views.usage_picture(daily, period, at, title=f"Daily spend at cost by model, {period.label}")
    record = client or {}
    values = form if form is not None else {
        "name": record.get("name", ""),
        "markup_percent": str(record.get("markup_percent") or ""),
        "monthly_budget": str(record.get("monthly_budget") or ""),
        "alert_thresholds": views.thresholds_text(record.get("alert_thresholds", [])),
        "notify": "\n".join(record.get("notify", [])),
        "budget_basis": views.basis_of(client) if client else "billed",
    }
    return templates(request).TemplateResponse(request, "client.html", {
        "signed_in": True, "csrf": session.csrf, "page": "client", "month": str(period), "period": period,
        "client_id": client_id, "client": client, "invoice": invoice, "picture": picture, "swatch": swatch,
        "budget": views.budget_status(client, cost, billed, period, at), "alerts": alerts, "billed": billed,
        "form": values, "errors": errors or {}, "saved": saved, "portal_link": portal_link,
        "portal_days": request.app.state.settings.portal_days,
    }, status_code=status_code)


@router.get("/clients/{client_id}", response_class=HTMLResponse)
async def client_page(request: Request, client_id: ClientIdPath, session: AdminSession, backend: BackendDep,
                      month: str | None = None, saved: bool = False) -> Response:
    period = month_or_current(month, now())
    return await render_client_page(request, session, backend, checked_client_id(client_id), period, saved=saved)


@router.post("/clients/{client_id}/settings")
async def save_settings(
    request: Request, client_id: ClientIdPath, session: CsrfChecked, backend: BackendDep,
    name: Annotated[str, Form()] = "", markup_percent: Annotated[str, Form()] = "",
    monthly_budget: Annotated[str, Form()] = "", alert_thresholds: Annotated[str, Form()] = "",
    notify: Annotated[str, Form()] = "", budget_basis: Annotated[str, Form()] = "",
    month: Annotated[str, Form()] = "",
) -> Response:
    client_id = checked_client_id(client_id)
    period = month_or_current(month or None, now())
    form = {"name": name, "markup_percent": markup_percent, "monthly_budget": monthly_budget,
            "alert_thresholds": alert_thresholds, "notify": notify}
    if budget_basis:
        form["budget_basis"] = budget_basis
    existing = await backend.client(client_id)
    try:
        await backend.put_client(client_id, views.settings_body(form, existing))
    except InvalidUpdate as exc:
        return await render_client_page(request, session, backend, client_id, period, form=form,
                                        errors=views.form_errors(exc.fields), status_code=422)
    return RedirectResponse(f"/clients/{client_id}?month={period}&saved=1#settings", status_code=303)


@router.post("/clients/{client_id}/portal-link")
async def create_portal_link(request: Request, client_id: ClientIdPath, session: CsrfChecked,
                             backend: BackendDep, month: Annotated[str, Form()] = "") -> Response:
    client_id = checked_client_id(client_id)
    period = month_or_current(month or None, now())
    token = portal_links(request).token(client_id)
    link = str(request.url_for("portal", token=token))
    return await render_client_page(request, session, backend, client_id, period, portal_link=link)
