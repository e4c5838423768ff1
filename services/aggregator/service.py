"""Exactly-once (in effect) recording of priced events.

Why a total never counts an event twice, even across crashes:
- Kafka gives at-least-once: a batch is committed only after this service returns, so a
  crash anywhere before the commit redelivers the batch.
- Events are keyed by (client_id, event_id). All events of a client travel in the same
  partition, so one aggregator instance at a time handles a given client, in order.
- Before inserting, we drop duplicates inside the batch and every key stored in the
  idempotency window (``event_keys``). The totals tables and ``event_keys`` are filled
  by materialized views on ``priced_events`` inserts, so only new events reach a total.
- The insert carries a token naming the Kafka records it came from (``batch_token``).
  ClickHouse drops a second insert under the same token, in ``priced_events`` and in
  every view, even when the first is still running: that closes the gap step 2 cannot,
  an insert whose response was lost (it may commit after the redelivered batch asked
  for the keys) and two owners of one partition during a rebalance.
- Order of operations, and what a crash after each step does:
    1. dedup in memory         → crash: nothing written; the batch is redelivered.
    2. ask ClickHouse for keys → crash: nothing written; redelivered.
    3. insert new rows         → crash mid-insert, or the response lost: on redelivery
                                 step 2 finds what committed, and the same records give
                                 the same token, so a repeated insert is dropped.
    4. return (offsets commit) → crash before the commit: redelivered, step 2 finds every
                                 key, nothing is inserted twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from aiokafka.structs import ConsumerRecord

from libs.common.events import UsagePriced, UsageUnpriced
from services.aggregator.rows import PricedRecord, priced_row, unpriced_row
from services.aggregator.store import EventKey, PricedEventStore


@dataclass(slots=True)
class RecordOutcome:
    inserted: int = 0
    duplicates: int = 0
    periods: set[tuple[str, str]] = field(default_factory=set)
    """(client_id, YYYY-MM) whose spend this batch touched, duplicates included."""


Priced = UsagePriced | PricedRecord
"""The handler reads ``PricedRecord`` (amounts as decimal text); tests and tools may pass ``UsagePriced``."""


def first_of_each_key(events: Iterable[Priced]) -> list[Priced]:
    """Keep the first event per (client_id, event_id): a client's retry is a duplicate."""
    seen: set[EventKey] = set()
    unique: list[Priced] = []
    for event in events:
        key = (event.client_id, event.event_id)
        if key not in seen:
            seen.add(key)
            unique.append(event)
    return unique


def batch_token(records: Sequence[ConsumerRecord]) -> str:
    """The insert token of a batch: the same Kafka records, in any order, give the same token.

    The record's timestamp is part of it so that a topic deleted and re-created (offsets
    starting again at 0) never matches an older batch's token.
    """
    digest = hashlib.sha256()
    for record in sorted(records, key=lambda r: (r.topic, r.partition, r.offset)):
        digest.update(f"{record.topic}/{record.partition}/{record.offset}/{record.timestamp};".encode())
    return f"priced:{digest.hexdigest()}"


class Aggregator:
    def __init__(self, store: PricedEventStore) -> None:
        self._store = store

    async def record_priced(self, events: Sequence[Priced], *, token: str) -> RecordOutcome:
        """Store the events not stored yet; ``token`` names their source (see ``batch_token``)."""
        outcome = RecordOutcome(periods={(e.client_id, f"{e.timestamp.year:04d}-{e.timestamp.month:02d}")
                                         for e in events})
        unique = first_of_each_key(events)  # step 1
        stored = await self._store.existing_keys([(e.client_id, e.event_id) for e in unique])  # step 2
        new = [e for e in unique if (e.client_id, e.event_id) not in stored]
        await self._store.insert_priced([priced_row(e) for e in new], token)  # step 3
        outcome.inserted = len(new)
        outcome.duplicates = len(events) - len(new)
        return outcome

    async def record_unpriced(self, events: Sequence[UsageUnpriced]) -> int:
        """Quarantine events without a price.

        The row's version is the detection time, so a replayed message writes the same
        pending row again and never outranks the later "repriced" row of the re-drive.
        """
        rows = [unpriced_row(e, status="pending", version=pending_version(e)) for e in events]
        await self._store.insert_unpriced(rows)
        return len(events)


def pending_version(event: UsageUnpriced) -> int:
    return int(event.detected_at.timestamp() * 1_000_000)
