"""Margins: cost vs markup vs a flat monthly fee typed in, over the last 3–6 months."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from libs.common.periods import Period
from services.dashboard.analysis import build_margins, parse_fee
from services.dashboard.deps import AdminSession, BackendDep, PageError, now, templates

router = APIRouter(include_in_schema=False)


@router.get("/margins", response_class=HTMLResponse)
async def margins(request: Request, session: AdminSession, backend: BackendDep, months: int = 3,
                  fee: str = "") -> Response:
    if not 3 <= months <= 6:
        raise PageError(400, "Choose 3 to 6 months", "months: must be between 3 and 6")
    last = Period.of(now()).previous()  # whole months only
    periods = [last]
    for _ in range(months - 1):
        periods.insert(0, periods[0].previous())
    errors: list[str] = []
    default_fee, error = parse_fee(fee, "fee")
    errors += [error] if error else []
    fees = {}
    for name, value in request.query_params.items():
        if name.startswith("fee.") and value.strip():
            parsed, error = parse_fee(value, name)
            fees[name[4:]] = parsed
            errors += [error] if error else []
    summaries = await asyncio.gather(*(backend.month_totals(str(p)) for p in periods))
    model = build_margins(periods, dict(zip(periods, summaries, strict=True)), fees, default_fee, errors)
    return templates(request).TemplateResponse(request, "margins.html", {
        "signed_in": True, "csrf": session.csrf, "page": "margins", "month": str(Period.of(now())), "m": model,
        "months": months, "fee": fee, "fees": {k: request.query_params.get(f"fee.{k}", "") for k in fees},
    }, status_code=400 if errors else 200)
