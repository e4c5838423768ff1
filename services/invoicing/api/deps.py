"""Request dependencies shared by the routers: caller, permissions, repository, settings.

Long-lived things (settings, the key ring's authenticator, the ClickHouse client) live
on ``app.state``, set by ``create_app`` and its lifespan, so each app instance (tests
build many) carries its own instead of module globals.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from libs.common.api import require_admin, require_client_read
from libs.common.auth import Principal
from libs.common.errors import InvalidInput
from services.invoicing.periods import Period, parse_period
from services.invoicing.repository import InvoicingRepository
from services.invoicing.schemas import CLIENT_ID_PATTERN
from services.invoicing.settings import InvoicingSettings

__all__ = ["AdminCaller", "ClientIdPath", "ClientReader", "PeriodPath", "Repository", "Settings"]

_bearer = HTTPBearer(auto_error=False)

ClientIdPath = Annotated[str, Path(pattern=CLIENT_ID_PATTERN, description="The client's id, e.g. `acme`.")]


def _principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    """Delegates to ``libs.common.api.principal_dependency`` built for this app's key ring."""
    return request.app.state.authenticate(credentials)


Caller = Annotated[Principal, Depends(_principal)]


def _admin(caller: Caller) -> Principal:
    require_admin(caller)
    return caller


def _client_reader(client_id: ClientIdPath, caller: Caller) -> Principal:
    require_client_read(caller, client_id)
    return caller


# Checked as dependencies, so a caller without the right key gets 401/403 before any body is read.
AdminCaller = Annotated[Principal, Depends(_admin)]
ClientReader = Annotated[Principal, Depends(_client_reader)]


def _period(period: Annotated[str, Path(description="A calendar month in UTC, `YYYY-MM`.")]) -> Period:
    try:
        return parse_period(period)
    except ValueError as exc:
        raise InvalidInput(str(exc), detail=[{"field": "period", "message": str(exc)}]) from exc


PeriodPath = Annotated[Period, Depends(_period)]


def _repository(request: Request) -> InvoicingRepository:
    return InvoicingRepository(request.app.state.clickhouse)


def _settings(request: Request) -> InvoicingSettings:
    return request.app.state.settings


Repository = Annotated[InvoicingRepository, Depends(_repository)]
Settings = Annotated[InvoicingSettings, Depends(_settings)]
