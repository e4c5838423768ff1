"""Ingesting one OTLP/HTTP traces request: decode, map GenAI spans to events, ingest them.

The answer follows OTLP/HTTP: a ``ExportTraceServiceResponse`` in the request's encoding,
with ``partial_success`` counting the spans refused (no client attribute, or attributes that
cannot make a valid event) and saying why. Spans without usage are not refused: OTLP
exporters send every span of a trace, and most are not LLM calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from libs.common.auth import Principal
from libs.common.metrics import OTLP_SPANS
from services.ingest.genai_spans import map_spans
from services.ingest.otlp_decoding import decode_traces, encode_response, gunzip, otlp_media_type
from services.ingest.service import IngestService

__all__ = ["TracesResult", "ingest_traces"]


@dataclass(frozen=True)
class TracesResult:
    media_type: str
    body: bytes
    accepted: int
    ignored: int
    rejected: int


async def ingest_traces(service: IngestService, raw: bytes, content_type: str, content_encoding: str,
                        principal: Principal, received_at: datetime) -> TracesResult:
    settings = service.settings
    media_type = otlp_media_type(content_type)
    body = gunzip(raw, content_encoding, settings.max_body_bytes)
    spans = decode_traces(body, media_type)
    mapping = map_spans(spans, settings.otlp_client_attribute, settings.otlp_project_attribute)
    result = await service.ingest_items(mapping.events, principal, received_at) if mapping.events else None
    accepted = result.accepted if result else 0
    reasons: list[str] = []
    if mapping.without_client:
        reasons.append(f"{mapping.without_client} span(s) with GenAI usage have no "
                       f"'{settings.otlp_client_attribute}' attribute (span or resource)")
    reasons.extend(mapping.invalid[:5])
    for rejection in (result.rejected if result else [])[:5]:
        event_id = mapping.events[rejection.index]["event_id"]
        problems = "; ".join(f"{error.field}: {error.message}" for error in rejection.errors)
        reasons.append(f"span {event_id.partition('-')[2]}: {problems}")
    invalid = len(mapping.invalid) + (len(result.rejected) if result else 0)
    rejected = mapping.without_client + invalid
    OTLP_SPANS.labels(outcome="accepted").inc(accepted)
    OTLP_SPANS.labels(outcome="ignored_no_usage").inc(mapping.ignored)
    OTLP_SPANS.labels(outcome="rejected_no_client").inc(mapping.without_client)
    OTLP_SPANS.labels(outcome="rejected_invalid").inc(invalid)
    return TracesResult(media_type, encode_response(media_type, rejected, "; ".join(reasons)),
                        accepted, mapping.ignored, rejected)
