"""Prices: overrides in force, the price each model in use is billed at (and the catalog's), and
the unpriced quarantine with a re-drive button."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from libs.common.periods import Period
from services.dashboard.backend import Backend
from services.dashboard.deps import AdminSession, BackendDep, CsrfChecked, now, templates

router = APIRouter(include_in_schema=False)


async def _explained(backend: Backend, models: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    pairs = sorted({(m["provider"], m["model"]) for m in models})
    answers = await asyncio.gather(*(backend.explain_price(p, m) for p, m in pairs))
    return {pair: answer or {} for pair, answer in zip(pairs, answers, strict=True)}


@router.get("/prices", response_class=HTMLResponse)
async def prices(request: Request, session: AdminSession, backend: BackendDep, redriven: int | None = None) -> Response:
    at = now()
    period = Period.of(at)
    overrides, models, unpriced = await asyncio.gather(
        backend.overrides(), backend.models_in_use(str(period)), backend.unpriced(limit=200))
    explained = await _explained(backend, models)
    in_force = [o for o in overrides if o.get("effective_to") is None or o["effective_to"] > at.isoformat()]
    return templates(request).TemplateResponse(request, "prices.html", {
        "signed_in": True, "csrf": session.csrf, "page": "prices", "month": str(period), "period": period,
        "overrides": in_force, "all_overrides": len(overrides), "models": models, "explained": explained,
        "unpriced": unpriced, "redriven": redriven,
    })


@router.post("/prices/redrive")
async def redrive(_: CsrfChecked, backend: BackendDep) -> Response:
    repriced = await backend.redrive()
    return RedirectResponse(f"/prices?redriven={repriced}#unpriced", status_code=303)
