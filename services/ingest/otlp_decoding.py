"""OTLP/HTTP trace bodies (protobuf or JSON, optionally gzip) → flat ``Span`` records.

Protobuf is decoded with ``opentelemetry-proto``'s ``ExportTraceServiceRequest`` (the upb
backend: native speed). OTLP/JSON is not plain proto3 JSON (trace and span ids are hex, not
base64; enum values are integers), so it is read with orjson and walked the same way;
both camelCase (the spec's) and snake_case field names are accepted, as proto3 JSON
parsers do. Only what a usage event needs is kept: ids, end time and attributes.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from libs.common.errors import InvalidInput
from services.ingest.bodies import UnsupportedMediaType

__all__ = ["JSON", "PROTOBUF", "DecompressedTooLarge", "OtlpBodyError", "Span", "decode_traces", "encode_response", "gunzip",
           "otlp_media_type"]

PROTOBUF = "application/x-protobuf"
JSON = "application/json"

Attributes = dict[str, Any]


class OtlpBodyError(InvalidInput):
    """The body is not a readable ExportTraceServiceRequest."""


class DecompressedTooLarge(InvalidInput):
    """A gzip body that inflates past the size limit (the endpoint answers 413)."""


@dataclass(frozen=True, slots=True)
class Span:
    trace_id: str
    """32 lowercase hex digits."""
    span_id: str
    """16 lowercase hex digits."""
    end_unix_nano: int
    attributes: Attributes
    resource: Attributes


def otlp_media_type(content_type: str) -> str:
    """``application/x-protobuf`` or ``application/json``; anything else is a 415."""
    media_type = (content_type or "").partition(";")[0].strip().lower()
    if media_type in (PROTOBUF, JSON):
        return media_type
    raise UnsupportedMediaType(f"unsupported content type {content_type!r}; OTLP/HTTP sends {PROTOBUF} or {JSON}")


def gunzip(raw: bytes, content_encoding: str, limit: int) -> bytes:
    """Undo ``Content-Encoding: gzip`` (or none), refusing to inflate past ``limit`` bytes."""
    encoding = (content_encoding or "").strip().lower()
    if encoding in ("", "identity"):
        return raw
    if encoding != "gzip":
        raise UnsupportedMediaType(f"unsupported content encoding {content_encoding!r}; send gzip or none")
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        body = inflater.decompress(raw, limit + 1)
    except zlib.error as exc:
        raise OtlpBodyError(f"body is not valid gzip: {exc}") from None
    if len(body) > limit or inflater.unconsumed_tail:
        raise DecompressedTooLarge(f"gzip body inflates past the {limit}-byte limit; send smaller batches")
    return body


def decode_traces(body: bytes, media_type: str) -> list[Span]:
    """Every span of the request, with its resource's attributes."""
    if media_type == PROTOBUF:
        return list(_from_protobuf(body))
    return list(_from_json(body))


def encode_response(media_type: str, rejected_spans: int, error_message: str) -> bytes:
    """``ExportTraceServiceResponse`` in the request's encoding; ``partial_success`` only when needed."""
    if media_type == PROTOBUF:
        response = ExportTraceServiceResponse()
        if rejected_spans or error_message:
            response.partial_success.rejected_spans = rejected_spans
            response.partial_success.error_message = error_message
        return response.SerializeToString()
    if not (rejected_spans or error_message):
        return b"{}"
    # proto3 JSON writes int64 as a string.
    return orjson.dumps({"partialSuccess": {"rejectedSpans": str(rejected_spans), "errorMessage": error_message}})


# --- protobuf ----------------------------------------------------------------------------


def _from_protobuf(body: bytes) -> Iterator[Span]:
    try:
        request = ExportTraceServiceRequest.FromString(body)
    except DecodeError as exc:
        raise OtlpBodyError(f"body is not a protobuf ExportTraceServiceRequest: {exc}") from None
    for resource_spans in request.resource_spans:
        resource = _proto_attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                yield Span(span.trace_id.hex(), span.span_id.hex(), span.end_time_unix_nano,
                           _proto_attributes(span.attributes), resource)


def _proto_attributes(pairs: Any) -> Attributes:
    return {pair.key: _proto_value(pair.value) for pair in pairs}


