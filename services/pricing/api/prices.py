"""Price overrides and "what applies when" (``/v1/prices``).

The agency's prices are confidential from its clients (negotiated rates, notes, future
changes): every route here needs an admin key. A client sees the prices it is billed at
on its own invoice lines, nothing more.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from libs.common.api import CurrentPrincipal, require_admin
from libs.common.limits import Rfc3339Time
from services.pricing.dependencies import Admin
from services.pricing.overrides import PriceOverride, PriceOverrideCreate
from services.pricing.price_book import PriceExplanation

router = APIRouter(prefix="/v1/prices", tags=["prices"])


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_override(body: PriceOverrideCreate, admin: Admin, principal: CurrentPrincipal) -> PriceOverride:
    """Store an override; it prices new events at once and re-drives quarantined ones."""
    require_admin(principal)
    return await admin.add_override(body)


@router.get("")
async def list_overrides(admin: Admin, principal: CurrentPrincipal) -> list[PriceOverride]:
    require_admin(principal)
    return admin.list_overrides()


@router.get("/{provider}/{model:path}")
async def explain_price(
    provider: str,
    model: str,
    admin: Admin,
    principal: CurrentPrincipal,
    at: Annotated[Rfc3339Time | None, Query(description="RFC 3339 time; default now")] = None,
) -> PriceExplanation:
    """The price that applies to a model at a time, and why (admin only: it shows override prices)."""
    require_admin(principal)
    return admin.explain(provider, model, at)
