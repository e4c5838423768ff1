"""What every TokenTally HTTP API shares: auth, and one mapping from errors to responses.

Error bodies are always ``{"error": <code>, "detail": <message or field list>}``;
field errors are ``{"field": "a.b", "message": "..."}``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from libs.common.auth import KeyRing, Principal
from libs.common.errors import Conflict, InvalidInput, NotFound, TokenTallyError, Unavailable
from libs.common.ids import CLIENT_ID_PATTERN

log = logging.getLogger(__name__)

_bearer = HTTPBearer(auto_error=False)


class Unauthorized(TokenTallyError):
    """No key, or a key we do not know."""


class Forbidden(TokenTallyError):
    """A known key whose scope does not cover this request."""


class FieldProblem(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    """Every error answer: ``{"error": <code>, "detail": <message or field list>}``."""

    error: str = Field(examples=["invalid_request"])
    detail: str | list[FieldProblem] | list[Any] = Field(examples=["missing 'Authorization: Bearer <key>' header"])


_ERROR_MEANINGS = {
    401: "No key, or an unknown key (`WWW-Authenticate: Bearer`).",
    403: "The key's scope does not allow this.",
    404: "Not found.",
    413: "The body is over the size limit.",
    415: "A content type (or encoding) this endpoint does not read.",
    422: "The request is invalid; `detail` names each field at fault.",
    503: "A dependency (Kafka, ClickHouse) is away: nothing was done, retry after `Retry-After` seconds.",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the error answers a route really gives, with their body."""
    return {code: {"model": ErrorBody, "description": _ERROR_MEANINGS[code]} for code in codes}


def field_path(location: tuple[Any, ...] | list[Any]) -> str:
    """``("body", "tags", "x")`` → ``"tags.x"``: the path a caller recognises."""
    parts = [str(p) for p in location if p not in ("body", "query", "path")]
    return ".".join(parts) or "body"


def _error(status: int, code: str, detail: object, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": code, "detail": detail}, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Map domain errors to HTTP in one place; nothing a client sends becomes a 500."""

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [{"field": field_path(e["loc"]), "message": e["msg"]} for e in exc.errors()]
        return _error(422, "invalid_request", fields)

    @app.exception_handler(TokenTallyError)
    async def _domain(_: Request, exc: TokenTallyError) -> JSONResponse:
        if isinstance(exc, Unauthorized):
            return _error(401, "unauthorized", exc.message, {"WWW-Authenticate": "Bearer"})
        if isinstance(exc, Forbidden):
            return _error(403, "forbidden", exc.message)
        if isinstance(exc, NotFound):
            return _error(404, "not_found", exc.message)
        if isinstance(exc, Conflict):
            return _error(409, "conflict", exc.message)
        if isinstance(exc, InvalidInput):
            return _error(422, "invalid_request", exc.detail if exc.detail is not None else exc.message)
        if isinstance(exc, Unavailable):
            return _error(503, "unavailable", exc.message, {"Retry-After": str(exc.retry_after_seconds)})
        log.error("unmapped domain error", exc_info=exc)
        return _error(500, "internal_error", "unexpected error; it has been logged")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Driver messages name hosts, ports, databases and queries: they go to the log, never
        # into a body (a client sees only that something failed on our side).
        log.error("unexpected error in %s %s", request.method, request.url.path, exc_info=exc)
        return _error(500, "internal_error", "unexpected error; it has been logged")

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        return _error(exc.status_code, "http_error", exc.detail, getattr(exc, "headers", None))


def principal_dependency(get_keyring: Callable[[], KeyRing]) -> Callable[..., Principal]:
    """A FastAPI dependency that authenticates the bearer key (401 when missing or unknown)."""

    def authenticate(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise Unauthorized("missing 'Authorization: Bearer <key>' header")
        principal = get_keyring().authenticate(credentials.credentials)
        if principal is None:
            raise Unauthorized("unknown API key")
        return principal

    return authenticate


def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """Authenticate against the app's ``state.keyring`` (set in each app's factory)."""
    keyring: KeyRing = request.app.state.keyring
    return principal_dependency(lambda: keyring)(credentials)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]

ClientIdPath = Annotated[str, Path(pattern=CLIENT_ID_PATTERN, description="The client's id, e.g. `acme`.")]
"""A client id in a URL path, checked like ``libs.common.ids.ClientId`` (422 naming ``client_id``)."""


def require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden(f"this needs an admin key; yours has scope '{principal.scope}'")


def require_client_read(principal: Principal, client_id: str) -> None:
    if not principal.can_read_client(client_id):
        raise Forbidden(f"your key (scope '{principal.scope}') cannot read client '{client_id}'")
