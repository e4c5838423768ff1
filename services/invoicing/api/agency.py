"""The agency's profile (admin): who the invoices are from."""

from __future__ import annotations

from fastapi import APIRouter

from services.invoicing.api.deps import AdminCaller, PartiesService
from services.invoicing.parties import AgencyProfileOut, AgencyProfileUpdate

router = APIRouter(prefix="/v1/agency", tags=["agency"])


@router.put("", response_model=AgencyProfileOut)
async def put_agency(body: AgencyProfileUpdate, _: AdminCaller, parties: PartiesService) -> AgencyProfileOut:
    """Replace the agency profile (admin): name, address, tax id, logo (a `data:` URI), payment terms,
    bank details, invoice prefix, footer, locale. Omitted fields take their defaults; an omitted
    `invoice_prefix` or `payment_terms_days` keeps the deployment's setting.

    Invoices issued from now on carry this profile; those already issued keep theirs, to the byte.
    """
    return await parties.set_agency(body)


@router.get("", response_model=AgencyProfileOut)
async def get_agency(_: AdminCaller, parties: PartiesService) -> AgencyProfileOut:
    """The profile invoices are issued under (admin); `source: settings` until one is PUT."""
    return await parties.agency()
