"""OTLP/HTTP trace bodies → usage events: decoding (protobuf, JSON, gzip) and the GenAI mapping."""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import orjson
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from pydantic import SecretStr

from libs.common.settings import AuthSettings, KafkaSettings
from services.ingest.app import create_app
from services.ingest.genai_spans import map_spans
from services.ingest.otlp_decoding import JSON, PROTOBUF, DecompressedTooLarge, OtlpBodyError, Span, decode_traces, gunzip
from services.ingest.settings import IngestSettings
from tests.support.otel import genai_attributes, json_body, make_spans, protobuf_body

CLIENT = "tokentally.client_id"
PROJECT = "tokentally.project"


def _span(attributes: dict, resource: dict | None = None, end: int = 1_790_000_000_123_456_789) -> Span:
    return Span("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", end, attributes, resource or {})


def test_protobuf_and_json_bodies_decode_to_the_same_spans() -> None:
    spans = make_spans([genai_attributes(**{CLIENT: "acme"}), {"http.method": "GET"}], {"service.name": "bot"})
    from_protobuf = decode_traces(protobuf_body(spans), PROTOBUF)
    from_json = decode_traces(orjson.dumps(json_body(spans)), JSON)
    assert from_protobuf == from_json
    first = from_protobuf[0]
    context = spans[0].get_span_context()
    assert (first.trace_id, first.span_id) == (f"{context.trace_id:032x}", f"{context.span_id:016x}")
    assert first.end_unix_nano == spans[0].end_time
    assert first.attributes["gen_ai.usage.input_tokens"] == 100
    assert first.resource["service.name"] == "bot"


def test_snake_case_json_is_read_too() -> None:
    body = {"resource_spans": [{"scope_spans": [{"spans": [{
        "trace_id": "0af7651916cd43dd8448eb211c80319c", "span_id": "b7ad6b7169203331", "end_time_unix_nano": 5,
        "attributes": [{"key": "gen_ai.usage.input_tokens", "value": {"int_value": 7}}]}]}]}]}
    (span,) = decode_traces(orjson.dumps(body), JSON)
    assert (span.end_unix_nano, span.attributes) == (5, {"gen_ai.usage.input_tokens": 7})


@pytest.mark.parametrize(("body", "message"), [
    (b"{", "malformed JSON"),
    (b"[]", "JSON ExportTraceServiceRequest object"),
    (b'{"resourceSpans": {}}', "resourceSpans: expected an array"),
    (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "xyz", "spanId": "b7ad6b7169203331"}]}]}]}',
     "resourceSpans[0].scopeSpans[0].spans[0].traceId: expected 32 hex digits"),
])
def test_unreadable_json_names_the_place(body: bytes, message: str) -> None:
    with pytest.raises(OtlpBodyError, match=message.replace("[", r"\[").replace("]", r"\]")):
        decode_traces(body, JSON)


def test_garbage_protobuf_is_a_body_error() -> None:
    with pytest.raises(OtlpBodyError, match="protobuf"):
        decode_traces(b"\xff\xff\xff\xff", PROTOBUF)


def test_gzip_is_undone_and_bounded() -> None:
    assert gunzip(gzip.compress(b"x" * 100), "gzip", 100) == b"x" * 100
    with pytest.raises(DecompressedTooLarge):
        gunzip(gzip.compress(b"x" * 101), "gzip", 100)
    with pytest.raises(OtlpBodyError, match="gzip"):
        gunzip(b"not gzip", "gzip", 100)


