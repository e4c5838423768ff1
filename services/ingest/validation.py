"""A batch of items → accepted ``UsageRecorded`` events and per-item rejections.

A batch is never all-or-nothing: each item either becomes a ``UsageRecorded`` or a
``Rejection`` naming its index and the fields at fault, so one bad event in a 10,000-event
batch does not cost the client the other 9,999.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import cache
from typing import Any

from pydantic import TypeAdapter, ValidationError

from libs.common.events import UsageRecorded
from libs.common.gc_pause import gc_paused
from services.ingest.schemas import FieldError, Rejection, UsageEventIn
from services.ingest.timestamps import TimestampWindow

__all__ = ["field_errors", "to_recorded", "validate_batch", "validate_indexed", "validate_inputs"]


def to_recorded(event: UsageEventIn, received_at: datetime) -> UsageRecorded:
    """The Kafka event for an accepted input; ``received_at`` must be timezone-aware."""
    return UsageRecorded.model_validate(_recorded_fields(event, received_at))


def _recorded_fields(event: UsageEventIn, received_at: datetime) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "client_id": event.client_id,
        "provider": event.provider,
        "model": event.model,
        "timestamp": event.timestamp or received_at,
        "received_at": received_at,
        "input_tokens": event.input_tokens,
        "output_tokens": event.output_tokens,
        "cache_read_tokens": event.cache_read_tokens,
        "cache_write_tokens": event.cache_write_tokens,
        "reasoning_tokens": event.reasoning_tokens,
        "cache_write_1h_tokens": event.cache_write_1h_tokens,
        "input_audio_tokens": event.input_audio_tokens,
        "output_audio_tokens": event.output_audio_tokens,
        "cache_audio_read_tokens": event.cache_audio_read_tokens,
        "input_image_tokens": event.input_image_tokens,
        "cache_image_read_tokens": event.cache_image_read_tokens,
        "output_image_tokens": event.output_image_tokens,
        "project": event.project,
        "tags": event.tags,
    }


@cache
def _recorded_list_adapter() -> TypeAdapter[list[UsageRecorded]]:
    """Built once, on first use (building a schema costs milliseconds)."""
    return TypeAdapter(list[UsageRecorded])


def validate_batch(items: list[Any], received_at: datetime, window: TimestampWindow | None = None,
                   ) -> tuple[list[UsageRecorded], list[Rejection]]:
    """``validate_indexed`` without the indices of the accepted events."""
    accepted, rejected = validate_indexed(items, received_at, window)
    return [event for _, event in accepted], rejected


def validate_indexed(items: list[Any], received_at: datetime, window: TimestampWindow | None = None,
                     ) -> tuple[list[tuple[int, UsageRecorded]], list[Rejection]]:
    """Split a batch into accepted events (with their index) and rejections; never raises for a bad item.

    ``window`` bounds the timestamps (default: everything TokenTally can store); an event
    outside it is rejected on ``timestamp``. The accepted events are built in one pydantic
    call, ~30% cheaper than one by one. Ingest's own path skips this step
    (``validate_inputs``, then ``records.record_rows`` and ``pack_rows``); tools and tests use it.
    """
    if received_at.utcoffset() is None:
        raise ValueError("received_at must be timezone-aware")
    with gc_paused():
        events, rejected = validate_inputs(items, window)
        accepted = _record(events, received_at, rejected)
    rejected.sort(key=lambda rejection: rejection.index)
    return accepted, rejected


@cache
def _inputs_adapter() -> TypeAdapter[list[UsageEventIn]]:
    return TypeAdapter(list[UsageEventIn])


def validate_inputs(items: list[Any], window: TimestampWindow | None = None,
                    ) -> tuple[list[tuple[int, UsageEventIn]], list[Rejection]]:
    """Split a batch into valid inputs (with their index) and rejections sorted by index.

    The whole list is validated in one pydantic call first; only when some item fails is the
    batch validated again item by item, which names each bad item and keeps the good ones.
    Then each timestamp is checked against ``window``. Measured on 1,000-event batches: 3.3 µs
    an event when all are valid (item by item: ~4.9), 7.0 when one is not (both passes), a
    cost only a client sending bad events sees.
    """
    window = window or TimestampWindow.storable()
    rejected: list[Rejection] = []
    validated: Iterable[tuple[int, UsageEventIn]]
    try:
        validated = enumerate(_inputs_adapter().validate_python(items))
    except ValidationError:
        validated = _validate_each(items, rejected)
    earliest, latest = window.earliest, window.latest
    events: list[tuple[int, UsageEventIn]] = []
    for pair in validated:
        stamp = pair[1].timestamp
        if stamp is None or earliest <= stamp <= latest:  # ``window.problem`` inlined: it runs per event
            events.append(pair)
        else:
            rejected.append(Rejection(index=pair[0], errors=[FieldError(field="timestamp",
                                                                        message=window.outside(stamp))]))
    rejected.sort(key=lambda rejection: rejection.index)
    return events, rejected


def _validate_each(items: list[Any], rejected: list[Rejection]) -> list[tuple[int, UsageEventIn]]:
    valid: list[tuple[int, UsageEventIn]] = []
    for index, item in enumerate(items):
        try:
            valid.append((index, UsageEventIn.model_validate(item)))
        except ValidationError as exc:
            rejected.append(Rejection(index=index, errors=field_errors(exc)))
    return valid


def _record(
    events: list[tuple[int, UsageEventIn]], received_at: datetime, rejected: list[Rejection]
) -> list[tuple[int, UsageRecorded]]:
    """Valid inputs → ``UsageRecorded``; should ``events.py`` ever be stricter than the input
    model, the events it refuses become rejections instead of failing the batch."""
    rows = [_recorded_fields(event, received_at) for _, event in events]
    try:
        return list(zip((index for index, _ in events), _recorded_list_adapter().validate_python(rows), strict=True))
    except ValidationError:
        pass
    accepted: list[tuple[int, UsageRecorded]] = []
    for (index, _), row in zip(events, rows, strict=True):
        try:
            accepted.append((index, UsageRecorded.model_validate(row)))
        except ValidationError as exc:
            rejected.append(Rejection(index=index, errors=field_errors(exc)))
    return accepted


def field_errors(exc: ValidationError) -> list[FieldError]:
    """A validation error of one event as ``{field, message}`` pairs, paths within the event."""
    errors: list[FieldError] = []
    for error in exc.errors(include_url=False, include_input=False):
        errors.extend(_field_errors(error, error["loc"]))
    return errors


_MESSAGES = {
    "missing": "field required",
    "extra_forbidden": "unknown field",
    "model_type": "event must be a JSON object",
}


def _field_errors(error: Any, path: tuple[Any, ...]) -> list[FieldError]:
    """pydantic's error → our ``{field, message}``; a usage object can yield several."""
    ctx = error.get("ctx") or {}
    if "issues" in ctx:
        return [FieldError(field=field, message=message) for field, message in ctx["issues"]]
    field = ctx.get("field") or ".".join(str(part) for part in path)
    return [FieldError(field=field, message=_MESSAGES.get(error["type"], error["msg"]))]
