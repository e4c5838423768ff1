"""The overview: this month per client, sortable, with totals and a month picker."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from services.dashboard.backend import BackendUnavailable
from services.dashboard.deps import AdminSession, BackendDep, month_or_current, now, templates
from services.dashboard.views import SORT_KEYS, build_overview

router = APIRouter(include_in_schema=False)


async def _or_none(call: Any) -> Any:
    """An optional figure: the page still renders when that service is away."""
    try:
        return await call
    except BackendUnavailable:
        return None


@router.get("/", response_class=HTMLResponse)
async def overview(
    request: Request, session: AdminSession, backend: BackendDep,
    month: str | None = None, sort: str = "billed", dir: str = "desc",
) -> Response:
    at = now()
    period = month_or_current(month, at)
    # Two calls: invoicing's every-client month (figures as on each invoice, last month's status,
    # budgets; one grouped read, no invoice built) and the alerts sent (see BENCHMARKS.md).
    totals, counts = await asyncio.gather(backend.month_totals(str(period)),
                                          _or_none(backend.alert_counts(str(period))))
    model = build_overview(period=period, now=at, totals=totals, alert_counts=counts,
                           sort=sort if sort in SORT_KEYS else "billed", descending=dir != "asc")
    return templates(request).TemplateResponse(request, "overview.html", {
        "o": model, "csrf": session.csrf, "signed_in": True, "month": str(period), "page": "overview"})
