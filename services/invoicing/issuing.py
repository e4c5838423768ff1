"""The invoice lifecycle: drafts computed live, issuing (numbered, frozen), paid and void.

- A **draft** is computed from ClickHouse on every read, with adjustment lines for the
  client's earlier months that changed after they were issued (``adjustments``).
- **Issuing** waits for the pipeline to catch up to the cutoff (``catchup``), computes
  the draft once more, and stores it with its number in one PostgreSQL transaction
  (``ledger``): the JSON and CSV are written then and served as they are ever after.
  Adjustments that take a month below what it was billed become a credit note for that
  month, numbered in its own series in the same transaction.
- ``paid`` and ``void`` only move the lifecycle columns; a void invoice keeps its number
  and the month can be issued again, under the next number.
- An issued document's **PDF** is rendered on first request (per status: issued, paid, void
  each print theirs) and kept in ``document_pdfs``: served as kept ever after, so a later
  template or font change never changes a PDF a client may already hold.

Parties and tax: a draft is to the client's billing details as they are now, with its
tax rate now, from the agency profile now. Issuing freezes all three: the billing details
and tax are in the stored JSON (and so the CSV and PDF), the agency profile in a snapshot
the document points at; the profile's prefix and payment terms number and date it. A later
``PUT /v1/agency`` or ``PUT .../billing`` changes drafts only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from libs.common.errors import Conflict, InvalidInput, NotFound
from libs.common.money import markup_of, tax_of
from libs.common.periods import Period
from services.invoicing import service
from services.invoicing.adjustments import adjustment_lines, billed_lines_by_month, net_of_billed
from services.invoicing.catchup import Pipeline
from services.invoicing.csv_export import invoice_csv
from services.invoicing.ledger import Ledger, NewDocument, StoredDocument
from services.invoicing.parties import AgencyProfile
from services.invoicing.profiles import Parties
from services.invoicing.repository import InvoicingRepository
from services.invoicing.schemas import Invoice, InvoiceLine
from services.invoicing.settings import InvoicingSettings

__all__ = ["Clock", "InvoiceDesk", "Pending", "document_invoice"]

Clock = Callable[[], datetime]
_ZERO = Decimal("0.00")


@dataclass(frozen=True, slots=True)
class Pending:
    """A draft, plus the credit notes issuing it would also issue (months billed too much)."""

    invoice: Invoice
    credits: dict[str, list[InvoiceLine]]


def document_invoice(document: StoredDocument) -> Invoice:
    """The frozen invoice with its current lifecycle (status, paid, void) laid over it."""
    frozen = Invoice.model_validate_json(document.body_json)
    return frozen.model_copy(update={"status": document.status, "paid_at": document.paid_at,
                                     "voided_at": document.voided_at, "void_reason": document.void_reason})


class InvoiceDesk:
    """Everything the invoice endpoints and the auto-issuer do, over ClickHouse and PostgreSQL."""

    def __init__(self, usage: InvoicingRepository, ledger: Ledger, settings: InvoicingSettings,
                 pipeline: Pipeline, clock: Clock, parties: Parties) -> None:
        self.usage = usage
        self.ledger = ledger
        self.settings = settings
        self.pipeline = pipeline
        self.clock = clock
        self.parties = parties

    async def agency_of(self, document: StoredDocument | None) -> AgencyProfile:
        """Who a document is from: an issued one's frozen profile; a draft's (None) the profile now."""
        if document is None:
            return await self.parties.agency_profile()
        return (await self.parties.issued_agencies([document]))[document.number]

    async def document_pdf(self, document: StoredDocument) -> bytes:
        """An issued document's PDF in its current status: as first served, else rendered now and kept.

        Rendering is deterministic (same JSON, profile, template and fonts: same bytes), so two
        instances rendering at once store the same thing; the first one kept is served either way.
        """
        if (kept := await self.ledger.stored_pdf(document.number, document.status)) is not None:
            return kept
        # Imported on first use: WeasyPrint costs seconds of start-up otherwise.
        from services.invoicing.documents import render_pdf
        from services.invoicing.exports.issued import document_of

        rendered = await asyncio.to_thread(render_pdf, document_of(document, await self.agency_of(document)))
        return await self.ledger.keep_pdf(document.number, document.status, rendered, self.clock())

    async def adjustments(
        self, client_id: str, period: Period, documents: list[StoredDocument], billed: dict[str, list[InvoiceLine]]
    ) -> dict[str, list[InvoiceLine]]:
        """Per earlier issued month of the client, the lines that bring it to its live totals."""
        issued = sorted({d.period for d in documents if d.kind == "invoice" and d.period < str(period)})
        if not issued:
            return {}
        live = await asyncio.gather(*(self.usage.client_usage(client_id, Period.parse(m)) for m in issued))
        changes = {month: adjustment_lines(Period.parse(month), usage, billed.get(month, []))
                   for month, usage in zip(issued, live, strict=True)}
        return {month: lines for month, lines in changes.items() if lines}

    async def pending(self, client_id: str, period: Period, now: datetime) -> Pending:
        """The draft as of ``now``; months whose change is a net credit are set apart.

        Usage of ``period`` already billed on other documents (adjustments on a later invoice,
        a credit note, when this month's own invoice was voided) is netted out, so a
        replacement never bills it twice.
        """
        usage, client, documents, billing = await asyncio.gather(
            self.usage.client_usage(client_id, period),
            self.usage.get_client_as_of(client_id, min(now, period.end)),
            self.ledger.billed_documents(client_id),
            self.parties.billing(client_id))
        billed = billed_lines_by_month(Invoice.model_validate_json(d.body_json) for d in documents)
        if billed.get(str(period)):
            usage = net_of_billed(usage, billed[str(period)])
        changes = await self.adjustments(client_id, period, documents, billed)
        owed = [line for lines in changes.values() if sum(l.amount for l in lines) >= 0 for line in lines]
        credits = {m: lines for m, lines in changes.items() if sum(l.amount for l in lines) < 0}
        invoice = service.build_invoice(client_id=client_id, period=period, usage=usage, client=client,
                                        defaults=self.settings.billing, now=now, adjustments=owed,
                                        billing=billing)
        return Pending(invoice, credits)

    async def current(self, client_id: str, period: Period) -> tuple[Invoice, StoredDocument | None]:
        """The issued invoice of the month if there is one, else the live draft."""
        stored = await self.ledger.live_invoice(client_id, str(period))
        if stored is not None:
            return document_invoice(stored), stored
        return (await self.pending(client_id, period, self.clock())).invoice, None

    async def issue(self, client_id: str, period: Period) -> StoredDocument:
        """Issue the month now; the invoice already issued if there is one (idempotent)."""
        started = self.clock()
        if not period.is_closed(started):
            raise InvalidInput(
                f"{period} has not ended: it can be issued from {period.end.isoformat()}",
                detail=[{"field": "period", "message": f"{period} has not ended yet"}])
        if (existing := await self.ledger.live_invoice(client_id, str(period))) is not None:
            return existing
        await self.pipeline.wait_caught_up(started, self.settings.catch_up_timeout_seconds)
        cutoff = self.clock()
        pending, agency = await asyncio.gather(self.pending(client_id, period, cutoff),
                                               self.parties.agency_profile())
        voided = [d for d in await self.ledger.listing(period=str(period), client_id=client_id, kind="invoice")
                  if d.status == "void"]
        due = cutoff.date() + timedelta(days=agency.payment_terms_days)
        documents = [self._invoice_document(pending.invoice, cutoff, due, voided[-1].number if voided else None,
                                            agency)]
        billed = {d.period: d for d in await self.ledger.billed_documents(client_id) if d.kind == "invoice"}
        for month, lines in sorted(pending.credits.items()):
            documents.append(self._credit_note(pending.invoice, billed[month], lines, cutoff, due, agency))
        stored = await self.ledger.store(documents)
        if stored is None:  # issued meanwhile by another instance: that one is the invoice
            existing = await self.ledger.live_invoice(client_id, str(period))
            if existing is None:
                raise Conflict(f"{client_id} {period} was being issued concurrently; retry")
            return existing
        return stored[0]

    def _invoice_document(self, invoice: Invoice, cutoff: datetime, due: date,
                          replaces: str | None, agency: AgencyProfile) -> NewDocument:
        def render(number: str) -> tuple[str, str, Decimal]:
            frozen = invoice.model_copy(update={
                "status": "issued", "number": number, "issued_at": cutoff, "due_date": due,
                "usage_cutoff": cutoff, "generated_at": cutoff, "replaces_number": replaces})
            return frozen.model_dump_json(), invoice_csv(frozen), frozen.total

        return NewDocument(kind="invoice", series="invoice", prefix=agency.invoice_prefix,
                           first_number=self.settings.invoice_first_number, client_id=invoice.client_id,
                           period=invoice.period, issued_at=cutoff, due_date=due, usage_cutoff=cutoff,
                           render=render, replaces_number=replaces, agency=agency)

    def _credit_note(self, draft: Invoice, original: StoredDocument, lines: list[InvoiceLine],
                     cutoff: datetime, due: date, agency: AgencyProfile) -> NewDocument:
        """Credited at the markup and tax rate the month was billed with; to the client's billing details now."""
        credited = Invoice.model_validate_json(original.body_json)
        base = sum((line.amount for line in lines), _ZERO)
        markup = markup_of(base, credited.markup_percent)
        tax = tax_of(base + markup, credited.tax_percent) if credited.tax_percent is not None else _ZERO

        def render(number: str) -> tuple[str, str, Decimal]:
            note = credited.model_copy(update={
                "kind": "credit_note", "status": "issued", "number": number, "lines": lines,
                "base_cost": base, "markup": markup, "tax": tax, "total": base + markup + tax, "issued_at": cutoff,
                "due_date": due, "usage_cutoff": cutoff, "generated_at": cutoff,
                "credits_number": original.number, "replaces_number": None, "name": draft.name,
                "bill_to": draft.bill_to})
            return note.model_dump_json(), invoice_csv(note), note.total

        return NewDocument(kind="credit_note", series="credit_note", prefix=self.settings.credit_note_prefix,
                           first_number=self.settings.credit_note_first_number, client_id=original.client_id,
                           period=original.period, issued_at=cutoff, due_date=due, usage_cutoff=cutoff,
                           render=render, credits_number=original.number, agency=agency)

    async def mark_paid(self, number: str) -> StoredDocument:
        return await self.ledger.set_status(number, "paid", self.clock())

    async def void(self, number: str, reason: str) -> StoredDocument:
        if await self.ledger.by_number(number) is None:
            raise NotFound(f"no document numbered '{number}'")
        return await self.ledger.set_status(number, "void", self.clock(), reason)
