"""Invoices: a client's month (issued, else the live draft), issuing, paying, voiding, listings."""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from libs.common.api import Forbidden, error_responses
from libs.common.errors import InvalidInput, NotFound
from libs.common.periods import PERIOD_PATTERN, parse_period
from services.invoicing import service
from services.invoicing.api.deps import (
    AdminCaller,
    ClientIdPath,
    Desk,
    Now,
    PeriodPath,
    ReadableClientId,
    Repository,
    Settings,
)
from services.invoicing.csv_export import invoice_csv, invoice_filename
from services.invoicing.issuing import InvoiceDesk, document_invoice
from services.invoicing.ledger import StoredDocument
from services.invoicing.schemas import DocumentSummary, Invoice, InvoiceSummary, VoidRequest

router = APIRouter(tags=["invoices"])

Format = Annotated[Literal["json", "csv", "pdf"], Query(
    alias="format", description="`csv` for a spreadsheet file, `pdf` for the document to send.")]


async def _pdf(invoice: Invoice, stored: StoredDocument | None, desk: InvoiceDesk) -> Response:
    """The PDF: a draft's is rendered now, from the profile now, says DRAFT and has no number. An issued
    document's is rendered once per status from its frozen JSON and agency profile, stored, and served as
    stored ever after (``desk.document_pdf``): the same bytes whatever the template or fonts become."""
    if stored is not None:
        body = await desk.document_pdf(stored)
        return Response(body, media_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="{stored.number}.pdf"'})
    # Imported on first use, as the exports are: WeasyPrint costs seconds of start-up otherwise.
    from services.invoicing.documents import pdf_filename, render_pdf
    from services.invoicing.documents.build import document_from_invoice

    document = document_from_invoice(invoice, agency=await desk.agency_of(None))
    body = await asyncio.to_thread(render_pdf, document)  # ~0.1 s of CPU: off the event loop
    return Response(body, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{pdf_filename(document)}"'})


def _csv(invoice: Invoice, stored: StoredDocument | None) -> Response:
    if stored is not None:
        return _stored_csv(stored)
    return Response(
        invoice_csv(invoice),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{invoice_filename(invoice)}"'},
    )


def _stored_csv(stored: StoredDocument) -> Response:
    return Response(stored.body_csv, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{stored.number}.csv"'})


def _json(invoice: Invoice, stored: StoredDocument | None) -> Response | Invoice:
    if stored is not None and stored.status == "issued":
        # The bytes written at issue, as they are: an issued invoice never changes.
        return Response(stored.body_json, media_type="application/json")
    return invoice


@router.get(
    "/v1/clients/{client_id}/invoices/{period}",
    response_model=Invoice,
    responses={200: {"content": {"text/csv": {}, "application/pdf": {}},
                     "description": "The invoice (JSON, or CSV with `?format=csv`, PDF with `?format=pdf`)."}},
)
async def get_invoice(
    client_id: ReadableClientId, period: PeriodPath, desk: Desk, output: Format = "json",
) -> Invoice | Response:
    """A client's invoice for a month (admin, or that client's own key).

    Once issued, the frozen invoice (with ``number``, ``issued_at``, ``due_date``), the
    same bytes on every read; before that, the draft computed now, with adjustment lines
    for earlier issued months that changed since.
    """
    stored = await desk.ledger.live_invoice(client_id, str(period))
    if output == "pdf":
        invoice, stored = (document_invoice(stored), stored) if stored is not None else await desk.current(
            client_id, period)
        return await _pdf(invoice, stored, desk)
    if stored is not None and stored.status == "issued":  # served as stored: no parsing, no ClickHouse
        return _stored_csv(stored) if output == "csv" else Response(stored.body_json, media_type="application/json")
    invoice, stored = (document_invoice(stored), stored) if stored is not None else await desk.current(client_id, period)
    return _csv(invoice, stored) if output == "csv" else _json(invoice, stored)


@router.post("/v1/clients/{client_id}/invoices/{period}/issue", response_model=Invoice, responses=error_responses(409))
async def issue_invoice(client_id: ClientIdPath, period: PeriodPath, _: AdminCaller, desk: Desk) -> Invoice | Response:
    """Issue the month now (admin): number it and freeze it. Calling it again returns the same invoice.

    Refused (422) for a month that has not ended; 503 while the pipeline has not yet
    counted every event received before now (nothing is issued; retry).
    """
    stored = await desk.issue(client_id, period)
    return _json(document_invoice(stored), stored)


@router.post("/v1/invoices/{number}/pay", response_model=DocumentSummary, responses=error_responses(409))
async def pay(number: str, _: AdminCaller, desk: Desk) -> DocumentSummary:
    """Mark an issued invoice paid (admin)."""
    return _summary(await desk.mark_paid(number))


@router.post("/v1/invoices/{number}/void", response_model=DocumentSummary, responses=error_responses(409))
async def void(number: str, body: VoidRequest, _: AdminCaller, desk: Desk) -> DocumentSummary:
    """Void an issued invoice (admin), with a reason. It keeps its number; the month can then be issued again."""
    return _summary(await desk.void(number, body.reason))


_DOCUMENT_FORMATS = {200: {"content": {"text/csv": {}, "application/pdf": {}},
                           "description": "The document (JSON, or CSV with `?format=csv`, PDF with `?format=pdf`)."}}


@router.get("/v1/documents/{number}", response_model=Invoice, responses=_DOCUMENT_FORMATS)
async def get_document(
    number: str, _: AdminCaller, desk: Desk, output: Format = "json",
) -> Invoice | Response:
    """An issued invoice or credit note by its number (admin); ``?format=pdf`` for its PDF."""
    return await _document_response(await _by_number(desk, number), desk, output)


@router.get(
    "/v1/clients/{client_id}/documents/{number}",
    response_model=Invoice,
    summary="One of the client's issued invoices or credit notes (JSON, CSV or PDF)",
    responses=_DOCUMENT_FORMATS,
)
async def get_client_document(
    client_id: ReadableClientId, number: str, desk: Desk, output: Format = "json",
) -> Invoice | Response:
    """One of the client's issued invoices or credit notes by its number (admin, or that client's own key);
    ``?format=pdf`` for its PDF, the same bytes on every request. Another client's document is a 403."""
    stored = await _by_number(desk, number)
    if stored.client_id != client_id:
        raise Forbidden(f"document '{number}' is not client '{client_id}''s")
    return await _document_response(stored, desk, output)


async def _by_number(desk: InvoiceDesk, number: str) -> StoredDocument:
    stored = await desk.ledger.by_number(number)
    if stored is None:
        raise NotFound(f"no document numbered '{number}'")
    return stored


async def _document_response(stored: StoredDocument, desk: InvoiceDesk, output: str) -> Invoice | Response:
    """A stored document in the format asked for: its PDF as kept, its CSV, or its JSON with its lifecycle."""
    invoice = document_invoice(stored)
    if output == "pdf":
        return await _pdf(invoice, stored, desk)
    return _csv(invoice, stored) if output == "csv" else _json(invoice, stored)


def _summary(document: StoredDocument) -> DocumentSummary:
    return DocumentSummary(
        kind=document.kind, number=document.number, client_id=document.client_id,  # type: ignore[arg-type]
        period=document.period, status=document.status, issued_at=document.issued_at,  # type: ignore[arg-type]
        due_date=document.due_date, total=document.total, credits_number=document.credits_number,
        replaces_number=document.replaces_number, void_reason=document.void_reason)


def _period_query(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        return str(parse_period(text))
    except ValueError as exc:
        raise InvalidInput(str(exc), detail=[{"field": "period", "message": str(exc)}]) from exc


@router.get("/v1/invoices", response_model=list[DocumentSummary])
async def list_documents(
    _: AdminCaller, desk: Desk,
    period: Annotated[str | None, Query(description="`YYYY-MM`", json_schema_extra={"pattern": PERIOD_PATTERN})] = None,
    status: Annotated[Literal["issued", "paid", "void"] | None, Query()] = None,
    client_id: Annotated[str | None, Query()] = None,
    kind: Annotated[Literal["invoice", "credit_note"] | None, Query()] = None,
) -> list[DocumentSummary]:
    """Issued invoices and credit notes (admin), by kind and number; filter by month, status, client, kind."""
    documents = await desk.ledger.listing(period=_period_query(period), status=status, client_id=client_id,
                                          kind=kind)
    return [_summary(d) for d in documents]


@router.get("/v1/invoices/{period}", response_model=list[InvoiceSummary])
async def list_invoices(
    _: AdminCaller, period: PeriodPath, repository: Repository, settings: Settings, desk: Desk, now: Now,
) -> list[InvoiceSummary]:
    """Every client's totals for a month (admin): the issued invoice's where there is one, else the draft's."""
    usage, clients, issued, billing = await asyncio.gather(
        repository.period_usage(period), repository.list_clients_as_of(min(now, period.end)),
        desk.ledger.listing(period=str(period), kind="invoice"), desk.parties.store.all_billing())
    summaries = service.build_summaries(
        period=period, usage_by_client=usage, clients=clients, defaults=settings.billing, now=now, billing=billing)
    frozen = {d.client_id: document_invoice(d) for d in issued if d.status != "void"}
    return [_frozen_summary(frozen[s.client_id]) if s.client_id in frozen else s for s in summaries] + [
        _frozen_summary(invoice) for client_id, invoice in sorted(frozen.items())
        if client_id not in {s.client_id for s in summaries}]


def _frozen_summary(invoice: Invoice) -> InvoiceSummary:
    return InvoiceSummary(client_id=invoice.client_id, name=invoice.name, base_cost=invoice.base_cost,
                          markup_percent=invoice.markup_percent, markup=invoice.markup, tax=invoice.tax,
                          total=invoice.total,
                          events=sum(line.events for line in invoice.lines))
