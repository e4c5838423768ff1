"""``POST /v1/events``: one event, a JSON array of up to 10,000, or NDJSON."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from libs.common.api import CurrentPrincipal, ErrorBody, Forbidden, error_responses
from libs.common.errors import InvalidInput
from libs.common.events import IDEMPOTENCY_RULE
from services.ingest.service import IngestResult, IngestService

router = APIRouter(prefix="/v1/events", tags=["events"])


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


@router.post("", status_code=202,
             responses={202: {"model": IngestResult},
                        **error_responses(401, 403, 413, 415, 503),
                        422: {"model": IngestResult | ErrorBody,
                              "description": "No event was valid (the same body as 202), or the body is not "
                                             "readable JSON (an error body)."}},
             description="Validate every event; publish the valid ones; name each invalid one by index. "
                         "All-invalid input gets 422 with the same body.\n\n"
                         "**Timestamps** must be at most 5 minutes ahead and, with an ingest key, at most 35 days "
                         "old (`INGEST_MAX_FUTURE_SECONDS`, `INGEST_MAX_AGE_DAYS`); an admin key may backfill back "
                         "to 2000-01-01. **Bounds**: token counts 0 to 10^12 per bucket; one event at most "
                         "`KAFKA_MAX_MESSAGE_BYTES` (1 MiB) encoded.\n\n"
                         f"**Idempotency**: {IDEMPOTENCY_RULE}")
async def ingest_events(request: Request, principal: CurrentPrincipal) -> JSONResponse:
    """Validate every event; publish the valid ones; name each invalid one by index.

    Timestamps must be at most 5 minutes ahead and (with an ingest key) at most 35 days old
    (``INGEST_MAX_FUTURE_SECONDS``, ``INGEST_MAX_AGE_DAYS``); an admin key may backfill back
    to 2000-01-01. Token counts are at most 10^12 per bucket. All-invalid input gets 422
    with the same body, so a client never mistakes it for success.
    """
    if not principal.can_ingest():
        raise Forbidden(f"sending events needs an ingest or admin key; yours has scope '{principal.scope}'")
    service: IngestService = request.app.state.ingest
    received_at = datetime.now(UTC)
    raw = await read_body(request, request.app.state.settings.max_body_bytes)
    result = await service.ingest(raw, request.headers.get("content-type", ""), principal, received_at)
    status = 202 if result.accepted or not result.rejected else 422
    return JSONResponse(result.model_dump(mode="json"), status_code=status)
