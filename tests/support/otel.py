"""GenAI spans made with the real OpenTelemetry SDK, for the OTLP ingest tests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


def genai_attributes(model: str = "gpt-4o", provider: str = "openai", input_tokens: int = 100,
                     output_tokens: int = 20, **extra: Any) -> dict[str, Any]:
    return {"gen_ai.operation.name": "chat", "gen_ai.provider.name": provider, "gen_ai.request.model": model,
            "gen_ai.usage.input_tokens": input_tokens, "gen_ai.usage.output_tokens": output_tokens, **extra}


def make_spans(spans: list[Mapping[str, Any]], resource: Mapping[str, Any] | None = None) -> list[ReadableSpan]:
    """One finished span per attribute mapping, under one resource."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create(dict(resource or {})))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("tests")
    for attributes in spans:
        with tracer.start_as_current_span("chat", attributes=dict(attributes)):
            pass
    provider.shutdown()
    return list(exporter.get_finished_spans())


def protobuf_body(spans: list[ReadableSpan]) -> bytes:
    """The bytes the OTLP/HTTP exporter posts for these spans."""
    return encode_spans(spans).SerializeToString()  # type: ignore[no-any-return]


def json_body(spans: list[ReadableSpan]) -> dict[str, Any]:
    """The same request in OTLP/JSON (hex ids, int64 as strings), as a collector would send it."""
    by_resource: dict[int, tuple[Any, list[ReadableSpan]]] = {}
    for span in spans:
        by_resource.setdefault(id(span.resource), (span.resource, []))[1].append(span)
    return {"resourceSpans": [
        {"resource": {"attributes": _attributes(resource.attributes)},
         "scopeSpans": [{"scope": {"name": "tests"}, "spans": [_span(span) for span in group]}]}
        for resource, group in by_resource.values()]}


def _span(span: ReadableSpan) -> dict[str, Any]:
    context = span.get_span_context()
    return {"traceId": f"{context.trace_id:032x}", "spanId": f"{context.span_id:016x}", "name": span.name,
            "kind": 3, "startTimeUnixNano": str(span.start_time), "endTimeUnixNano": str(span.end_time),
            "attributes": _attributes(span.attributes or {})}


def _attributes(attributes: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{"key": key, "value": _value(value)} for key, value in attributes.items()]


def _value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, (list, tuple)):
        return {"arrayValue": {"values": [_value(item) for item in value]}}
    return {"stringValue": str(value)}
