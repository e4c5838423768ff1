"""Ingesting one request: parse, validate (timestamps within the window), pack by count and size, publish."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from libs.common.auth import Principal
from libs.common.events import UsageRecorded
from libs.common.kafka import group_by_client, pack
from libs.common.metrics import EVENTS_ACCEPTED, EVENTS_RECEIVED, EVENTS_REJECTED
from services.ingest.bodies import parse_body
from services.ingest.publisher import UsagePublisher
from services.ingest.schemas import FieldError, Rejection
from services.ingest.settings import IngestSettings
from services.ingest.timestamps import TimestampWindow
from services.ingest.validation import validate_indexed

_VARIABLE_FIELDS = ("tags", "project", "event_id", "model", "provider", "client_id")


class IngestResult(BaseModel):
    accepted: int
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
        return await self.ingest_items(parse_body(raw, content_type), principal, received_at)

    async def ingest_items(self, items: list[Any], principal: Principal, received_at: datetime) -> IngestResult:
        """Validate, pack and publish decoded items (from ``/v1/events`` or OTLP spans)."""
        EVENTS_RECEIVED.inc(len(items))
        accepted, rejected = validate_indexed(items, received_at, self.window(principal, received_at))
        index_of = {id(event): index for index, event in accepted}
        max_bytes = self.settings.kafka.max_message_bytes
        messages: list[tuple[str, bytes, int]] = []
        for client_id, group in group_by_client(event for _, event in accepted).items():
            packed = pack(group, max_bytes)
            messages.extend((client_id, body, len(chunk)) for body, chunk in packed.messages)
            rejected.extend(Rejection(index=index_of[id(event)], errors=[too_large(event, size, max_bytes)])
                            for event, size in packed.oversized)
        if messages:
            await self.publisher.publish(messages)
        count = sum(events for _, _, events in messages)
        EVENTS_ACCEPTED.inc(count)
        for rejection in rejected:
            EVENTS_REJECTED.labels(field=rejection.errors[0].field.split(".")[0] if rejection.errors else "").inc()
        rejected.sort(key=lambda rejection: rejection.index)
        return IngestResult(accepted=count, rejected=rejected)


def too_large(event: UsageRecorded, size: int, limit: int) -> FieldError:
    """Name the field that makes an event too large to travel alone (tags, nearly always)."""
    sizes = {name: len(str(getattr(event, name) or "").encode()) for name in _VARIABLE_FIELDS}
    field = max(sizes, key=lambda name: sizes[name])
    return FieldError(field=field, message=f"event is {size:,} bytes encoded, over the {limit:,}-byte message "
                                           f"limit; {field} is its largest part: make it smaller")
