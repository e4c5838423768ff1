"""The compact body of a ``usage.priced.v1`` message, written by pricing and read by the aggregator.

Both ends are ours, so this body is built for the hot path, not for strangers: one message
holds events of one client (its Kafka key); each distinct price row is written once and events
point at it by index; each event is a JSON array in a fixed field order, where the unit buckets
that are zero (nearly always) are simply left off the end. Read and written by ``msgspec``,
whose typed decoder checks every field's type in C without building pydantic models. The
amounts stay the exact decimal text pricing wrote (``str(Decimal)``); the aggregator checks
them and ClickHouse parses them exactly.

Measured on the benchmark's workload (``python -m bench.priced_codec``): 1,331 → 226 bytes per
event on the topic, and the aggregator's read up to its ClickHouse rows about 4× cheaper (see
BENCHMARKS.md, "Compact priced messages, two aggregators").

A body starts with ``{`` (an object with ``"v": 2``); the earlier format, a JSON array of
``UsagePriced`` objects, starts with ``[``. The aggregator reads both (``is_compact``), so
messages written before an upgrade, and dead letters re-driven by hand, still count.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from operator import attrgetter
from typing import Annotated, Any, Final, Literal

import msgspec

from libs.common.events import UNIT_BUCKETS, AppliedPrice, CostBreakdown, UsagePriced

VERSION: Final = 2
TOKEN_LIMIT: Final = 10**12
"""The most tokens one bucket of one event may hold (ingest's limit, ``libs.common.events.TokenCount``)."""

Tokens = Annotated[int, msgspec.Meta(ge=0, le=TOKEN_LIMIT)]
Text = Annotated[str, msgspec.Meta(max_length=256)]
Amount = Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
"""Decimal text as ``str(Decimal)`` writes it; the reader checks it fits its column."""


class PriceRow(msgspec.Struct, array_like=True, omit_defaults=True, frozen=True, gc=False):
    """``AppliedPrice``, prices as decimal text; unit prices ``None`` where the row does not price the unit."""

    source: Literal["catalog", "override"]
    price_id: Text
    effective_from: datetime | None
    input_per_mtok: Amount
    output_per_mtok: Amount
    cache_read_per_mtok: Amount
    cache_write_per_mtok: Amount
    reasoning_per_mtok: Amount
    tier: Text = ""
    cache_write_1h_per_mtok: Amount | None = None
    input_audio_per_mtok: Amount | None = None
    output_audio_per_mtok: Amount | None = None
    cache_audio_read_per_mtok: Amount | None = None
    input_image_per_mtok: Amount | None = None
    cache_image_read_per_mtok: Amount | None = None
    output_image_per_mtok: Amount | None = None


class PricedEvent(msgspec.Struct, array_like=True, omit_defaults=True, frozen=True, gc=False):
    """One priced call; ``price`` is its row's index in the message's ``prices``.

    Field order is the wire order: never reorder, only append fields with defaults.
    """

    event_id: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    provider: Text
    model: Text
    timestamp: datetime
    received_at: datetime
    price: Annotated[int, msgspec.Meta(ge=0)]
    input_tokens: Tokens
    output_tokens: Tokens
    cache_read_tokens: Tokens
    cache_write_tokens: Tokens
    reasoning_tokens: Tokens
    input_usd: Amount
    output_usd: Amount
    cache_read_usd: Amount
    cache_write_usd: Amount
    reasoning_usd: Amount
    total_usd: Amount
    project: Annotated[str, msgspec.Meta(max_length=128)] | None = None
    tags: dict[Annotated[str, msgspec.Meta(min_length=1, max_length=64)],
               Annotated[str, msgspec.Meta(max_length=256)]] = {}
    cache_write_1h_tokens: Tokens = 0
    input_audio_tokens: Tokens = 0
    output_audio_tokens: Tokens = 0
    cache_audio_read_tokens: Tokens = 0
    input_image_tokens: Tokens = 0
    cache_image_read_tokens: Tokens = 0
    output_image_tokens: Tokens = 0
    cache_write_1h_usd: Amount = "0"
    input_audio_usd: Amount = "0"
    output_audio_usd: Amount = "0"
    cache_audio_read_usd: Amount = "0"
    input_image_usd: Amount = "0"
    cache_image_read_usd: Amount = "0"
    output_image_usd: Amount = "0"


class PricedMessage(msgspec.Struct, frozen=True, gc=False):
    """The body: events of one client, priced at ``priced_at``, with the price rows they point at."""

    v: Literal[2]
    client_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    priced_at: datetime
    prices: list[PriceRow]
    events: list[PricedEvent]


_encoder = msgspec.json.Encoder(decimal_format="string")
_decoder = msgspec.json.Decoder(PricedMessage)

_PRICE_FIELDS: Final = PriceRow.__struct_fields__
_UNIT_TOKENS: Final = tuple(unit.tokens for unit in UNIT_BUCKETS)
_UNIT_COSTS: Final = tuple(unit.cost for unit in UNIT_BUCKETS)


def is_compact(body: bytes) -> bool:
    """Whether ``body`` is this format (an object) rather than the earlier JSON array."""
    return body[:1] == b"{"


def encode_priced(events: Sequence[UsagePriced]) -> bytes:
    """One message body for events of one client (they share ``priced_at`` as pricing sets it)."""
    if not events:
        raise ValueError("a priced message holds at least one event")
    first = events[0]
    for event in events:
        if event.client_id != first.client_id or event.priced_at != first.priced_at:
            raise ValueError("a priced message holds events of one client, priced at one time")
    return encode_rows(first.client_id, first.priced_at, [(event, event.price, _event_row(event)) for event in events])


PricedRow = tuple[Any, AppliedPrice, list[Any]]
"""An event (any object with ``UsageRecorded``'s attributes), its price row and its compact row
(``event_row``); the price index in the row is set when a message is written."""


def encode_rows(client_id: str, priced_at: datetime, items: Sequence[PricedRow]) -> bytes:
    """One message body for priced rows of one client, priced at ``priced_at``.

    Price rows are told apart by identity: the price book hands out one ``AppliedPrice``
    object per row, so a batch's thousands of events point at a handful of rows. Sets each
    row's price index (a row is written again only as part of a smaller message).
    """
    if not items:
        raise ValueError("a priced message holds at least one event")
    index: dict[int, int] = {}
    prices: list[list[Any]] = []
    rows: list[list[Any]] = []
    for _, price, row in items:
        key = id(price)
        position = index.get(key)
        if position is None:
            position = index[key] = len(prices)
            prices.append(_price_row(price))
        row[_PRICE_INDEX] = position
        rows.append(row)
    return _encoder.encode({"v": VERSION, "client_id": client_id, "priced_at": priced_at,
                            "prices": prices, "events": rows})


def decode_priced(body: bytes) -> PricedMessage:
    """Read a compact body; ``msgspec.ValidationError`` (or ``DecodeError``) names what is wrong."""
    return _decoder.decode(body)


_price_rows: dict[int, tuple[AppliedPrice, list[Any]]] = {}
"""Each price row's wire form by the row's identity (the row kept alive with it, so an id is never
reused while cached); cleared when it grows past ``_PRICE_ROWS_KEPT`` (reloads make new rows)."""
_PRICE_ROWS_KEPT: Final = 4096


def _price_row(price: AppliedPrice) -> list[Any]:
    """``PriceRow``'s fields in wire order, unit prices the row does not state left off the end (cached)."""
    cached = _price_rows.get(id(price))
    if cached is not None and cached[0] is price:
        return cached[1]
    row = [getattr(price, name) for name in _PRICE_FIELDS]
    while row and row[-1] is None:  # unit prices the row does not state: left off the end
        row.pop()
    if len(row) == _PRICE_FIELDS.index("tier") + 1 and row[-1] == "":
        row.pop()
    if len(_price_rows) >= _PRICE_ROWS_KEPT:
        _price_rows.clear()
    _price_rows[id(price)] = (price, row)
    return row


_head = attrgetter("event_id", "provider", "model", "timestamp", "received_at")
_tokens = attrgetter("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens")
_amounts = attrgetter("input_usd", "output_usd", "cache_read_usd", "cache_write_usd", "reasoning_usd", "total_usd")
_unit_tokens = attrgetter(*_UNIT_TOKENS)
_unit_amounts = attrgetter(*_UNIT_COSTS)
_PRICE_INDEX: Final = PricedEvent.__struct_fields__.index("price")


def _event_row(event: UsagePriced) -> list[Any]:
    cost = event.cost
    units = (event.cache_write_1h_tokens or event.input_audio_tokens or event.output_audio_tokens
             or event.cache_audio_read_tokens or event.input_image_tokens or event.cache_image_read_tokens
             or event.output_image_tokens)
    return event_row(event, _amounts(cost), _unit_amounts(cost) if units else None)


def event_row(event: Any, amounts: Sequence[Any], unit_amounts: Sequence[Any] | None) -> list[Any]:
    """``PricedEvent``'s fields in wire order, the trailing defaults left off (attribute reads in C: hot path).

    ``event`` has ``UsageRecorded``'s attributes; ``amounts`` are ``CostBreakdown``'s first six
    (the buckets and the total), ``unit_amounts`` its unit buckets' (``None`` when the event has no
    unit tokens). The price index is 0 until ``encode_rows`` sets it.
    """
    row: list[Any] = [*_head(event), 0, *_tokens(event), *amounts]
    if unit_amounts is not None:
        row += [event.project, event.tags, *_unit_tokens(event), *unit_amounts]
    elif event.tags:
        row += [event.project, event.tags]
    elif event.project is not None:
        row.append(event.project)
    return row


def as_priced_json(message: PricedMessage, event: PricedEvent) -> dict[str, Any]:
    """One event in the earlier ``UsagePriced`` JSON shape: a dead letter's body, readable and re-drivable."""
    price = message.prices[event.price]
    fields = msgspec.structs.asdict(event)
    cost = {name: fields.pop(name) for name in CostBreakdown.model_fields}
    del fields["price"]
    return {**fields, "client_id": message.client_id, "price": msgspec.structs.asdict(price), "cost": cost,
            "priced_at": message.priced_at}
