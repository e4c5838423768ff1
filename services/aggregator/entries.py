"""Priced events as the aggregator handles them: the key, the month, the ClickHouse row, and what is wrong.

Read from a compact message (``libs.common.priced_wire``, what pricing writes) or from the
earlier JSON array of ``UsagePriced`` (messages from before the upgrade, re-drives by hand,
tests), both end up as ``PricedEntry``: the service then dedups, checks and inserts without
caring where an event came from.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec
import orjson
from aiokafka.structs import ConsumerRecord
from pydantic import BaseModel, ValidationError

from libs.common.consuming import DecodedBatch
from libs.common.deadletter import INVALID_MESSAGE, DeadLetter, of_record
from libs.common.events import UsagePriced
from libs.common.ids import CLIENT_ID_PATTERN, CLIENT_ID_RULE
from libs.common.kafka import decode_batch
from libs.common.priced_wire import PricedMessage, PriceRow, as_priced_json, decode_priced, is_compact
from services.aggregator.checks import amounts_fit, event_problem, price_problem, priced_problem, timestamps_fit
from services.aggregator.rows import (
    PriceColumns,
    PricedRecord,
    json_fragment,
    price_columns,
    priced_row,
    row_of,
)

_CLIENT_ID = re.compile(CLIENT_ID_RULE)


class PricedEntry(msgspec.Struct, frozen=True, gc=False):
    """One priced event on its way into ClickHouse.

    A ``msgspec.Struct``: built in C, one per event of every batch (a slotted dataclass's
    ``__init__`` cost twice as much). ``gc=False``: it never takes part in a reference cycle
    (it holds text, a row list and what it was read from), so the collector skips it.
    """

    client_id: str
    event_id: str
    key: tuple[str, str]
    """``(client_id, event_id)``, built once: the dedup in memory and the keys lookup both use it."""
    timestamp: datetime
    row: list[Any]
    """Its values in ``PRICED_COLUMNS`` order for ``rows_json``, a price row's columns as fragments
    (``rows.price_columns``)."""
    problem: str | None
    """Why it cannot be stored (``checks.py``), or ``None``."""
    origin: Any
    """What it was read from, for a dead letter's body: a pydantic model, or ``(PricedMessage, PricedEvent)``."""

    def dead_letter_body(self) -> bytes:
        """The event as ``UsagePriced``-shaped JSON: readable, and re-drivable by an admin."""
        if isinstance(self.origin, BaseModel):
            return self.origin.model_dump_json().encode()
        message, event = self.origin
        return orjson.dumps(as_priced_json(message, event))


def entry_of(event: UsagePriced | PricedRecord) -> PricedEntry:
    """An entry for an event read in the earlier format (or built by a test or a tool)."""
    return PricedEntry(event.client_id, event.event_id, (event.client_id, event.event_id), event.timestamp,
                       priced_row(event), priced_problem(event), event)


PriceFacts = tuple[str | None, PriceColumns]
"""A price row's problem (``checks.price_problem``) and its columns in a row (``rows.price_columns``)."""


def price_facts(price: PriceRow, known: dict[Any, PriceFacts]) -> PriceFacts:
    """The facts of ``price``, worked out once per batch (``known``): its messages share a handful of price rows.

    Rows are told apart by value and by the offset of ``effective_from``: equal times in two offsets
    compare equal but are written differently, and the insert body keeps what the message said.
    """
    effective_from = price.effective_from
    key = (price, None if effective_from is None else effective_from.utcoffset())
    facts = known.get(key)
    if facts is None:
        facts = known[key] = (price_problem(price), price_columns(price))
    return facts


def entries_of(message: PricedMessage, known_prices: dict[Any, PriceFacts] | None = None) -> list[PricedEntry]:
    """The entries of a compact message; a malformed one (bad client id, dangling price index) raises ``ValueError``.

    ``known_prices``: the batch's price rows seen so far (``price_facts``), shared by its messages.
    """
    client_id = message.client_id
    if not _CLIENT_ID.fullmatch(client_id):  # fullmatch: "$" alone would let a trailing newline by
        raise ValueError(f"client_id {client_id[:64]!r} does not match {CLIENT_ID_PATTERN}")
    prices = message.prices
    events = message.events
    known = {} if known_prices is None else known_prices
    problems, columns = zip(*[price_facts(price, known) for price in prices]) if prices else ((), ())
    # The common case, checked once for the whole message: no price row, time or amount out
    # of range, so no event has a problem. Otherwise each event is checked for its reason.
    every_event_fits = not any(problems) and timestamps_fit(events) and amounts_fit(events)
    priced_at = json_fragment(message.priced_at)
    entries: list[PricedEntry] = []
    for event in events:
        index = event.price
        if index >= len(prices):
            raise ValueError(f"event {event.event_id!r} points at price row {index} of {len(prices)}")
        problem = None if every_event_fits else event_problem(event.timestamp, problems[index], event)
        event_id = event.event_id
        entries.append(PricedEntry(client_id, event_id, (client_id, event_id), event.timestamp,
                                   row_of(client_id, priced_at, event, columns[index], event), problem, (message, event)))
    return entries


def read_priced(records: Sequence[ConsumerRecord]) -> DecodedBatch[PricedEntry]:
    """Entries of a batch of ``usage.priced`` records; a record that cannot be read is a poison message."""
    entries: list[PricedEntry] = []
    sources: list[str] = []
    poison: list[DeadLetter] = []
    known_prices: dict[Any, PriceFacts] = {}
    for record in records:
        body = record.value or b""
        try:
            if is_compact(body):
                read = entries_of(decode_priced(body), known_prices)
            else:
                read = [entry_of(event) for event in decode_batch(PricedRecord, body)]
        except ValidationError as exc:
            poison.append(of_record(record, f"PricedRecord: {exc.error_count()} errors: "
                                            f"{exc.errors(include_url=False)[:3]}", INVALID_MESSAGE))
            continue
        except (msgspec.ValidationError, msgspec.DecodeError, ValueError) as exc:
            poison.append(of_record(record, f"priced message: {exc}", INVALID_MESSAGE))
            continue
        entries.extend(read)
        sources.extend([f"{record.topic}/{record.partition}/{record.offset}"] * len(read))
    return DecodedBatch(entries, sources, poison)
