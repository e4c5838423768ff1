"""Exactly-once (in effect) recording of priced events, and isolation of events that cannot be stored.

Why a total never counts an event twice, even across crashes:
- Kafka gives at-least-once: a batch is committed only after this service returns, so a
  crash anywhere before the commit redelivers the batch.
- Events are keyed by (client_id, event_id). All events of a client travel in the same
  partition, so one aggregator instance at a time handles a given client, in order.
- Before inserting, we drop duplicates inside the batch and every key stored in the
  idempotency window (``event_keys``). The totals tables and ``event_keys`` are filled
  by materialized views on ``priced_events`` inserts, so only new events reach a total.
- Each insert carries a token naming the Kafka records it came from (``batch_token``) and,
  when a batch is written in several inserts, which part it is (``part_token``).
  ClickHouse drops a second insert under the same token, in ``priced_events`` and in
  every view, even when the first is still running: that closes the gap step 2 cannot,
  an insert whose response was lost (it may commit after the redelivered batch asked
  for the keys) and two owners of one partition during a rebalance. Both are also closed
  before they reach a redelivery: the store retries an insert of unknown outcome at once
  under the same token (``store.py``), and a rebalance waits for the batch in flight,
  commit included (``ownership.py``).
- Order of operations, and what a crash after each step does:
    0. check each event against its columns' limits (``checks.py``): those that cannot be
       stored are set aside for the dead-letter topic → crash: nothing written; redelivered.
    1. dedup in memory         → crash: nothing written; the batch is redelivered.
    2. ask ClickHouse for keys → crash: nothing written; redelivered.
    3. insert new rows, at most ``MAX_PARTITIONS_PER_INSERT`` months per insert; when
       ClickHouse refuses the data itself, bisect the insert down to the events it refuses
       alone (set aside too) → crash mid-insert, or the response lost: on redelivery step 2
       finds what committed, and the same records split the same way give the same tokens,
       so a repeated insert is dropped.
    4. the handler dead-letters what was set aside, then returns (offsets commit)
       → crash before the commit: redelivered, step 2 finds every key, nothing is
       inserted twice; an event may be dead-lettered twice (the dead-letter store keeps one).

A transient failure (ClickHouse away) at any step propagates: the handler backs off and
the batch is redelivered, never retried in a hot loop and never dead-lettered.
"""

from __future__ import annotations

import hashlib
from operator import attrgetter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiokafka.structs import ConsumerRecord

from libs.common.deadletter import OUT_OF_RANGE
from libs.common.events import UsagePriced, UsageUnpriced
from libs.common.failures import Refused, write_isolating
from libs.common.limits import MAX_PARTITIONS_PER_INSERT, month_of, timestamp_problem
from services.aggregator.entries import PricedEntry, entry_of
from services.aggregator.rows import PricedRecord, unpriced_row
from services.aggregator.store import EventKey, PricedEventStore

Priced = UsagePriced | PricedRecord | PricedEntry
"""The handler passes ``PricedEntry`` (``entries.py``); tests and tools may pass ``UsagePriced``."""

E = TypeVar("E")


@dataclass(slots=True)
class RecordOutcome:
    inserted: int = 0
    duplicates: int = 0
    periods: set[tuple[str, str]] = field(default_factory=set)
    """(client_id, YYYY-MM) whose spend this batch touched, duplicates included."""
    refused: list[Refused[Any]] = field(default_factory=list)
    """Events that cannot be stored, with the reason: for the dead-letter topic."""


def first_of_each_key(events: Iterable[PricedEntry]) -> list[PricedEntry]:
    """Keep the first event per (client_id, event_id): a client's retry is a duplicate."""
    seen: set[EventKey] = set()
    unique: list[PricedEntry] = []
    for event in events:
        key = event.key
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


def part_token(token: str, events: Sequence[PricedEntry]) -> str:
    """The token of one insert of a batch written in several (partition groups, bisection halves).

    Derived from the keys it holds, so the same rows always get the same token and two
    different parts of one batch never share one (ClickHouse would drop the second).
    """
    digest = hashlib.sha256(token.encode())
    for event in events:
        digest.update(f"{event.client_id}\x00{event.event_id}\x01".encode())
    return f"{token}:{digest.hexdigest()[:32]}"


