"""The request bodies of ingest's endpoints in its OpenAPI document.

The routes read their bodies themselves (JSON, NDJSON, protobuf, gzip), so FastAPI cannot
derive them; without this a generated client would have no body to send. ``/v1/events`` takes
one ``UsageEventIn``, an array of them, or NDJSON; ``/v1/traces`` an OTLP
``ExportTraceServiceRequest``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from services.ingest.schemas import MAX_BATCH_ITEMS, UsageEventIn

__all__ = ["document_request_bodies"]


def document_request_bodies(app: FastAPI) -> None:
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        spec = build()
        event = UsageEventIn.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas = spec.setdefault("components", {}).setdefault("schemas", {})
        schemas.update(event.pop("$defs", {}))
        schemas["UsageEventIn"] = event
        ref = {"$ref": "#/components/schemas/UsageEventIn"}
        spec["paths"]["/v1/events"]["post"]["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": {"oneOf": [ref, {"type": "array", "items": ref,
                                                             "maxItems": MAX_BATCH_ITEMS}]}},
            "application/x-ndjson": {"schema": {"type": "string",
                                                "description": "One UsageEventIn JSON object per line."}},
        }}
        spec["paths"]["/v1/traces"]["post"]["requestBody"] = {"required": True, "content": {
            "application/x-protobuf": {"schema": {"type": "string", "format": "binary",
                                                  "description": "An OTLP ExportTraceServiceRequest."}},
            "application/json": {"schema": {"type": "object",
                                            "description": "An OTLP ExportTraceServiceRequest in OTLP/JSON."}},
        }}
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
