"""Usage reports: what a client used, per day and model, before markup (``/v1/clients/{id}/usage``)."""

from __future__ import annotations

from fastapi import APIRouter

from services.invoicing.api.deps import AdminCaller, PeriodPath, ReadableClientId, Repository
from services.invoicing.schemas import DailyUsage, ModelInUse

router = APIRouter(tags=["usage"])


@router.get("/v1/clients/{client_id}/usage/{period}", response_model=list[DailyUsage])
async def daily_usage(client_id: ReadableClientId, period: PeriodPath, repository: Repository) -> list[DailyUsage]:
    """Usage per UTC day and model for a month (admin, or that client's own key), read from the daily totals."""
    return await repository.daily_usage(client_id, period)


@router.get("/v1/usage/{period}/models", response_model=list[ModelInUse])
async def models_in_use(_: AdminCaller, period: PeriodPath, repository: Repository) -> list[ModelInUse]:
    """Every model billed in a month with the price row it was billed at, across clients (admin)."""
    return await repository.models_in_use(period)
