"""``POST /v1/events``: one event, a JSON array of up to 10,000, or NDJSON."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from libs.common.api import CurrentPrincipal, Forbidden
from libs.common.errors import InvalidInput
from libs.common.events import IDEMPOTENCY_RULE
from services.ingest.publisher import UsagePublisher
from services.ingest.schemas import Rejection, parse_body, validate_batch

router = APIRouter(prefix="/v1/events", tags=["events"])


class IngestResult(BaseModel):
    accepted: int
    rejected: list[Rejection]


class PayloadTooLarge(InvalidInput):
    """The body is over the configured limit."""


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"body of {declared} bytes is over the {limit}-byte limit; send smaller batches")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise PayloadTooLarge(f"body is over the {limit}-byte limit; send smaller batches")
    return bytes(body)


@router.post("", status_code=202, responses={202: {"model": IngestResult}},
             description=f"Validate every event; publish the valid ones; name each invalid one by index. "
                         f"All-invalid input gets 422 with the same body.\n\n**Idempotency**: {IDEMPOTENCY_RULE}")
async def ingest_events(request: Request, principal: CurrentPrincipal) -> JSONResponse:
    """Validate every event; publish the valid ones; name each invalid one by index.

    All-invalid input gets 422 with the same body, so a client never mistakes it for success.
    """
    if not principal.can_ingest():
        raise Forbidden(f"sending events needs an ingest or admin key; yours has scope '{principal.scope}'")
    publisher: UsagePublisher = request.app.state.publisher
    received_at = datetime.now(UTC)
    raw = await read_body(request, request.app.state.settings.max_body_bytes)
    items = parse_body(raw, request.headers.get("content-type", ""))
    accepted, rejected = validate_batch(items, received_at)
    if accepted:
        await publisher.publish(accepted)
    result = IngestResult(accepted=len(accepted), rejected=rejected)
    status = 202 if accepted or not rejected else 422
    return JSONResponse(result.model_dump(mode="json"), status_code=status)
