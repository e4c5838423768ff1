"""Quarantined events: those no price covered when they arrived (``/v1/unpriced``)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from libs.common.api import CurrentPrincipal, require_admin
from services.pricing.dependencies import Admin
from services.pricing.repository import QuarantinedEvent

router = APIRouter(prefix="/v1/unpriced", tags=["unpriced"])


class RedriveResult(BaseModel):
    repriced: int


@router.get("")
async def list_unpriced(
    admin: Admin,
    principal: CurrentPrincipal,
    client_id: str | None = None,
    status: Literal["pending", "repriced"] = "pending",
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[QuarantinedEvent]:
    require_admin(principal)
    return await admin.list_unpriced(status, client_id, limit)


@router.post("/redrive")
async def redrive_now(admin: Admin, principal: CurrentPrincipal) -> RedriveResult:
    """Reload overrides and price every quarantined event that now has a price."""
    require_admin(principal)
    return RedriveResult(repriced=await admin.reload_and_redrive())
