"""``POST /v1/traces``: OTLP/HTTP trace export; GenAI spans become usage events."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response

from libs.common.api import CurrentPrincipal, Forbidden, error_responses
from services.ingest.api.events import read_body
from services.ingest.traces import ingest_traces

router = APIRouter(prefix="/v1/traces", tags=["opentelemetry"])


@router.post("", status_code=200,
             responses={200: {"description": "An OTLP `ExportTraceServiceResponse` in the request's encoding; "
                                             "`partial_success.rejected_spans` counts spans refused and why.",
                              "content": {"application/x-protobuf": {}, "application/json": {}}},
                        **error_responses(401, 403, 413, 415, 422, 503)},
             description="OTLP/HTTP traces (`application/x-protobuf` or `application/json`, optionally "
                         "`Content-Encoding: gzip`). Each span with GenAI usage attributes "
                         "(`gen_ai.usage.input_tokens`, `gen_ai.usage.output_tokens`, cache attributes) becomes "
                         "a usage event with `event_id` = `<trace id>-<span id>`; the client comes from the "
                         "`INGEST_OTLP_CLIENT_ATTRIBUTE` attribute (span, else resource; default "
                         "`tokentally.client_id`). Spans without usage are ignored; spans with usage and no "
                         "client are refused and counted in `partial_success`.")
async def export_traces(request: Request, principal: CurrentPrincipal) -> Response:
    if not principal.can_ingest():
        raise Forbidden(f"sending traces needs an ingest or admin key; yours has scope '{principal.scope}'")
    received_at = datetime.now(UTC)
    raw = await read_body(request, request.app.state.settings.max_body_bytes)
    result = await ingest_traces(request.app.state.ingest, raw, request.headers.get("content-type", ""),
                                 request.headers.get("content-encoding", ""), principal, received_at)
    return Response(result.body, media_type=result.media_type)
