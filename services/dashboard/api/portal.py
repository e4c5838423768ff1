"""The client's read-only portal, opened by a signed, expiring link (see ``sessions.py``).

It shows one client only, in the client's own (billed) dollars: usage by model and day,
budget progress and invoices. No agency cost, markup earned or other client appears,
and no admin session is needed or granted.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from services.dashboard import views
from services.dashboard.api.clients import checked_client_id
from services.dashboard.charts import swatch
from services.dashboard.deps import BackendDep, Forbidden, month_or_current, now, portal_links, templates

router = APIRouter(include_in_schema=False)

INVOICE_MONTHS = 3


@router.get("/portal/{token}", response_class=HTMLResponse, name="portal")
async def portal(request: Request, token: str, backend: BackendDep, month: str | None = None) -> Response:
    client_id = portal_links(request).client_id(token)
    if client_id is None:
        raise Forbidden("This portal link is not valid or has expired: ask your account manager for a new one.")
    client_id = checked_client_id(client_id)
    at = now()
    period = month_or_current(month, at)
    months = [period]
    for _ in range(INVOICE_MONTHS - 1):
        months.append(months[-1].previous())
    client, daily, *invoices = await asyncio.gather(
        backend.client(client_id), backend.daily_usage(client_id, str(period)),
        *(backend.invoice(client_id, str(m)) for m in months))
    current = invoices[0]
    if client is None and current is None:
        raise Forbidden("This portal link is for a client that no longer exists.")
    factor = views.billed_factor((current or client or {}).get("markup_percent"))
    picture = views.usage_picture(daily, period, at, factor=factor, title=f"Daily usage by model, {period.label}")
    cost = views.to_decimal((current or {}).get("base_cost"), views._ZERO) or views._ZERO
    billed = views.billed_before_tax(current)
    return templates(request).TemplateResponse(request, "portal.html", {
        "signed_in": False, "client": client or {}, "client_id": client_id, "period": period, "month": str(period),
        "picture": picture, "swatch": swatch, "budget": views.budget_status(client, cost, billed, period, at),
        "invoice": current, "history": [i for i in invoices[1:] if i and (i.get("lines") or i.get("number"))],
        "token": token, "closed": period.is_closed(at),
    })
