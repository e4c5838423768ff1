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
    # Last month's status comes from the ledger and the records' creation times, not from a
    # second every-client totals call (the slowest call the page makes; see BENCHMARKS.md).
    summaries, clients, counts, issued = await asyncio.gather(
        backend.summaries(str(period)), backend.clients(), _or_none(backend.alert_counts(str(period))),
        _or_none(backend.documents(str(period.previous()))))
    model = build_overview(period=period, now=at, summaries=summaries, clients=clients, alert_counts=counts,
                           issued=issued or [], sort=sort if sort in SORT_KEYS else "billed",
                           descending=dir != "asc")
    return templates(request).TemplateResponse(request, "overview.html", {
        "o": model, "csrf": session.csrf, "signed_in": True, "month": str(period), "page": "overview"})
