"""What the pricing API's handlers depend on: the admin service layer, created in the app's factory."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.pricing.admin import PricingAdmin

__all__ = ["Admin", "PricingAdmin", "get_admin"]


def get_admin(request: Request) -> PricingAdmin:
    return request.app.state.admin  # type: ignore[no-any-return]


Admin = Annotated[PricingAdmin, Depends(get_admin)]
