"""Price overrides and "what applies when" (``/v1/prices``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, status

from libs.common.api import CurrentPrincipal, require_admin
from services.pricing.dependencies import Runtime
from services.pricing.overrides import PriceOverride, PriceOverrideCreate
from services.pricing.price_book import PriceExplanation

router = APIRouter(prefix="/v1/prices", tags=["prices"])


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_override(body: PriceOverrideCreate, runtime: Runtime, principal: CurrentPrincipal) -> PriceOverride:
    """Store an override; it prices new events at once and re-drives quarantined ones."""
    require_admin(principal)
    override = PriceOverride.from_create(body)
    assert runtime.overrides is not None
    await runtime.overrides.add(override)
    runtime.service.book = runtime.service.book.with_override(override)
    runtime.redrive_soon()
    return override


@router.get("")
async def list_overrides(runtime: Runtime, principal: CurrentPrincipal) -> list[PriceOverride]:
    require_admin(principal)
    return list(runtime.service.book.overrides)


@router.get("/{provider}/{model:path}")
async def explain_price(
    provider: str,
    model: str,
    runtime: Runtime,
    principal: CurrentPrincipal,
    at: Annotated[datetime | None, Query(description="RFC 3339 time; default now")] = None,
) -> PriceExplanation:
    """The price that applies to a model at a time, and why."""
    del principal  # any valid key may ask
    when = at or datetime.now(UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return runtime.service.book.explain(provider.strip().lower(), model.strip(), when)
