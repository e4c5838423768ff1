"""Request bodies: a JSON object, a JSON array, or NDJSON, into the list of items to validate."""

from __future__ import annotations

from typing import Any

import orjson

from libs.common.errors import InvalidInput
from libs.common.gc_pause import gc_paused
from services.ingest.schemas import MAX_BATCH_ITEMS

__all__ = ["BodyError", "UnsupportedMediaType", "parse_body"]

JSON_TYPES = frozenset({"application/json"})
NDJSON_TYPES = frozenset({"application/x-ndjson"})


class BodyError(InvalidInput):
    """The body as a whole is unusable (malformed JSON, wrong top-level type, too many items)."""


class UnsupportedMediaType(InvalidInput):
    """A content type we do not read; the endpoint should answer 415, not 400/422."""


def parse_body(raw: bytes, content_type: str) -> list[Any]:
    """Decode a JSON object, a JSON array, or NDJSON into the list of items to validate.

    Items are not checked here (a non-object item becomes a per-item rejection later);
    only problems that make the whole body unreadable raise.
    """
    media_type = _media_type(content_type)
    if media_type in NDJSON_TYPES:
        with gc_paused():
            return _parse_ndjson(raw)
    if media_type in JSON_TYPES:
        with gc_paused():
            return _parse_json(raw)
    raise UnsupportedMediaType(
        f"unsupported content type {content_type!r}; send application/json or application/x-ndjson"
    )


def _media_type(content_type: str) -> str:
    """``application/json; charset=utf-8`` → ``application/json``; JSON is UTF-8 only (RFC 8259)."""
    media_type, _, params = (content_type or "").partition(";")
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise UnsupportedMediaType(f"unsupported charset {value.strip()!r}; JSON must be UTF-8")
    return media_type.strip().lower()


def _parse_json(raw: bytes) -> list[Any]:
    if not raw or raw.isspace():
        raise BodyError("request body is empty; send a JSON object or an array of objects")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BodyError(f"malformed JSON at line {exc.lineno} column {exc.colno} (char {exc.pos}): {exc.msg}") from None
    if isinstance(body, dict):
        return [body]
    if not isinstance(body, list):
        raise BodyError(f"body must be a JSON object or an array of objects, not {_json_type(body)}")
    _check_size(len(body))
    return body


def _parse_ndjson(raw: bytes) -> list[Any]:
    """One JSON value per line; blank lines skipped; errors name the 1-based line number."""
    items: list[Any] = []
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append(orjson.loads(line))
        except orjson.JSONDecodeError as exc:
            raise BodyError(f"malformed JSON on line {number} at column {exc.colno}: {exc.msg}") from None
        _check_size(len(items))
    if not items:
        raise BodyError("request body has no events; send one JSON object per line")
    return items


def _check_size(count: int) -> None:
    if count > MAX_BATCH_ITEMS:
        raise BodyError(f"too many events: at most {MAX_BATCH_ITEMS:,} per request; split the batch")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    return "a number"
