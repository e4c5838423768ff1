"""``GET /v1/alerts/{period}/counts``: alerts sent per client in a month (admin; the dashboard's overview)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel

from libs.common.api import CurrentPrincipal, require_admin
from libs.common.errors import InvalidInput
from libs.common.periods import PERIOD_PATTERN
from services.alerts.domain import Period
from services.alerts.store import AlertStore

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])


class AlertCount(BaseModel):
    client_id: str
    sent: int
    """Alerts (a threshold or the forecast) delivered to at least one channel."""


def _store(request: Request) -> AlertStore:
    return request.app.state.runtime.store  # type: ignore[no-any-return]


@router.get("/{period}/counts", response_model=list[AlertCount])
async def sent_counts(
    caller: CurrentPrincipal,
    period: Annotated[str, Path(description="A calendar month in UTC, `YYYY-MM`.", json_schema_extra={"pattern": PERIOD_PATTERN})],
    store: Annotated[AlertStore, Depends(_store)],
) -> list[AlertCount]:
    """Every client with alerts in the month, and how many were sent (admin)."""
    require_admin(caller)
    try:
        wanted = Period.parse(period)
    except ValueError as exc:
        raise InvalidInput(str(exc), detail=[{"field": "period", "message": str(exc)}]) from exc
    return [AlertCount(client_id=c, sent=n) for c, n in (await store.sent_counts(wanted)).items()]
