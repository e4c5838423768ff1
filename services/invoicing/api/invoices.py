"""Invoices: one client's month in detail (JSON or CSV), and every client's totals for a month."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from services.invoicing import service
from services.invoicing.api.deps import (
    AdminCaller,
    PeriodPath,
    ReadableClientId,
    Repository,
    Settings,
)
from services.invoicing.csv_export import invoice_csv, invoice_filename
from services.invoicing.schemas import Invoice, InvoiceSummary

router = APIRouter(tags=["invoices"])

Format = Annotated[Literal["json", "csv"], Query(alias="format", description="`csv` for a spreadsheet file.")]


@router.get(
    "/v1/clients/{client_id}/invoices/{period}",
    response_model=Invoice,
    responses={200: {"content": {"text/csv": {}}, "description": "The invoice (JSON, or CSV with `?format=csv`)."}},
)
async def get_invoice(
    client_id: ReadableClientId,
    period: PeriodPath,
    repository: Repository,
    settings: Settings,
    output: Format = "json",
) -> Invoice | Response:
    """A client's invoice for a month (admin, or that client's own key); open until the month ends.

    The markup is the one in force at the end of the month (now, while it is open), so
    editing a client's markup never changes an invoice for a month that has ended.
    """
    now = datetime.now(UTC)
    usage, client = await asyncio.gather(
        repository.client_usage(client_id, period), repository.get_client_as_of(client_id, min(now, period.end)))
    invoice = service.build_invoice(
        client_id=client_id, period=period, usage=usage, client=client, defaults=settings.billing, now=now)
    if output == "csv":
        return Response(
            invoice_csv(invoice),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{invoice_filename(invoice)}"'},
        )
    return invoice


@router.get("/v1/invoices/{period}", response_model=list[InvoiceSummary])
async def list_invoices(
    _: AdminCaller, period: PeriodPath, repository: Repository, settings: Settings
) -> list[InvoiceSummary]:
    """Every client's totals for a month (admin), rounded exactly as on their own invoices."""
    now = datetime.now(UTC)
    usage, clients = await asyncio.gather(
        repository.period_usage(period), repository.list_clients_as_of(min(now, period.end)))
    return service.build_summaries(
        period=period, usage_by_client=usage, clients=clients, defaults=settings.billing, now=now)
