"""OpenTelemetry GenAI spans → usage events (the items ``/v1/events`` validates).

A span is a usage event when it carries ``gen_ai.usage.input_tokens`` or
``gen_ai.usage.output_tokens`` (GenAI semantic conventions; the older
``gen_ai.usage.prompt_tokens``/``completion_tokens`` are read too). Other spans (HTTP,
database, tool calls, agents without usage) are ignored and counted.

- ``event_id`` = ``<trace id>-<span id>`` in hex: an exporter's retry of the same span is
  recognised as a resend, and no two spans share one.
- ``client_id`` (and ``project``) come from a configurable attribute, looked up on the span
  first, then on its resource (``INGEST_OTLP_CLIENT_ATTRIBUTE``, default
  ``tokentally.client_id``; ``INGEST_OTLP_PROJECT_ATTRIBUTE``, default
  ``tokentally.project``). A span with usage and no client is rejected and counted.
- ``provider`` from ``gen_ai.provider.name``, else ``gen_ai.system``, with the semconv
  names of Google's and xAI's APIs mapped to the names pricing knows (``gcp.gemini`` →
  ``google``); ``model`` from ``gen_ai.response.model`` (what actually answered, a dated
  snapshot), else ``gen_ai.request.model``.
- ``timestamp`` = the span's end time.
- Tokens: the semconv says ``gen_ai.usage.input_tokens`` SHOULD include cache reads
  (``gen_ai.usage.cache_read.input_tokens``) and cache writes
  (``gen_ai.usage.cache_creation.input_tokens``), so they are subtracted from it to get the
  uncached input. Some instrumentations copy Anthropic's disjoint counts instead; when the
  cache counts are larger than the input count, the input count is taken as already
  excluding them (the subtraction would be negative, so it cannot be inclusive).
  ``gen_ai.usage.reasoning.output_tokens`` likewise comes out of ``output_tokens``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from services.ingest.otlp_decoding import Span

__all__ = ["SpanMapping", "map_spans"]

INPUT = ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens")
OUTPUT = ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens")
CACHE_READ = ("gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens")
CACHE_WRITE = ("gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.cache_creation_input_tokens")
REASONING = ("gen_ai.usage.reasoning.output_tokens",)
PROVIDER = ("gen_ai.provider.name", "gen_ai.system")
MODEL = ("gen_ai.response.model", "gen_ai.request.model")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: Semconv provider names → the names TokenTally's prices use (others pass through).
PROVIDER_NAMES = {
    "gcp.gen_ai": "google",
    "gcp.gemini": "google",
    "gcp.vertex_ai": "google",
    "gemini": "google",
    "vertex_ai": "google",
    "x_ai": "x-ai",
    "az.ai.openai": "azure",
    "azure.ai.openai": "azure",
    "mistral_ai": "mistral",
}


@dataclass
class SpanMapping:
    """The events of one request's spans, and what became of the others."""

    events: list[dict[str, Any]] = field(default_factory=list)
    ignored: int = 0
    """Spans without GenAI usage."""
    without_client: int = 0
    """Spans with usage but no client attribute: rejected."""
    invalid: list[str] = field(default_factory=list)
    """Spans with usage whose attributes cannot make an event (the reason for each)."""


def map_spans(spans: list[Span], client_attribute: str, project_attribute: str) -> SpanMapping:
    mapping = SpanMapping()
    for span in spans:
        attributes = span.attributes
        input_tokens = _first(attributes, INPUT)
        output_tokens = _first(attributes, OUTPUT)
        if input_tokens is None and output_tokens is None:
            mapping.ignored += 1
            continue
        client = attributes.get(client_attribute) or span.resource.get(client_attribute)
        if not client:
            mapping.without_client += 1
            continue
        try:
            mapping.events.append(_event(span, client, project_attribute, input_tokens, output_tokens))
        except ValueError as exc:
            mapping.invalid.append(f"span {span.span_id}: {exc}")
    return mapping


def _event(span: Span, client: Any, project_attribute: str, input_value: Any, output_value: Any) -> dict[str, Any]:
    attributes = span.attributes
    provider = _first(attributes, PROVIDER)
    model = _first(attributes, MODEL)
    if not isinstance(provider, str) or not provider:
        raise ValueError("no gen_ai.provider.name or gen_ai.system attribute")
    if not isinstance(model, str) or not model:
        raise ValueError("no gen_ai.response.model or gen_ai.request.model attribute")
    input_tokens = _count(input_value, INPUT[0])
    output_tokens = _count(output_value, OUTPUT[0])
    cache_read = _count(_first(attributes, CACHE_READ), CACHE_READ[0])
    cache_write = _count(_first(attributes, CACHE_WRITE), CACHE_WRITE[0])
    reasoning = _count(_first(attributes, REASONING), REASONING[0])
    if cache_read + cache_write <= input_tokens:
        input_tokens -= cache_read + cache_write
    if reasoning <= output_tokens:
        output_tokens -= reasoning
    else:
        raise ValueError(f"{REASONING[0]} ({reasoning}) exceeds {OUTPUT[0]} ({output_tokens})")
    event: dict[str, Any] = {
        "event_id": f"{span.trace_id}-{span.span_id}",
        "client_id": client if isinstance(client, str) else str(client),
        "provider": PROVIDER_NAMES.get(provider.strip().lower(), provider),
        "model": model,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_read_tokens": cache_read,
        "cache_write_tokens": cache_write,
        "reasoning_tokens": reasoning,
    }
    if span.end_unix_nano:
        event["timestamp"] = _EPOCH + timedelta(microseconds=span.end_unix_nano // 1000)
    project = attributes.get(project_attribute) or span.resource.get(project_attribute)
    if isinstance(project, str) and project:
        event["project"] = project
    return event


def _first(attributes: dict[str, Any], names: tuple[str, ...]) -> Any:
    for name in names:
        value = attributes.get(name)
        if value is not None:
            return value
    return None


def _count(value: Any, name: str) -> int:
    """An integer attribute (a whole double is accepted: some SDKs record numbers as doubles)."""
    if value is None:
        return 0
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, not {value!r}")
    return value
