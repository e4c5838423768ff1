"""``GET /v1/clients/{client_id}/alerts``: what was sent for a client, newest first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from libs.common.api import ClientIdPath, CurrentPrincipal, require_client_read
from libs.common.errors import InvalidInput
from libs.common.periods import PERIOD_PATTERN
from services.alerts.domain import Period
from services.alerts.schemas import AlertDelivery
from services.alerts.store import AlertStore

router = APIRouter(prefix="/v1/clients", tags=["alerts"])


def _readable_client_id(
    caller: CurrentPrincipal,
    client_id: ClientIdPath,
) -> str:
    """Checked before anything else in the request: admin, or that client's own key."""
    require_client_read(caller, client_id)
    return client_id


def _store(request: Request) -> AlertStore:
    return request.app.state.runtime.store  # type: ignore[no-any-return]


@router.get("/{client_id}/alerts", response_model=list[AlertDelivery])
async def list_alerts(
    client_id: Annotated[str, Depends(_readable_client_id)],
    store: Annotated[AlertStore, Depends(_store)],
    period: Annotated[str | None, Query(description="Only this month, `YYYY-MM`.", json_schema_extra={"pattern": PERIOD_PATTERN})] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[AlertDelivery]:
    """Alerts decided for the client (admin, or that client's key): time, kind, threshold,
    channel (masked), delivery status, attempts and last error. Channels are always masked:
    the alerts service stores no notification secrets."""
    try:
        wanted = Period.parse(period) if period is not None else None
    except ValueError as exc:
        raise InvalidInput(str(exc), detail=[{"field": "period", "message": str(exc)}]) from exc
    return [AlertDelivery.of(record) for record in await store.client_alerts(client_id, wanted, limit)]
