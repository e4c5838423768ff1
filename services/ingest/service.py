"""Ingesting one request: parse, validate (timestamps within the window), pack by count and size, publish."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from libs.common.auth import Principal
from libs.common.gc_pause import gc_paused
from libs.common.metrics import EVENTS_ACCEPTED, EVENTS_RECEIVED, EVENTS_REJECTED
from services.ingest.bodies import parse_body
from services.ingest.publisher import Message, UsagePublisher
from services.ingest.records import Row, pack_rows, record_rows
from services.ingest.schemas import FieldError, Rejection, UsageEventIn
from services.ingest.settings import IngestSettings
from services.ingest.timestamps import TimestampWindow
from services.ingest.validation import validate_inputs

_VARIABLE_FIELDS = ("tags", "project", "event_id", "model", "provider", "client_id")


class IngestResult(BaseModel):
    accepted: int
    rejected: list[Rejection]


@dataclass(slots=True)
class Prepared:
    """A request's messages, ready to publish, and the items that were not accepted."""

    messages: list[Message]
    rejected: list[Rejection]


@dataclass
class IngestService:
    publisher: UsagePublisher
    settings: IngestSettings

    def window(self, principal: Principal, now: datetime) -> TimestampWindow:
        """Admin keys may backfill history; every other key gets the recent window."""
        return TimestampWindow.for_request(now, max_age_days=self.settings.max_age_days,
                                           max_future_seconds=self.settings.max_future_seconds,
                                           backfill=principal.is_admin)

    async def ingest(self, raw: bytes, content_type: str, principal: Principal, received_at: datetime) -> IngestResult:
        """Accept every valid event, or none when Kafka is away (``Unavailable``: send again)."""
        with gc_paused():  # see ``prepare``: the parsed items die with it, before the collector is back
            prepared = self.prepare(parse_body(raw, content_type), principal, received_at)
        return await self.publish(prepared)

    async def ingest_items(self, items: list[Any], principal: Principal, received_at: datetime) -> IngestResult:
        """Validate, pack and publish decoded items (from ``/v1/events`` or OTLP spans)."""
        with gc_paused():
            prepared = self.prepare(items, principal, received_at)
        return await self.publish(prepared)

    def prepare(self, items: list[Any], principal: Principal, received_at: datetime) -> Prepared:
        """Validate and pack; call with the collector paused.

        A batch makes a few objects per event that all live until it is packed; with the
        collector running it scans them again and again (and once more when it is resumed,
        if they are still alive then), so callers pause it around this call, whose
        objects are all freed when it returns.
        """
        EVENTS_RECEIVED.inc(len(items))
        events, rejected = validate_inputs(items, self.window(principal, received_at))
        rows = record_rows(events, received_at)
        by_client: dict[str, list[Row]] = {}
        for row in rows:
            by_client.setdefault(row["client_id"], []).append(row)
        max_bytes = self.settings.kafka.max_message_bytes
        messages: list[Message] = []
        oversized: list[tuple[Row, int]] = []
        for client_id, group in by_client.items():
            packed = pack_rows(group, max_bytes)
            for body, count in packed.messages:
                messages.append((client_id, body, count))
            oversized += packed.oversized
        if oversized:
            position = {id(row): number for number, row in enumerate(rows)}
            for row, size in oversized:
                index, event = events[position[id(row)]]
                rejected.append(Rejection(index=index, errors=[too_large(event, size, max_bytes)]))
            rejected.sort(key=lambda rejection: rejection.index)
        return Prepared(messages, rejected)

    async def publish(self, prepared: Prepared) -> IngestResult:
        if prepared.messages:
            await self.publisher.publish(prepared.messages)
        count = sum(events for _, _, events in prepared.messages)
        EVENTS_ACCEPTED.inc(count)
        for rejection in prepared.rejected:
            EVENTS_REJECTED.labels(field=rejection.errors[0].field.split(".")[0] if rejection.errors else "").inc()
        return IngestResult(accepted=count, rejected=prepared.rejected)


def too_large(event: UsageEventIn, size: int, limit: int) -> FieldError:
    """Name the field that makes an event too large to travel alone (tags, nearly always)."""
    sizes = {name: len(str(getattr(event, name) or "").encode()) for name in _VARIABLE_FIELDS}
    field = max(sizes, key=lambda name: sizes[name])
    return FieldError(field=field, message=f"event is {size:,} bytes encoded, over the {limit:,}-byte message "
                                           f"limit; {field} is its largest part: make it smaller")
