"""A client's billing details and tax rate: who its invoices are to."""

from __future__ import annotations

from fastapi import APIRouter

from services.invoicing.api.deps import AdminCaller, ClientIdPath, PartiesService, ReadableClientId
from services.invoicing.parties import ClientBilling

router = APIRouter(prefix="/v1/clients", tags=["clients"])


@router.put("/{client_id}/billing", response_model=ClientBilling)
async def put_billing(
    client_id: ClientIdPath, _: AdminCaller, body: ClientBilling, parties: PartiesService
) -> ClientBilling:
    """Replace the client's billing details (admin): billing name, address, email, tax id, PO number,
    and `tax_percent` (VAT / sales tax added after the markup, rounded half-up to cents; null: no tax).

    Drafts show the change at once; issued invoices keep the details and tax they were issued with.
    """
    return await parties.set_billing(client_id, body)


@router.get("/{client_id}/billing", response_model=ClientBilling)
async def get_billing(client_id: ReadableClientId, parties: PartiesService) -> ClientBilling:
    """The client's billing details (admin, or that client's own key); the defaults when none were set."""
    return await parties.billing(client_id)