def test_cache_counts_come_out_of_the_input_count_as_the_semconv_says() -> None:
    attributes = genai_attributes(input_tokens=1000, output_tokens=300, **{
        "gen_ai.usage.cache_read.input_tokens": 600, "gen_ai.usage.cache_creation.input_tokens": 100,
        "gen_ai.usage.reasoning.output_tokens": 120, "gen_ai.response.model": "gpt-4o-2024-08-06", CLIENT: "acme"})
    (event,) = map_spans([_span(attributes)], CLIENT, PROJECT).events
    assert event["event_id"] == "0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331"
    assert (event["client_id"], event["provider"], event["model"]) == ("acme", "openai", "gpt-4o-2024-08-06")
    assert [event[k] for k in ("input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens",
                               "reasoning_tokens")] == [300, 600, 100, 180, 120]
    assert event["timestamp"] == datetime(2026, 9, 21, 14, 13, 20, 123456, tzinfo=UTC)


def test_disjoint_anthropic_style_counts_are_kept_as_they_are() -> None:
    attributes = genai_attributes(provider="anthropic", input_tokens=21, output_tokens=393, **{
        "gen_ai.usage.cache_read.input_tokens": 1000, "gen_ai.usage.cache_creation.input_tokens": 188086})
    (event,) = map_spans([_span(attributes, {CLIENT: "acme", PROJECT: "support"})], CLIENT, PROJECT).events
    assert [event[k] for k in ("input_tokens", "cache_read_tokens", "cache_write_tokens")] == [21, 1000, 188086]
    assert event["project"] == "support"


def test_the_span_attribute_wins_over_the_resource_and_semconv_providers_are_renamed() -> None:
    attributes = genai_attributes(provider="gcp.gemini", **{CLIENT: "from-span"})
    (event,) = map_spans([_span(attributes, {CLIENT: "from-resource"})], CLIENT, PROJECT).events
    assert (event["client_id"], event["provider"]) == ("from-span", "google")
    legacy = {"gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o", "gen_ai.usage.prompt_tokens": 5,
              "gen_ai.usage.completion_tokens": 6, "user.id": "bob"}
    (old,) = map_spans([_span(legacy)], "user.id", PROJECT).events
    assert (old["client_id"], old["input_tokens"], old["output_tokens"]) == ("bob", 5, 6)


def test_spans_without_usage_are_ignored_and_without_client_refused() -> None:
    mapping = map_spans([_span({"http.method": "GET"}), _span({"gen_ai.operation.name": "execute_tool"}),
                         _span(genai_attributes()),
                         _span(genai_attributes(input_tokens=-1, **{CLIENT: "acme"})),
                         _span({**genai_attributes(**{CLIENT: "acme"}), "gen_ai.request.model": ""})],
                        CLIENT, PROJECT)
    assert (mapping.events, mapping.ignored, mapping.without_client) == ([], 2, 1)
    assert len(mapping.invalid) == 2
    assert "gen_ai.usage.input_tokens must be a non-negative integer" in mapping.invalid[0]
    assert "no gen_ai.response.model or gen_ai.request.model" in mapping.invalid[1]


# --- the endpoint, without Kafka ---------------------------------------------------------

INGEST_KEY = "ingest-key-for-tests-0001"
CLIENT_KEY = "client-key-for-tests-0001"


@pytest.fixture
async def ingest() -> AsyncIterator[httpx.AsyncClient]:
    keys = [{"key": INGEST_KEY, "scope": "ingest"}, {"key": CLIENT_KEY, "scope": "client:acme"}]
    settings = IngestSettings(kafka=KafkaSettings(bootstrap_servers="127.0.0.1:9"),
                              auth=AuthSettings(api_keys=SecretStr(json.dumps(keys))),
                              publish_timeout_seconds=2, max_body_bytes=4096)
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
        yield client


def _headers(content_type: str = PROTOBUF, key: str = INGEST_KEY, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "content-type": content_type, **extra}