def by_partition_groups(events: Sequence[E], month: Callable[[E], tuple[int, int]],
                        max_partitions: int = MAX_PARTITIONS_PER_INSERT) -> list[list[E]]:
    """Split events into inserts spanning at most ``max_partitions`` months each (order kept
    within a month). Nearly every batch spans one or two months and stays one insert."""
    months: dict[tuple[int, int], list[E]] = {}
    for event in events:
        months.setdefault(month(event), []).append(event)
    if len(months) <= max_partitions:
        return [list(events)] if events else []
    groups = [group for _, group in sorted(months.items())]
    return [[e for group in groups[i : i + max_partitions] for e in group]
            for i in range(0, len(groups), max_partitions)]


def split_checked(events: Sequence[E], problem: Callable[[E], str | None]) -> tuple[list[E], list[Refused[E]]]:
    ok: list[E] = []
    refused: list[Refused[E]] = []
    for event in events:
        reason = problem(event)
        if reason is None:
            ok.append(event)
        else:
            refused.append(Refused(event, reason, OUT_OF_RANGE))
    return ok, refused


def _month(event: PricedEntry | UsageUnpriced) -> tuple[int, int]:
    return month_of(event.timestamp)


_timestamp = attrgetter("timestamp")


def priced_groups(entries: Sequence[PricedEntry]) -> list[list[PricedEntry]]:
    """``by_partition_groups`` of storable entries, without a month per entry when the earliest and the
    latest are at most ``MAX_PARTITIONS_PER_INSERT`` months apart (nearly every batch): one insert."""
    if not entries:
        return []
    first = month_of(min(map(_timestamp, entries)))
    last = month_of(max(map(_timestamp, entries)))
    if (last[0] - first[0]) * 12 + last[1] - first[1] < MAX_PARTITIONS_PER_INSERT:
        return [list(entries)]
    return by_partition_groups(entries, _month)


_problem = attrgetter("problem")


class Aggregator:
    def __init__(self, store: PricedEventStore) -> None:
        self._store = store

    async def record_priced(self, events: Sequence[Priced], *, token: str,
                            still_owner: Callable[[], None] = lambda: None) -> RecordOutcome:
        """Store the events not stored yet; ``token`` names their source (see ``batch_token``).

        ``still_owner`` raises when the batch's partitions were revoked meanwhile (see
        ``ownership.py``): it is asked right before each insert.
        """
        entries = [e if isinstance(e, PricedEntry) else entry_of(e) for e in events]
        # step 0 (the entries carry their problem; nearly always none has one)
        storable, refused = split_checked(entries, _problem) if any(map(_problem, entries)) else (entries, [])
        unique = first_of_each_key(storable)  # step 1
        stored = await self._store.existing_keys([e.key for e in unique])  # step 2
        new = [e for e in unique if e.key not in stored] if stored else unique
        whole = len(new)

        async def insert(part: Sequence[PricedEntry]) -> None:
            still_owner()
            await self._store.insert_priced([e.row for e in part],
                                            token if len(part) == whole else part_token(token, part))

        for group in priced_groups(new):  # step 3
            refused.extend(await write_isolating(group, insert))
        refused_ids = {id(r.item) for r in refused}
        kept = [e for e in storable if id(e) not in refused_ids] if refused_ids else storable
        months = {(e.client_id, e.timestamp.year, e.timestamp.month) for e in kept}
        outcome = RecordOutcome(periods={(client, f"{year:04d}-{month:02d}") for client, year, month in months},
                                refused=refused)
        outcome.inserted = len([e for e in new if id(e) not in refused_ids]) if refused_ids else len(new)
        outcome.duplicates = len(storable) - len(new)
        return outcome

    async def record_unpriced(self, events: Sequence[UsageUnpriced]) -> list[Refused[UsageUnpriced]]:
        """Quarantine events without a price; return those that cannot be stored.

        The row's version is the detection time, so a replayed message writes the same
        pending row again and never outranks the later "repriced" row of the re-drive.
        """
        storable, refused = split_checked(events, lambda e: timestamp_problem(e.timestamp))
        for group in by_partition_groups(storable, _month):
            refused.extend(await write_isolating(group, self._insert_unpriced))
        return refused

    async def _insert_unpriced(self, events: Sequence[UsageUnpriced]) -> None:
        await self._store.insert_unpriced([unpriced_row(e, status="pending", version=pending_version(e))
                                           for e in events])


def pending_version(event: UsageUnpriced) -> int:
    return int(event.detected_at.timestamp() * 1_000_000)
