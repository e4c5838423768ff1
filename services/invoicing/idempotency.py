"""``Idempotency-Key`` on the invoicing API's writes (POST, PUT, PATCH, DELETE), remembered in PostgreSQL.

A write with the header is answered once: the first answer (status, content type, body)
is stored under (caller, key), and a retry with the same key and the same request
(method, path, query and body) gets those bytes again, with ``Idempotent-Replayed: true``.
The same key with a different request is a 409; so is a retry while the first request
is still running. Answers that say "try again" (5xx, 401, 403, 408, 429) are not kept:
the key is released so the retry really runs. The caller is the API key presented
(its SHA-256), so two callers' keys never meet.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from fastapi import FastAPI
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["IdempotencyMiddleware", "document_idempotency"]

HEADER = b"idempotency-key"
_NOT_KEPT = {401, 403, 408, 429}
_MAX_KEY = 255
#: Visible ASCII, inner spaces allowed: what an HTTP header carries unchanged (surrounding spaces
#: are dropped on the way), and what the OpenAPI document declares.
KEY_PATTERN = "^[!-~]([ -~]*[!-~])?$"
#: PUT and DELETE are idempotent by themselves, but a retried PUT that lands after another
#: caller's PUT would undo it; with a key, the retry gets the first answer and changes nothing.
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _WRITES or not _routed(scope):
            await self.app(scope, receive, send)  # no write there: the router answers (404, 405)
            return
        headers = dict(scope["headers"])
        raw_key = headers.get(HEADER)
        if raw_key is None:
            await self.app(scope, receive, send)
            return
        key = raw_key.decode("latin-1")
        if not 1 <= len(key) <= _MAX_KEY or re.match(KEY_PATTERN, key) is None:
            await _json(send, 422, {"error": "invalid_request", "detail": [
                {"field": "Idempotency-Key", "message": f"1 to {_MAX_KEY} visible ASCII characters (a UUID, say)"}]})
            return
        body = await _read_body(receive)
        caller = hashlib.sha256(headers.get(b"authorization", b"")).hexdigest()
        request_hash = hashlib.sha256(b"\n".join(
            [scope["method"].encode(), scope["path"].encode(), scope.get("query_string", b""), body])).hexdigest()
        pool = scope["app"].state.postgres
        claimed = await pool.fetchval(
            "INSERT INTO idempotency_keys (caller, key, method, path, request_hash) VALUES ($1, $2, $3, $4, $5)"
            " ON CONFLICT (caller, key) DO NOTHING RETURNING true",
            caller, key, scope["method"], scope["path"], request_hash)
        if not claimed:
            await self._replay(pool, caller, key, request_hash, send)
            return
        await self._first(scope, body, send, pool, caller, key)

    async def _replay(self, pool: Any, caller: str, key: str, request_hash: str, send: Send) -> None:
        row = await pool.fetchrow(
            "SELECT request_hash, status_code, content_type, body FROM idempotency_keys WHERE caller = $1 AND key = $2",
            caller, key)
        if row is None:  # released meanwhile (the first answer was not kept): ask for a retry
            await _json(send, 409, {"error": "conflict", "detail": "a request with this Idempotency-Key was just"
                                    " answered with an error that is not kept; retry"})
        elif row["request_hash"] != request_hash:
            await _json(send, 409, {"error": "conflict", "detail": "Idempotency-Key was already used with a"
                                    " different request (method, path, query or body)"})
        elif row["status_code"] is None:
            await _json(send, 409, {"error": "conflict", "detail": "a request with this Idempotency-Key is"
                                    " still running; retry later"})
        else:
            response_headers = [(b"content-length", str(len(row["body"])).encode()), (b"idempotent-replayed", b"true")]
            if row["content_type"]:
                response_headers.append((b"content-type", row["content_type"].encode()))
            await send({"type": "http.response.start", "status": row["status_code"], "headers": response_headers})
            await send({"type": "http.response.body", "body": bytes(row["body"])})

    async def _first(self, scope: Scope, body: bytes, send: Send, pool: Any, caller: str, key: str) -> None:
        status: int | None = None
        content_type: str | None = None
        chunks: list[bytes] = []

        async def replay_body() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        async def capture(message: Message) -> None:
            nonlocal status, content_type
            if message["type"] == "http.response.start":
                status = message["status"]
                content_type = dict(message.get("headers", [])).get(b"content-type", b"").decode() or None
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, replay_body, capture)
        finally:
            if status is not None and status < 500 and status not in _NOT_KEPT:
                await pool.execute(
                    "UPDATE idempotency_keys SET status_code = $3, content_type = $4, body = $5"
                    " WHERE caller = $1 AND key = $2", caller, key, status, content_type, b"".join(chunks))
            else:
                await pool.execute("DELETE FROM idempotency_keys WHERE caller = $1 AND key = $2", caller, key)


def _routed(scope: Scope) -> bool:
    """Whether a route serves this method at this path (else the key means nothing)."""
    return any(route.matches(scope)[0] is Match.FULL for route in scope["app"].router.routes)


async def _read_body(receive: Receive) -> bytes:
    parts: list[bytes] = []
    while True:
        message = await receive()
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(parts)


async def _json(send: Send, status: int, content: object) -> None:
    body = json.dumps(content).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def document_idempotency(app: FastAPI) -> None:
    """Declare, on every write of ``app``'s OpenAPI document, the ``Idempotency-Key`` header the
    middleware honours, its 409s and 422, and the ``Idempotent-Replayed`` header of a replayed answer."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        spec = build()
        for item in spec.get("paths", {}).values():
            for method, operation in item.items():
                if method.upper() in _WRITES:
                    _document_write(operation)
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]


_KEY_PARAMETER = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "description": "Any unique string (a UUID): a retry with the same key and the same request (method, path, "
                   "query, body) gets the first answer again, byte for byte, with `Idempotent-Replayed: true`; "
                   "errors that say \"try again\" (5xx, 401, 403, 408, 429) are not kept. Keys are per API key.",
    "schema": {"type": "string", "minLength": 1, "maxLength": _MAX_KEY, "pattern": KEY_PATTERN},
    "example": "6f1c2a9e-4f0b-4a53-9d55-0c5bd0a4b8a1",
}
_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}


def _document_write(operation: dict[str, Any]) -> None:
    parameters = operation.setdefault("parameters", [])
    if not any(p.get("name") == "Idempotency-Key" for p in parameters):
        parameters.append(_KEY_PARAMETER)
    responses = operation.setdefault("responses", {})
    for code, answer in responses.items():
        if code.startswith("2"):
            answer.setdefault("headers", {})["Idempotent-Replayed"] = {
                "description": "`true` when this is the stored answer to an earlier request with the same key.",
                "schema": {"type": "string", "enum": ["true"]}}
    conflict = responses.setdefault("409", {"description": "", "content": _ERROR})
    conflict["description"] = " ".join(filter(None, [
        conflict.get("description", "").strip(),
        "The `Idempotency-Key` was used with a different request, or its first request is still running."]))
    responses.setdefault("422", {"description": "The request is invalid; `detail` names each field at fault.",
                                 "content": _ERROR})
