"""Listing, fixing and re-driving dead letters: what an admin does with ``/v1/dead-letters``.

A dead letter is an event (or an unreadable message) a consumer gave up on for a
permanent reason: a timestamp or amount no table can hold, a message over the size
limit, data ClickHouse refused. Nothing retries it by itself. The admin reads it with its
reason, and either

- **re-drives** it, optionally with a fix (a JSON object whose fields replace the
  event's: ``{"timestamp": "2026-11-03T10:00:00Z"}``, ``{"tags": {}}``): the fixed event
  is checked like ingest checks an admin's event (fields, storable timestamp, size) and
  published to ``usage.recorded.v1``, so pricing prices it at today's prices for its own
  timestamp and the aggregator stores it, counted once by its ``(client_id, event_id)``;
  a letter whose message could not be read at all needs the whole event as the fix;
- or **discards** it with a note (it should not be billed).

Order of a re-drive: check the fix; publish and wait for the ack; record the letter as
``redriven``. A crash in between leaves the letter pending, and a second re-drive is
harmless: the aggregator's dedup drops the repeat.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiokafka.structs import ConsumerRecord
from faststream.kafka import KafkaBroker
from pydantic import ValidationError

from libs.common.errors import Conflict, InvalidInput, NotFound
from libs.common.events import UsageRecorded
from libs.common.kafka import encode_batch
from libs.common.limits import timestamp_problem
from libs.common.topics import USAGE_RECORDED, topic
from services.pricing.dead_letter_store import DeadLetterFilter, DeadLetterRecord, DeadLetterStore

_RECORDED_FIELDS = frozenset(UsageRecorded.model_fields)


def fixed_event(letter: DeadLetterRecord, fix: dict[str, Any] | None, now: datetime, max_bytes: int) -> UsageRecorded:
    """The letter's event with ``fix`` applied, checked; ``InvalidInput`` naming ``fix.<field>`` if not fit."""
    base = letter.payload if isinstance(letter.payload, dict) else {}
    fields = {name: value for name, value in base.items() if name in _RECORDED_FIELDS}  # drops price, cost, …
    fields.update(fix or {})
    fields.setdefault("received_at", now.isoformat())
    try:
        event = UsageRecorded.model_validate(fields)
    except ValidationError as exc:
        errors = [{"field": ".".join(["fix", *(str(p) for p in e["loc"])]), "message": e["msg"]}
                  for e in exc.errors(include_url=False)]
        if not base:
            errors.insert(0, {"field": "fix", "message": "the dead-lettered message could not be read as an event: "
                                                         "give the whole event"})
        raise InvalidInput("the fixed event is not valid", detail=errors) from None
    if problem := timestamp_problem(event.timestamp):
        raise InvalidInput(problem, detail=[{"field": "fix.timestamp", "message": problem}])
    size = len(encode_batch([event]))
    if size > max_bytes:
        message = f"the event is {size:,} bytes encoded, over the {max_bytes:,}-byte message limit"
        raise InvalidInput(message, detail=[{"field": "fix.tags", "message": message}])
    return event


class DeadLetterService:
    def __init__(self, store: DeadLetterStore, broker: KafkaBroker, prefix: str, max_message_bytes: int) -> None:
        self._store = store
        self._broker = broker
        self._prefix = prefix
        self._max_bytes = max_message_bytes

    async def record(self, records: list[ConsumerRecord]) -> None:
        """Store messages of the dead-letter topic (the recorder's batch)."""
        await self._store.record(records)

    async def list(self, wanted: DeadLetterFilter) -> list[DeadLetterRecord]:
        return await self._store.list(wanted)

    async def get(self, letter_id: str) -> DeadLetterRecord:
        letter = await self._store.get(letter_id)
        if letter is None:
            raise NotFound(f"no dead letter {letter_id!r}")
        return letter

    async def _pending(self, letter_id: str) -> DeadLetterRecord:
        letter = await self.get(letter_id)
        if letter.status != "pending":
            raise Conflict(f"dead letter {letter_id} was already {letter.status} ({letter.resolution})")
        return letter

    async def redrive(self, letter_id: str, fix: dict[str, Any] | None) -> tuple[DeadLetterRecord, UsageRecorded]:
        letter = await self._pending(letter_id)
        now = datetime.now(UTC)
        event = fixed_event(letter, fix, now, self._max_bytes)
        await self._broker.publish(encode_batch([event]), topic(USAGE_RECORDED, self._prefix),
                                   key=event.client_id.encode())
        changed = sorted(fix or {})
        resolution = f"re-driven as {event.client_id}/{event.event_id}" + (
            f" with {', '.join(changed)} fixed" if changed else " unchanged")
        await self._store.resolve(letter, "redriven", resolution, now)
        return await self.get(letter_id), event

    async def discard(self, letter_id: str, note: str) -> DeadLetterRecord:
        letter = await self._pending(letter_id)
        await self._store.resolve(letter, "discarded", f"discarded: {note}" if note else "discarded", datetime.now(UTC))
        return await self.get(letter_id)
