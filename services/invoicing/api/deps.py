"""Request dependencies shared by the routers: caller, permissions, repository, settings.

Long-lived things (settings, the key ring, the ClickHouse client, the PostgreSQL pool, the
clock, the pipeline watcher) live on ``app.state``,
set by ``create_app`` and its lifespan, so each app instance (tests build many) carries
its own instead of module globals.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, cast

from fastapi import Depends, Path, Query, Request
from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

from libs.common.api import ClientIdPath, CurrentPrincipal, require_admin, require_client_read
from libs.common.auth import Principal
from libs.common.periods import PERIOD_PATTERN, Period, parse_period
from services.invoicing.exports.service import AccountingExports
from services.invoicing.issuing import InvoiceDesk
from services.invoicing.ledger import DocumentAmounts
from services.invoicing.profiles import Parties
from services.invoicing.repository import InvoicingRepository
from services.invoicing.settings import InvoicingSettings

__all__ = ["AdminCaller", "ClientIdPath", "Desk", "Exports", "KnownDocuments", "Now", "PartiesService", "ReadableClientId",
           "PeriodPath", "PeriodQuery", "Repository",
           "Settings"]



def _admin(caller: CurrentPrincipal) -> Principal:
    require_admin(caller)
    return caller


def _readable_client_id(caller: CurrentPrincipal, client_id: ClientIdPath) -> str:
    """The path's client id, once the caller may read that client (admin, or ``client:<id>``)."""
    require_client_read(caller, client_id)
    return client_id


# Checked as dependencies, which FastAPI solves before the request's own fields: a caller
# without the right key gets 401/403 whatever else is wrong with the request.
AdminCaller = Annotated[Principal, Depends(_admin)]
ReadableClientId = Annotated[str, Depends(_readable_client_id)]


def _parse_period(text: str) -> Period:
    try:
        return parse_period(text)
    except ValueError as exc:
        raise PydanticCustomError("period", str(exc)) from exc


def _period(
    period: Annotated[str, Path(description="A calendar month in UTC, `YYYY-MM`.",
                                         json_schema_extra={"pattern": PERIOD_PATTERN}), AfterValidator(_parse_period)],
) -> Period:
    """Validated like any parameter, so a bad period is reported with the other field errors."""
    return cast(Period, period)  # the validator above already turned the text into a Period


PeriodPath = Annotated[Period, Depends(_period)]


def _period_query(
    period: Annotated[str, Query(description="A calendar month in UTC, `YYYY-MM`.", examples=["2026-11"],
                                 json_schema_extra={"pattern": PERIOD_PATTERN}), AfterValidator(_parse_period)],
) -> Period:
    """A required ``?period=``, validated like any parameter (a 422 naming ``period``)."""
    return cast(Period, period)


PeriodQuery = Annotated[Period, Depends(_period_query)]


def _repository(request: Request) -> InvoicingRepository:
    return InvoicingRepository(request.app.state.clickhouse)


def _settings(request: Request) -> InvoicingSettings:
    return request.app.state.settings


def _desk(request: Request) -> InvoiceDesk:
    from services.invoicing.app import desk_of  # the app module imports the routers

    return desk_of(request.app)


def _parties(request: Request) -> Parties:
    from services.invoicing.app import parties_of

    return parties_of(request.app)


def _exports(request: Request) -> AccountingExports:
    from services.invoicing.app import exports_of

    return exports_of(request.app)


def _known_documents(request: Request) -> dict[str, DocumentAmounts]:
    return request.app.state.document_amounts  # type: ignore[no-any-return]


def _now(request: Request) -> datetime:
    return request.app.state.clock()  # type: ignore[no-any-return]


Repository = Annotated[InvoicingRepository, Depends(_repository)]
Desk = Annotated[InvoiceDesk, Depends(_desk)]
Exports = Annotated[AccountingExports, Depends(_exports)]
Now = Annotated[datetime, Depends(_now)]
KnownDocuments = Annotated[dict[str, DocumentAmounts], Depends(_known_documents)]
PartiesService = Annotated[Parties, Depends(_parties)]
Settings = Annotated[InvoicingSettings, Depends(_settings)]
