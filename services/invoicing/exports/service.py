"""Accounting exports as the API serves them: the agency's mapping per system, and a month's import file.

Which documents a file carries, by ``basis``:

- ``issued`` (the default): every invoice and credit note *issued* in the month (UTC), so
  each document is in exactly one month's file and its ``InvoiceDate`` falls in that
  month, as an accounting period expects. A credit note issued in May for March, or a
  replacement for a voided invoice, is in May's file, not in a March file already imported.
- ``service``: the documents *for* the month's usage (``period`` on the invoice; a credit
  note's is the month it credits), as ``GET /v1/invoices?period=`` lists them.

Issued and paid documents are written (the file carries no status, so paying an invoice
does not change it); void ones are left out, since neither import can create a voided
invoice. A file is a pure function of the documents, their frozen JSON and the mapping:
the same month exported twice is the same bytes unless a document was voided or the
mapping changed in between.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from libs.common.periods import Period
from services.invoicing.exports.mapping import (
    AccountingMapping,
    AccountingMappingOut,
    AccountingSystem,
    default_mapping,
)
from services.invoicing.exports.store import MappingStore
from services.invoicing.ledger import Ledger, StoredDocument
from services.invoicing.parties import AgencyProfile
from services.invoicing.profiles import Parties

__all__ = ["AccountingExports", "ExportBasis", "ExportFile", "FileKind", "export_bytes"]

ExportBasis = Literal["issued", "service"]
#: ``invoices``: Xero's file carries credit notes too (negative); QuickBooks' carries invoices only and
#: ``credit_notes`` its credit notes (positive), as its imports take them.
FileKind = Literal["invoices", "credit_notes"]


@dataclass(frozen=True, slots=True)
class ExportFile:
    filename: str
    body: bytes


def export_bytes(
    system: AccountingSystem, kind: FileKind, stored: Sequence[StoredDocument], agencies: Mapping[str, AgencyProfile],
    mapping: AccountingMapping,
) -> bytes:
    """The import file of ``stored`` (void ones left out), each document with the agency profile it was
    issued under (``agencies`` by number). CPU only: the caller runs it off the event loop."""
    # Imported here: the document model pulls in WeasyPrint, seconds of start-up otherwise.
    from services.invoicing.exports.issued import document_of
    from services.invoicing.exports.quickbooks import quickbooks_credit_notes_csv, quickbooks_invoices_csv
    from services.invoicing.exports.xero import xero_invoices_csv

    if system == "xero":
        write = xero_invoices_csv  # credit notes in the same file, negative
        wanted = {"invoice", "credit_note"}
    elif kind == "invoices":
        write, wanted = quickbooks_invoices_csv, {"invoice"}
    else:
        write, wanted = quickbooks_credit_notes_csv, {"credit_note"}
    documents = [document_of(d, agencies[d.number]) for d in stored if d.status != "void" and d.kind in wanted]
    return write(documents, mapping)


class AccountingExports:
    """Mappings over PostgreSQL, and files from the ledger.

    Everything a file shows comes from what was frozen at issue (the invoice JSON with its billing
    details and tax, the agency profile snapshot) plus the mapping: a later ``PUT /v1/agency`` or
    client billing change does not change a file of documents already issued.
    """

    def __init__(self, ledger: Ledger, mappings: MappingStore, parties: Parties,
                 clock: Callable[[], datetime]) -> None:
        self.ledger = ledger
        self.mappings = mappings
        self.parties = parties
        self.clock = clock

    async def mapping_in_use(self, system: AccountingSystem) -> AccountingMapping:
        stored = await self.mappings.get(system)
        return stored[0] if stored is not None else default_mapping(system)

    async def mapping(self, system: AccountingSystem) -> AccountingMappingOut:
        """The mapping the next file uses: the one PUT, else the defaults (``source: default``)."""
        stored = await self.mappings.get(system)
        if stored is None:
            return AccountingMappingOut(**_fields(default_mapping(system)), system=system, source="default")
        return AccountingMappingOut(**_fields(stored[0]), system=system, source="api", updated_at=stored[1])

    async def set_mapping(self, system: AccountingSystem, mapping: AccountingMapping) -> AccountingMappingOut:
        """Replace the mapping whole; files exported from now on use it."""
        at = self.clock()
        await self.mappings.save(system, mapping, at)
        return AccountingMappingOut(**_fields(mapping), system=system, source="api", updated_at=at)

    async def export_file(
        self, system: AccountingSystem, kind: FileKind, period: Period, basis: ExportBasis
    ) -> ExportFile:
        """The month's issued invoices (and, for Xero, credit notes) or QuickBooks credit notes as an import file."""
        if basis == "issued":
            found = self.ledger.issued_between(period.start, period.end)
        else:
            found = self.ledger.listing(period=str(period))
        stored, mapping = await asyncio.gather(found, self.mapping_in_use(system))
        agencies = await self.parties.issued_agencies(stored)
        body = await asyncio.to_thread(export_bytes, system, kind, stored, agencies, mapping)
        suffix = "" if basis == "issued" else "-service"
        return ExportFile(filename=f"{system}-{kind.replace('_', '-')}-{period}{suffix}.csv", body=body)


def _fields(mapping: AccountingMapping) -> dict[str, object]:
    """The mapping's fields as they are (not dumped: nested models stay models)."""
    return {name: getattr(mapping, name) for name in AccountingMapping.model_fields}