def _proto_value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_proto_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return _proto_attributes(value.kvlist_value.values)
    return getattr(value, kind)


# --- JSON --------------------------------------------------------------------------------


def _from_json(body: bytes) -> Iterator[Span]:
    try:
        request = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise OtlpBodyError(f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    if not isinstance(request, dict):
        raise OtlpBodyError("body must be a JSON ExportTraceServiceRequest object")
    for r, resource_spans in enumerate(_list(request, "resourceSpans", "resource_spans", "")):
        where = f"resourceSpans[{r}]"
        resource = _json_attributes(_object(resource_spans, "resource", "resource", where), f"{where}.resource")
        for s, scope_spans in enumerate(_list(resource_spans, "scopeSpans", "scope_spans", where)):
            for n, span in enumerate(_list(scope_spans, "spans", "spans", f"{where}.scopeSpans[{s}]")):
                path = f"{where}.scopeSpans[{s}].spans[{n}]"
                if not isinstance(span, dict):
                    raise OtlpBodyError(f"{path}: expected an object")
                yield Span(_hex_id(span, "traceId", "trace_id", 16, path), _hex_id(span, "spanId", "span_id", 8, path),
                           _int(_field(span, "endTimeUnixNano", "end_time_unix_nano") or 0, f"{path}.endTimeUnixNano"),
                           _json_attributes(span, path), resource)


def _field(container: Mapping[str, Any], camel: str, snake: str) -> Any:
    value = container.get(camel)
    return container.get(snake) if value is None else value


def _list(container: Any, camel: str, snake: str, where: str) -> list[Any]:
    if not isinstance(container, dict):
        raise OtlpBodyError(f"{where or 'body'}: expected an object")
    value = _field(container, camel, snake)
    if value is None:
        return []
    if not isinstance(value, list):
        raise OtlpBodyError(f"{where + '.' if where else ''}{camel}: expected an array")
    return value


def _object(container: Mapping[str, Any], camel: str, snake: str, where: str) -> Mapping[str, Any]:
    value = _field(container, camel, snake)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise OtlpBodyError(f"{where}.{camel}: expected an object")
    return value


def _hex_id(span: Mapping[str, Any], camel: str, snake: str, size: int, path: str) -> str:
    value = _field(span, camel, snake)
    if not isinstance(value, str) or len(value) != 2 * size:
        raise OtlpBodyError(f"{path}.{camel}: expected {2 * size} hex digits")
    try:
        bytes.fromhex(value)
    except ValueError:
        raise OtlpBodyError(f"{path}.{camel}: expected {2 * size} hex digits") from None
    return value.lower()


def _json_attributes(container: Mapping[str, Any], path: str) -> Attributes:
    pairs = _list(container, "attributes", "attributes", path)
    attributes: Attributes = {}
    for i, pair in enumerate(pairs):
        if not isinstance(pair, dict) or not isinstance(pair.get("key"), str):
            raise OtlpBodyError(f"{path}.attributes[{i}]: expected {{\"key\": ..., \"value\": ...}}")
        attributes[pair["key"]] = _json_value(pair.get("value"), f"{path}.attributes[{i}].value")
    return attributes


_JSON_SCALARS = {
    "stringValue": "s", "string_value": "s", "boolValue": "b", "bool_value": "b",
    "intValue": "i", "int_value": "i", "doubleValue": "d", "double_value": "d",
    "bytesValue": "s", "bytes_value": "s",
}


def _json_value(value: Any, path: str) -> Any:
    if not isinstance(value, dict) or not value:
        return None
    key, item = next(iter(value.items()))
    kind = _JSON_SCALARS.get(key)
    if kind == "i":
        return _int(item, path)  # int64 travels as a JSON string
    if kind == "d":
        return float(item) if isinstance(item, (int, float, str)) and not isinstance(item, bool) else None
    if kind is not None:
        return item
    if key in ("arrayValue", "array_value") and isinstance(item, dict):
        return [_json_value(element, path) for element in item.get("values") or []]
    if key in ("kvlistValue", "kvlist_value") and isinstance(item, dict):
        return _json_attributes(item, path)
    return None


def _int(value: Any, path: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    raise OtlpBodyError(f"{path}: expected an integer")
