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
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["IdempotencyMiddleware"]

HEADER = b"idempotency-key"
_NOT_KEPT = {401, 403, 408, 429}
_MAX_KEY = 255
#: PUT and DELETE are idempotent by themselves, but a retried PUT that lands after another
#: caller's PUT would undo it; with a key, the retry gets the first answer and changes nothing.
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _WRITES:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        raw_key = headers.get(HEADER)
        if raw_key is None:
            await self.app(scope, receive, send)
            return
        key = raw_key.decode("latin-1")
        if not 1 <= len(key) <= _MAX_KEY or not key.isprintable():
            await _json(send, 422, {"error": "invalid_request", "detail": [
                {"field": "Idempotency-Key", "message": f"1 to {_MAX_KEY} printable characters"}]})
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
