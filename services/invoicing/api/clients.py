"""Client billing records: markup, budget, alert thresholds and where alerts go."""

from __future__ import annotations

from fastapi import APIRouter

from libs.common.api import CurrentPrincipal
from libs.common.errors import NotFound
from libs.common.redact import mask_url
from services.invoicing import service
from services.invoicing.api.deps import (
    AdminCaller,
    ClientIdPath,
    Desk,
    Now,
    ReadableClientId,
    Repository,
    Settings,
)
from services.invoicing.ledger import ClientOptions
from services.invoicing.schemas import Client, ClientInvoicing, ClientUpdate

router = APIRouter(prefix="/v1/clients", tags=["clients"])


@router.put("/{client_id}", response_model=Client)
async def put_client(
    client_id: ClientIdPath, _: AdminCaller, body: ClientUpdate, repository: Repository, settings: Settings, now: Now
) -> Client:
    """Create or replace a client's record (admin). Omitted fields take their defaults."""
    existing = await repository.get_client(client_id)
    client = service.client_from_update(client_id, body, existing, settings.billing, now)
    await repository.save_client(client)
    return client


@router.get("/{client_id}", response_model=Client)
async def get_client(client_id: ReadableClientId, repository: Repository, principal: CurrentPrincipal) -> Client:
    """One client's record (admin, or that client's own key, which sees notify URLs masked)."""
    client = await repository.get_client(client_id)
    if client is None:
        raise NotFound(f"no client '{client_id}'")
    if not principal.is_admin:  # apprise URLs hold webhook tokens and mail passwords
        return client.model_copy(update={"notify": [mask_url(url) for url in client.notify]})
    return client


@router.get("", response_model=list[Client])
async def list_clients(_: AdminCaller, repository: Repository) -> list[Client]:
    """Every client's record, by id (admin)."""
    return await repository.list_clients()


@router.put("/{client_id}/invoicing", response_model=ClientInvoicing)
async def put_client_invoicing(
    client_id: ClientIdPath, _: AdminCaller, body: ClientInvoicing, desk: Desk, now: Now
) -> ClientInvoicing:
    """How the client's months are issued (admin): ``auto_issue`` and its own grace period."""
    await desk.ledger.save_client_options(ClientOptions(client_id, body.auto_issue, body.grace_hours), now)
    return body


@router.get("/{client_id}/invoicing", response_model=ClientInvoicing)
async def get_client_invoicing(client_id: ClientIdPath, _: AdminCaller, desk: Desk) -> ClientInvoicing:
    """The client's issuing options (admin); the defaults when none were set."""
    options = await desk.ledger.client_options(client_id)
    return ClientInvoicing() if options is None else ClientInvoicing(auto_issue=options.auto_issue,
                                                                     grace_hours=options.grace_hours)
