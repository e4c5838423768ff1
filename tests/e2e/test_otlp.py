"""OpenTelemetry GenAI spans, sent by the real OTLP/HTTP exporter, billed on the real pipeline."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime

import orjson
import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult

from tests.e2e.conftest import INGEST_KEY, Pipeline, new_client_id
from tests.support.otel import genai_attributes, json_body, make_spans

pytestmark = pytest.mark.integration


def _line(invoice: dict, model: str) -> dict:
    (line,) = [line for line in invoice["lines"] if line["model"] == model]
    return line


def test_spans_from_the_otlp_exporter_are_billed_once(pipeline: Pipeline) -> None:
    client = new_client_id("otel")
    pipeline.add_price("openai", "gpt-otlp-test", "1.00", cache_read_per_mtok="0.10")
    pipeline.add_price("anthropic", "claude-otlp-test", "2.00", cache_read_per_mtok="0.20",
                       cache_write_per_mtok="2.50")
    exporter = OTLPSpanExporter(endpoint=f"{pipeline.services['ingest'].url}/v1/traces",
                                headers={"Authorization": f"Bearer {INGEST_KEY}"}, compression=Compression.Gzip)
    provider = TracerProvider(resource=Resource.create({"service.name": "support-bot", "tokentally.client_id": client}))
    processor = BatchSpanProcessor(exporter)
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("e2e")
    with tracer.start_as_current_span("invoke_agent"):  # no usage: ignored
        with tracer.start_as_current_span("chat gpt-otlp-test", attributes=genai_attributes(
                "gpt-otlp-test", input_tokens=1_000_000, output_tokens=200_000,
                **{"gen_ai.usage.cache_read.input_tokens": 400_000})):
            pass
        with tracer.start_as_current_span("chat claude-otlp-test", attributes=genai_attributes(
                "claude-otlp-test", provider="anthropic", input_tokens=1_000_000, output_tokens=100_000,
                **{"gen_ai.usage.cache_creation.input_tokens": 200_000, "tokentally.project": "triage"})):
            pass
    assert provider.force_flush(30_000)
    period = datetime.now(UTC).strftime("%Y-%m")

    invoice = pipeline.wait_for_events(client, period, 2)

    openai_line = _line(invoice, "gpt-otlp-test")
    assert [openai_line[k] for k in ("input_tokens", "cache_read_tokens", "output_tokens")] \
        == [600_000, 400_000, 200_000]
    assert openai_line["amount"] == "0.84"  # 0.6 x $1 + 0.4 x $0.10 + 0.2 x $1
    claude_line = _line(invoice, "claude-otlp-test")
    assert [claude_line[k] for k in ("input_tokens", "cache_write_tokens", "output_tokens")] \
        == [800_000, 200_000, 100_000]
    assert claude_line["amount"] == "2.30"  # 0.8 x $2 + 0.2 x $2.50 + 0.1 x $2

    # The exporter retrying the same spans (same trace and span ids) is not billed again.
    spans = make_spans([genai_attributes("gpt-otlp-test", input_tokens=10, **{"tokentally.client_id": client})])
    assert exporter.export(spans) == SpanExportResult.SUCCESS
    assert exporter.export(spans) == SpanExportResult.SUCCESS
    invoice = pipeline.wait_for_events(client, period, 3)
    assert sum(line["events"] for line in invoice["lines"]) == 3
    provider.shutdown()


def test_otlp_json_with_gzip_and_the_refused_spans(pipeline: Pipeline) -> None:
    client = new_client_id("otel-json")
    pipeline.add_price("openai", "gpt-otlp-json", "1.00")
    spans = make_spans([genai_attributes("gpt-otlp-json", input_tokens=3_000_000, output_tokens=0),
                        genai_attributes("gpt-otlp-json", **{"tokentally.client_id": ""}),
                        {"db.system": "postgresql"}],
                       {"tokentally.client_id": client})
    spans += make_spans([genai_attributes("gpt-otlp-json")])  # a resource with no client
    with pipeline.http("ingest", INGEST_KEY) as ingest:
        reply = ingest.post("/v1/traces", content=gzip.compress(orjson.dumps(json_body(spans))),
                            headers={"content-type": "application/json", "content-encoding": "gzip"})
    assert reply.status_code == 200, reply.text
    assert reply.json()["partialSuccess"]["rejectedSpans"] == "1"  # the empty span attribute falls back

    invoice = pipeline.wait_for_events(client, datetime.now(UTC).strftime("%Y-%m"), 2)
    line = _line(invoice, "gpt-otlp-json")
    assert (line["events"], line["input_tokens"]) == (2, 3_000_100)
