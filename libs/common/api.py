"""What every TokenTally HTTP API shares: auth, and one mapping from errors to responses.

Error bodies are always ``{"error": <code>, "detail": <message or field list>}``;
field errors are ``{"field": "a.b", "message": "..."}``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.routing import Match

from libs.common.auth import KeyRing, Principal
from libs.common.errors import Conflict, InvalidInput, NotFound, TokenTallyError, Unavailable
from libs.common.ids import CLIENT_ID_PATTERN
from libs.common.inputs import NO_NUL_PATTERN, text_problems

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
    detail: str | list[FieldProblem] = Field(examples=["missing 'Authorization: Bearer <key>' header"])


_ERROR_MEANINGS = {
    400: "The request could not be read.",
    401: "No key, or an unknown key (`WWW-Authenticate: Bearer`).",
    403: "The key's scope does not allow this.",
    404: "Not found.",
    413: "The body is over the size limit.",
    415: "A content type (or encoding) this endpoint does not read.",
    409: "The request contradicts the current state; `detail` says how.",
    422: "The request is invalid; `detail` names each field at fault.",
    503: "A dependency (Kafka, ClickHouse) is away: nothing was done, retry after `Retry-After` seconds.",
}


_ERROR_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": "How to authenticate.", "required": True,
                               "schema": {"type": "string", "const": "Bearer"}}},
    503: {"Retry-After": {"description": "Seconds to wait before retrying.", "required": True,
                          "schema": {"type": "string", "pattern": "^[0-9]+$"}}},
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the error answers a route really gives, with their body (and headers)."""
    return {code: {"model": ErrorBody, "description": _ERROR_MEANINGS[code],
                   **({"headers": _ERROR_HEADERS[code]} if code in _ERROR_HEADERS else {})} for code in codes}


_ERROR_CODES = {400: "invalid_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
                415: "unsupported_media_type", 422: "invalid_request", 503: "unavailable"}

_UNREADABLE_BODY = "There was an error parsing the body"
"""FastAPI's 400 for a body it cannot decode at all (not UTF-8, a broken form): answered as 422 on ``body``."""


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
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        # Starlette's own answers (no such path, method not allowed) and FastAPI's: the same body
        # as every other error, so a client parses one shape whatever went wrong.
        if exc.status_code == 400 and exc.detail == _UNREADABLE_BODY:
            return _error(422, "invalid_request", [{"field": "body", "message": "the body could not be read "
                                                                              "(send UTF-8 JSON)"}])
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            headers = {**(headers or {}), "Allow": ", ".join(_allowed_methods(app, request))}
        return _error(exc.status_code, _ERROR_CODES.get(exc.status_code, "http_error"), exc.detail, headers)

    document_error_responses(app)


def _allowed_methods(app: FastAPI, request: Request) -> list[str]:
    """Every method some route serves at this path: Starlette's 405 names only the first route's.

    Asked of the router itself, method by method (FastAPI nests included routers)."""
    return [method for method in _METHODS
            if any(route.matches({**request.scope, "method": method})[0] is Match.FULL
                   for route in app.router.routes)]


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def document_error_responses(app: FastAPI) -> None:
    """Declare in ``app``'s OpenAPI document the error answers every route really gives, with their body.

    FastAPI documents only a 422 with its own ``HTTPValidationError`` body, which is never
    sent (``install_error_handlers`` answers ``ErrorBody``). Each operation gets, besides
    what its route declares: 401 and 403 when it takes a key (its ``security``), 404 when
    its path has parameters (an unknown id), 422 when it reads parameters or a body, and 503
    when it takes a key (every such route reads Kafka, ClickHouse or PostgreSQL); every error
    answer's body is ``ErrorBody``.
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        spec = build()
        schemas = spec.setdefault("components", {}).setdefault("schemas", {})
        error_body = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(error_body.pop("$defs", {}))
        schemas["ErrorBody"] = error_body
        for path, item in spec.get("paths", {}).items():
            for operation in item.values():
                _document_operation(path, operation)
        for unused in ("HTTPValidationError", "ValidationError"):
            if f'"#/components/schemas/{unused}"' not in _json_text(spec["paths"]):
                schemas.pop(unused, None)
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]


_ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}


def _document_operation(path: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    codes: set[int] = set()
    if operation.get("security"):
        codes |= {401, 403, 503}
    if "{" in path:
        codes.add(404)
    if operation.get("parameters") or operation.get("requestBody") or "422" in responses:
        codes.add(422)
    for code in sorted(codes):
        answer = responses.setdefault(str(code), {"description": _ERROR_MEANINGS[code]})
        if code in _ERROR_HEADERS:
            answer["headers"] = {**_ERROR_HEADERS[code], **answer.get("headers", {})}
        content = answer.setdefault("content", {}).setdefault("application/json", {})
        schema = content.get("schema")
        if schema is None or "HTTPValidationError" in _json_text(schema):
            content["schema"] = _ERROR_REF
            if code == 422:
                answer["description"] = _ERROR_MEANINGS[422]


def _json_text(value: object) -> str:
    return json.dumps(value)


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


async def refuse_unstorable_text(request: Request) -> None:
    """An app dependency for APIs that keep text in PostgreSQL: a 422 naming each field whose text
    holds U+0000 or a lone surrogate, which PostgreSQL refuses (a 500 otherwise).

    Add it with ``FastAPI(dependencies=[Depends(refuse_unstorable_text)])`` and call
    ``document_storable_text(app)`` so the document says so."""
    problems = [name for name, value in request.path_params.items() if not _storable_text(str(value))]
    problems += [name for name, value in request.query_params.multi_items() if not _storable_text(value)]
    if request.method in ("POST", "PUT", "PATCH") and "json" in request.headers.get("content-type", ""):
        body = await request.body()
        if b"\\u" in body or b"\\U" in body:  # NUL and surrogates only arrive escaped in valid JSON
            try:
                problems += list(text_problems(json.loads(body)))
            except ValueError:
                pass  # not JSON: the route's own validation answers
    if problems:
        raise InvalidInput("text with U+0000 or a lone surrogate cannot be stored",
                           detail=[{"field": field, "message": "must not contain U+0000 (NUL) or a lone surrogate"}
                                   for field in dict.fromkeys(problems)])


def _storable_text(text: str) -> bool:
    return not any(text_problems(text))


def document_storable_text(app: FastAPI) -> None:
    """Declare, on every string of ``app``'s document, that ``refuse_unstorable_text`` refuses U+0000:
    as its pattern, or beside a pattern of its own that is not anchored at both ends (an anchored
    one spells out its characters)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        spec = build()
        _add_no_nul_pattern(spec.get("components", {}).get("schemas", {}))
        for item in spec.get("paths", {}).values():
            for operation in item.values():
                for parameter in operation.get("parameters", []):
                    _add_no_nul_pattern(parameter.get("schema", {}))
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]


def _add_no_nul_pattern(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("type") == "string" and not {"format", "enum", "const"} & node.keys():
            pattern = node.get("pattern")
            if pattern is None:
                node["pattern"] = NO_NUL_PATTERN
            elif not (pattern.startswith("^") and pattern.endswith("$")):  # e.g. trimmed text's "\\S"
                node["allOf"] = [*node.get("allOf", []), {"pattern": NO_NUL_PATTERN}]
        for value in node.values():
            _add_no_nul_pattern(value)
    elif isinstance(node, list):
        for value in node:
            _add_no_nul_pattern(value)
