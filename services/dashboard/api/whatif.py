"""What-if: "had this client's gpt-4o calls gone to gpt-4o-mini, last month would have cost X"."""

from __future__ import annotations

import asyncio
import re
from decimal import Decimal

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from libs.common.periods import Period
from services.dashboard.analysis import swap_cost
from services.dashboard.api.clients import checked_client_id
from services.dashboard.deps import AdminSession, BackendDep, PageError, month_or_current, now, templates
from services.dashboard.formatting import to_decimal

router = APIRouter(include_in_schema=False)

_MODEL = re.compile(r"^([a-z0-9._-]{1,64})/([A-Za-z0-9._:@/-]{1,200})$")
SUGGESTED = ("openai/gpt-4o", "openai/gpt-4o-mini", "openai/gpt-4.1-mini", "anthropic/claude-3-5-sonnet",
             "anthropic/claude-3-5-haiku", "google/gemini-1.5-pro", "google/gemini-1.5-flash")


def _model(text: str, field: str) -> tuple[str, str]:
    match = _MODEL.match(text.strip())
    if match is None:
        raise PageError(400, "Which model?", f"{field}: write provider/model, e.g. openai/gpt-4o-mini")
    return match[1], match[2]


@router.get("/what-if", response_class=HTMLResponse)
async def what_if(request: Request, session: AdminSession, backend: BackendDep, client: str = "",
                  month: str | None = None, source: str = "", target: str = "") -> Response:
    at = now()
    period = month_or_current(month, at) if month else Period.of(at).previous()
    clients = await backend.clients()
    result = daily = None
    target_missing = False
    if client:
        client_id = checked_client_id(client)
        record, daily = await asyncio.gather(backend.client(client_id), backend.daily_usage(client_id, str(period)))
        if source and target:
            src, dst = _model(source, "source"), _model(target, "target")
            explained = await backend.explain_price(dst[0], dst[1], at=min(at, period.end).isoformat())
            price = (explained or {}).get("price")
            if price is None:
                target_missing = True
            else:
                markup = to_decimal((record or {}).get("markup_percent"), Decimal(0)) or Decimal(0)
                result = swap_cost(daily, src, dst, price, markup)
    used = sorted({f"{r['provider']}/{r['model']}" for r in daily or []})
    return templates(request).TemplateResponse(request, "whatif.html", {
        "signed_in": True, "csrf": session.csrf, "page": "whatif", "month": str(period), "period": period,
        "clients": clients, "client": client, "source": source or (used[0] if used else ""), "target": target,
        "used": used, "suggested": [m for m in SUGGESTED if m not in used], "result": result,
        "target_missing": target_missing,
    })
