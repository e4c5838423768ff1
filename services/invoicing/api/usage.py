"""Usage reports: what a client used, per day and model, before markup (``/v1/clients/{id}/usage``)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response
from pydantic import TypeAdapter

from services.invoicing.api.deps import (
    AdminCaller,
    Desk,
    KnownDocuments,
    Now,
    PeriodPath,
    ReadableClientId,
    Repository,
    Settings,
)
from services.invoicing.month_totals import adjusted_months, month_totals
from services.invoicing.schemas import ClientMonthTotals, DailyUsage, ModelInUse

router = APIRouter(tags=["usage"])


@router.get("/v1/clients/{client_id}/usage/{period}", response_model=list[DailyUsage])
async def daily_usage(client_id: ReadableClientId, period: PeriodPath, repository: Repository) -> list[DailyUsage]:
    """Usage per UTC day and model for a month (admin, or that client's own key), read from the daily totals."""
    return await repository.daily_usage(client_id, period)


@router.get("/v1/usage/{period}/models", response_model=list[ModelInUse])
async def models_in_use(_: AdminCaller, period: PeriodPath, repository: Repository) -> list[ModelInUse]:
    """Every model billed in a month with the price row it was billed at, across clients (admin)."""
    return await repository.models_in_use(period)


_MONTH_TOTALS = TypeAdapter(list[ClientMonthTotals])


@router.get("/v1/usage/{period}/clients", response_model=list[ClientMonthTotals],
            summary="Every client's month at a glance: cost, margin, billed, invoice statuses, budget")
async def clients_month(
    _: AdminCaller, period: PeriodPath, repository: Repository, desk: Desk, settings: Settings, now: Now,
    known: KnownDocuments,
) -> Response:
    """Every client's month at a glance (admin): cost, margin and billed as on its invoice (the issued
    one's, else the draft's, to the cent), its status and last month's, and its budget.

    One grouped ClickHouse read of the month's lines and one PostgreSQL read of the ledger
    (document bodies are read once per process: they never change), instead of building every
    invoice as ``GET /v1/invoices/{period}`` does.
    """
    # The ledger first (a few ms once its bodies are known): it says which earlier months were
    # issued, whose live lines then come in the same ClickHouse round as the month's own.
    documents = await desk.ledger.billed_documents_of_all(str(period.previous()), known)
    clients, lines = await asyncio.gather(repository.client_terms_as_of(min(now, period.end)),
                                          repository.line_costs([period, *adjusted_months(period, documents)]))
    totals = month_totals(period=period, now=now, lines=lines, clients=clients, documents=documents,
                          defaults=settings.billing)
    if totals.needs_draft:  # the rare drafts that net usage billed elsewhere: built as the invoice is
        pending = await asyncio.gather(*(desk.pending(c, period, now) for c in totals.needs_draft))
        totals = month_totals(period=period, now=now, lines=lines, clients=clients, documents=documents,
                              defaults=settings.billing, drafts={p.invoice.client_id: p.invoice for p in pending})
    # Written here rather than checked again against the response model: 400 rows, built just above.
    return Response(_MONTH_TOTALS.dump_json(totals.totals), media_type="application/json")
