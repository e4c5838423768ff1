"""Who invoices are from and to, as the API sets them: the agency profile and client billing details.

Defaults: until an admin PUTs ``/v1/agency``, the profile is the deployment's settings
(``INVOICING_AGENCY_NAME``, ``INVOICING_INVOICE_PREFIX``, ``INVOICING_PAYMENT_TERMS_DAYS``)
and nothing else. Once one is PUT, it is the profile, whole; the settings then only
fill ``invoice_prefix`` and ``payment_terms_days`` when a PUT leaves them out. A client
without billing details is billed under its name, with no address and no tax.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from services.invoicing.amounts import trim
from services.invoicing.ledger import StoredDocument
from services.invoicing.parties import AgencyProfile, AgencyProfileOut, AgencyProfileUpdate, ClientBilling
from services.invoicing.party_store import PartyStore
from services.invoicing.settings import InvoicingSettings

__all__ = ["Parties", "resolve_agency", "settings_agency"]


def settings_agency(settings: InvoicingSettings) -> AgencyProfile:
    """The profile before any is set, and the one documents issued before profiles existed render with."""
    return AgencyProfile(name=settings.agency_name, invoice_prefix=settings.invoice_prefix,
                         payment_terms_days=settings.payment_terms_days)


def resolve_agency(update: AgencyProfileUpdate, settings: InvoicingSettings) -> AgencyProfile:
    """The profile a PUT sets: what it says, with the settings' prefix and terms where it says nothing."""
    fields = update.model_dump()
    if update.invoice_prefix is None:
        fields["invoice_prefix"] = settings.invoice_prefix
    if update.payment_terms_days is None:
        fields["payment_terms_days"] = settings.payment_terms_days
    return AgencyProfile.model_validate(fields)


class Parties:
    """The agency profile and client billing details over PostgreSQL."""

    def __init__(self, store: PartyStore, settings: InvoicingSettings, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock

    async def agency_profile(self) -> AgencyProfile:
        """The profile a document issued now is issued under."""
        stored = await self.store.agency()
        return stored[0] if stored is not None else settings_agency(self.settings)

    async def issued_agencies(self, documents: Sequence[StoredDocument]) -> dict[str, AgencyProfile]:
        """Each stored document's frozen agency profile, by number (one query for them all); the
        settings' profile for documents issued before profiles existed."""
        snapshots = await self.store.snapshots(d.agency_snapshot for d in documents if d.agency_snapshot is not None)
        return {d.number: settings_agency(self.settings) if d.agency_snapshot is None else snapshots[d.agency_snapshot]
                for d in documents}

    async def agency(self) -> AgencyProfileOut:
        stored = await self.store.agency()
        if stored is None:
            return AgencyProfileOut(**settings_agency(self.settings).model_dump(), source="settings")
        return AgencyProfileOut(**stored[0].model_dump(), source="api", updated_at=stored[1])

    async def set_agency(self, update: AgencyProfileUpdate) -> AgencyProfileOut:
        """Replace the profile; documents already issued keep the one they were issued under."""
        profile = resolve_agency(update, self.settings)
        at = self.clock()
        await self.store.save_agency(profile, at)
        return AgencyProfileOut(**profile.model_dump(), source="api", updated_at=at)

    async def billing(self, client_id: str) -> ClientBilling:
        """The client's billing details; the defaults (no address, no tax) when none were set."""
        return await self.store.billing(client_id) or ClientBilling()

    async def set_billing(self, client_id: str, billing: ClientBilling) -> ClientBilling:
        """Replace the client's billing details; its issued invoices keep those they were issued with."""
        await self.store.save_billing(client_id, billing, self.clock())
        if billing.tax_percent is None:
            return billing
        return billing.model_copy(update={"tax_percent": trim(billing.tax_percent)})  # 20.00 reads back as 20
