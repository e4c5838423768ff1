"""Accepted inputs → message bodies of ``usage.recorded.v1``, without building ``UsageRecorded`` models.

A body is what ``libs.common.kafka.encode_batch`` writes for a list of ``UsageRecorded``,
byte for byte (same fields in the same order, UTC times ending in ``Z``): pricing decodes it
with ``decode_batch(UsageRecorded, ...)``, and ``tests/ingest/test_records.py`` holds the two
encoders to the same bytes. Building a ``UsageRecorded`` per event validated every field a
second time and was then dumped by pydantic: measured on 1,000-event batches, ~8 µs of the
~17 µs ingest spent per event; a dict per event dumped by orjson costs ~1.5 µs.

Bodies are packed like ``libs.common.kafka.pack``: at most ``EVENTS_PER_MESSAGE`` events and
``max_bytes`` bytes each; a chunk over the limit is split and encoded again, and an event
too large to travel alone is reported with its encoded size.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from libs.common.events import UsageRecorded
from libs.common.kafka import EVENTS_PER_MESSAGE
from services.ingest.schemas import UsageEventIn

__all__ = ["Packed", "Row", "encode_rows", "pack_rows", "record_rows"]

Row = dict[str, Any]


_ROW_TEMPLATE: Row = dict.fromkeys([*UsageRecorded.model_fields, "usage"])
"""``UsageRecorded``'s fields in its order (the order ``model_dump_json`` writes), and a slot for
the input's ``usage``, so filling a copy with an input's values never grows or reorders it."""


def record_rows(events: Iterable[tuple[int, UsageEventIn]], received_at: datetime) -> list[Row]:
    """The ``UsageRecorded`` fields of each accepted ``(index, input)``, in that model's order.

    Each row is a copy of the template updated from the input's validated values, all in C:
    ~0.7 µs an event against ~1.1 for a dict written out field by field.
    """
    rows: list[Row] = []
    for _, event in events:
        row = _ROW_TEMPLATE.copy()
        row.update(event.__dict__)
        del row["usage"]
        if row["timestamp"] is None:
            row["timestamp"] = received_at
        row["received_at"] = received_at
        rows.append(row)
    return rows


def encode_rows(rows: Sequence[Row]) -> bytes:
    """A JSON array of rows as pydantic writes ``UsageRecorded`` (times are UTC: ``...Z``)."""
    return orjson.dumps(rows, option=orjson.OPT_UTC_Z)


@dataclass(slots=True)
class Packed:
    """One client's rows as message bodies, and those too large to travel even alone."""

    messages: list[tuple[bytes, int]] = field(default_factory=list)
    """``(body, events in it)``."""
    oversized: list[tuple[Row, int]] = field(default_factory=list)
    """``(row, encoded size)`` of each event over the limit alone."""


def pack_rows(rows: Sequence[Row], max_bytes: int, max_events: int = EVENTS_PER_MESSAGE) -> Packed:
    """Bodies of at most ``max_events`` rows and ``max_bytes`` bytes."""
    packed = Packed()
    if len(rows) <= max_events:  # most clients of a request: no slice, no loop
        _pack_chunk(rows, max_bytes, packed)
        return packed
    for start in range(0, len(rows), max_events):
        _pack_chunk(rows[start : start + max_events], max_bytes, packed)
    return packed


def _pack_chunk(rows: Sequence[Row], max_bytes: int, packed: Packed) -> None:
    body = encode_rows(rows)
    if len(body) <= max_bytes:
        packed.messages.append((body, len(rows)))
    elif len(rows) == 1:
        packed.oversized.append((rows[0], len(body)))
    else:
        parts = min(len(rows), -(-len(body) // max_bytes))
        size = -(-len(rows) // parts)
        for start in range(0, len(rows), size):
            _pack_chunk(rows[start : start + size], max_bytes, packed)