async def test_spans_without_usage_or_client_never_reach_kafka(ingest: httpx.AsyncClient) -> None:
    """Kafka is down: a 200 proves nothing was published."""
    spans = make_spans([{"http.method": "GET"}, genai_attributes(), genai_attributes()])
    reply = await ingest.post("/v1/traces", content=protobuf_body(spans), headers=_headers())
    assert reply.status_code == 200
    assert reply.headers["content-type"] == PROTOBUF
    response = ExportTraceServiceResponse.FromString(reply.content)
    assert response.partial_success.rejected_spans == 2
    assert "'tokentally.client_id' attribute" in response.partial_success.error_message

    as_json = await ingest.post("/v1/traces", content=gzip.compress(orjson.dumps(json_body(spans))),
                                headers=_headers(JSON, **{"content-encoding": "gzip"}))
    assert as_json.status_code == 200
    assert as_json.json()["partialSuccess"]["rejectedSpans"] == "2"


async def test_a_span_to_publish_with_kafka_down_is_503(ingest: httpx.AsyncClient) -> None:
    spans = make_spans([genai_attributes(**{CLIENT: "acme"})])
    reply = await ingest.post("/v1/traces", content=protobuf_body(spans), headers=_headers())
    assert reply.status_code == 503
    assert reply.headers["retry-after"].isdigit()


async def test_the_http_errors(ingest: httpx.AsyncClient) -> None:
    body = protobuf_body(make_spans([genai_attributes()]))
    assert (await ingest.post("/v1/traces", content=body, headers={"content-type": PROTOBUF})).status_code == 401
    assert (await ingest.post("/v1/traces", content=body, headers=_headers(key=CLIENT_KEY))).status_code == 403
    assert (await ingest.post("/v1/traces", content=body, headers=_headers("text/plain"))).status_code == 415
    zstd = await ingest.post("/v1/traces", content=body, headers=_headers(**{"content-encoding": "br"}))
    assert zstd.status_code == 415
    bomb = await ingest.post("/v1/traces", content=gzip.compress(b"\0" * 100_000),
                             headers=_headers(**{"content-encoding": "gzip"}))
    assert bomb.status_code == 413
    garbage = await ingest.post("/v1/traces", content=b"\xff\xff\xff", headers=_headers())
    assert garbage.status_code == 422
    assert "protobuf" in garbage.json()["detail"]


async def test_the_openapi_document_declares_every_answer(ingest: httpx.AsyncClient) -> None:
    spec = (await ingest.get("/openapi.json")).json()
    assert spec["components"]["securitySchemes"]["HTTPBearer"] == {"type": "http", "scheme": "bearer"}
    events = spec["paths"]["/v1/events"]["post"]
    traces = spec["paths"]["/v1/traces"]["post"]
    assert set(events["responses"]) == {"202", "401", "403", "413", "415", "422", "503"}
    assert set(traces["responses"]) == {"200", "401", "403", "413", "415", "422", "503"}
    assert events["security"] == traces["security"] == [{"HTTPBearer": []}]
    error = spec["components"]["schemas"]["ErrorBody"]
    assert set(error["required"]) == {"error", "detail"}
    # the 422 of /v1/events is either the per-event answer or an error body, as really sent
    refs = json.dumps(events["responses"]["422"]["content"]["application/json"]["schema"])
    assert "IngestResult" in refs and "ErrorBody" in refs


async def test_the_openapi_document_declares_the_request_bodies(ingest: httpx.AsyncClient) -> None:
    spec = (await ingest.get("/openapi.json")).json()
    events = spec["paths"]["/v1/events"]["post"]["requestBody"]["content"]
    assert set(events) == {"application/json", "application/x-ndjson"}
    event = spec["components"]["schemas"]["UsageEventIn"]
    assert {"event_id", "client_id", "provider", "model"} <= set(event["required"])
    assert "usage" in event["properties"]
    traces = spec["paths"]["/v1/traces"]["post"]["requestBody"]["content"]
    assert set(traces) == {"application/x-protobuf", "application/json"}
    # every $ref in the document resolves
    text = json.dumps(spec)
    for name in {part.split('"')[0] for part in text.split('"#/components/schemas/')[1:]}:
        assert name in spec["components"]["schemas"], name
