"""Webhook endpoints (admin): register, list, delete; each endpoint's deliveries and attempts."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from services.invoicing.api.deps import AdminCaller
from services.invoicing.webhooks.schemas import AttemptOut, DeliveryOut, EndpointCreate, EndpointCreated, EndpointOut
from services.invoicing.webhooks.store import WebhookStore

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])


def _store(request: Request) -> WebhookStore:
    return WebhookStore(request.app.state.postgres)


Store = Annotated[WebhookStore, Depends(_store)]
Limit = Annotated[int, Query(ge=1, le=1000)]


@router.post("/endpoints", response_model=EndpointCreated, status_code=201)
async def create_endpoint(body: EndpointCreate, _: AdminCaller, store: Store) -> EndpointCreated:
    """Register a receiver (admin). The answer holds the signing secret, the only time it is shown.

    Events (``invoice.issued``, ``invoice.paid``, ``invoice.voided``, ``credit_note.issued``, …)
    written from now on are POSTed to ``url``, signed per Standard Webhooks (``webhook-id``,
    ``webhook-timestamp``, ``webhook-signature``), retried with backoff until a 2xx.
    """
    endpoint, secret = await store.create(body.url, list(body.event_types), body.description)
    return EndpointCreated(**asdict(endpoint), secret=secret)


@router.get("/endpoints", response_model=list[EndpointOut])
async def list_endpoints(_: AdminCaller, store: Store) -> list[EndpointOut]:
    """Registered receivers (admin), without their secrets."""
    return [EndpointOut(**asdict(endpoint)) for endpoint in await store.endpoints()]


@router.delete("/endpoints/{endpoint_id}", status_code=204)
async def delete_endpoint(endpoint_id: str, _: AdminCaller, store: Store) -> Response:
    """Stop sending to a receiver (admin); deliveries not yet made are cancelled, the history is kept."""
    await store.delete(endpoint_id)
    return Response(status_code=204)


@router.get("/endpoints/{endpoint_id}/deliveries", response_model=list[DeliveryOut])
async def list_deliveries(
    endpoint_id: str, _: AdminCaller, store: Store,
    status: Annotated[Literal["pending", "delivered", "failed", "cancelled"] | None, Query()] = None,
    limit: Limit = 100,
) -> list[DeliveryOut]:
    """One per event sent to the receiver (admin), newest first: status, attempts, next try."""
    return [DeliveryOut(**asdict(d)) for d in await store.deliveries(endpoint_id, status, limit)]


@router.get("/endpoints/{endpoint_id}/attempts", response_model=list[AttemptOut])
async def list_attempts(
    endpoint_id: str, _: AdminCaller, store: Store,
    event_id: Annotated[str | None, Query(description="Only this event's (`webhook-id`) attempts.")] = None,
    limit: Limit = 100,
) -> list[AttemptOut]:
    """Every attempt at the receiver (admin), newest first: when, HTTP status or error, time taken, answer."""
    return [AttemptOut(**asdict(a)) for a in await store.attempts(endpoint_id, event_id, limit)]
