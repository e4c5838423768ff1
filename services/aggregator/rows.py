"""Kafka message → ClickHouse row mapping for the aggregator's tables.

Priced events are read as ``PricedRecord``: ``UsagePriced`` with its prices and amounts
kept as the decimal strings they travel as, checked by pattern, never turned into
``Decimal`` here. The aggregator only moves them into ClickHouse, which parses decimal
text exactly itself; building 11 ``Decimal``s per event in pydantic and then converting
them back to integers for the native insert format was most of the aggregator's CPU
(validation 14 µs → 5 µs per event, insert encoding 7 µs → 1.5 µs, measured on 20,000-event
batches). Everything else is validated exactly as ``UsagePriced`` validates it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, NamedTuple

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, StringConstraints

from libs.common.events import PriceSource, UsagePriced, UsageRecorded, UsageUnpriced

#: Decimal text as ``str(Decimal)`` writes it (``0.0014825``, ``0E-7``, ``1E+1``).
DECIMAL_TEXT = r"^-?[0-9]{1,40}(\.[0-9]{1,40})?(E[-+]?[0-9]{1,3})?$"
DecimalText = Annotated[str, StringConstraints(pattern=DECIMAL_TEXT)]
PriceText = Annotated[str, StringConstraints(pattern=DECIMAL_TEXT.replace("^-?", "^"))]
"""A per-million-token price: never negative. Its scale (12 places) is the pricing
service's to enforce; ClickHouse would truncate digits past ``Decimal(38, 12)``."""


class AppliedPriceRecord(BaseModel):
    """``libs.common.events.AppliedPrice`` with the prices as decimal text."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: PriceSource
    price_id: str
    effective_from: AwareDatetime | None
    input_per_mtok: PriceText
    output_per_mtok: PriceText
    cache_read_per_mtok: PriceText
    cache_write_per_mtok: PriceText
    reasoning_per_mtok: PriceText
    tier: str = ""
    cache_write_1h_per_mtok: PriceText | None = None
    input_audio_per_mtok: PriceText | None = None
    output_audio_per_mtok: PriceText | None = None
    cache_audio_read_per_mtok: PriceText | None = None
    input_image_per_mtok: PriceText | None = None
    cache_image_read_per_mtok: PriceText | None = None
    output_image_per_mtok: PriceText | None = None
    """Unit prices; ``None`` (or absent, in messages from before them): the row does not price the unit."""


class CostRecord(BaseModel):
    """``libs.common.events.CostBreakdown`` with the amounts as decimal text."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input_usd: DecimalText
    output_usd: DecimalText
    cache_read_usd: DecimalText
    cache_write_usd: DecimalText
    reasoning_usd: DecimalText
    total_usd: DecimalText
    cache_write_1h_usd: DecimalText = "0"
    input_audio_usd: DecimalText = "0"
    output_audio_usd: DecimalText = "0"
    cache_audio_read_usd: DecimalText = "0"
    input_image_usd: DecimalText = "0"
    cache_image_read_usd: DecimalText = "0"
    output_image_usd: DecimalText = "0"


class PricedRecord(UsageRecorded):
    """A ``usage.priced.v1`` event as the aggregator reads it (see the module docstring)."""

    price: AppliedPriceRecord
    cost: CostRecord
    priced_at: datetime



PRICED_COLUMNS = (
    "client_id", "event_id", "timestamp", "received_at", "priced_at", "provider", "model", "project", "tags",
    "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens",
    "price_source", "price_id", "price_effective_from", "price_tier",
    "input_per_mtok", "output_per_mtok", "cache_read_per_mtok", "cache_write_per_mtok", "reasoning_per_mtok",
    "input_usd", "output_usd", "cache_read_usd", "cache_write_usd", "reasoning_usd", "cost_usd",
    "cache_write_1h_tokens", "input_audio_tokens", "output_audio_tokens",
    "cache_write_1h_per_mtok", "input_audio_per_mtok", "output_audio_per_mtok",
    "cache_write_1h_usd", "input_audio_usd", "output_audio_usd",
    "cache_audio_read_tokens", "input_image_tokens", "cache_image_read_tokens",
    "cache_audio_read_per_mtok", "input_image_per_mtok", "cache_image_read_per_mtok",
    "cache_audio_read_usd", "input_image_usd", "cache_image_read_usd",
    "output_image_tokens", "output_image_per_mtok", "output_image_usd",
)

_ZERO = "0"

UNPRICED_COLUMNS = (
    "client_id", "event_id", "provider", "model", "timestamp", "reason", "detected_at", "payload", "status", "version",
)


def priced_row(event: UsagePriced | PricedRecord) -> list[Any]:
    """A row for ``PRICED_COLUMNS``; amounts as ``Decimal`` or decimal text alike."""
    return row_of(event.client_id, event.priced_at, event, price_columns(event.price), event.cost)


class PriceColumns(NamedTuple):
    """A price row's columns in a priced row, as JSON encoded once (``orjson.Fragment``), not once per
    event: a message's thousands of events share a handful of price rows. ``rows_json`` writes a
    fragment as it is, so the insert body is byte for byte what the values themselves would give."""

    main: orjson.Fragment
    """``price_source`` … ``reasoning_per_mtok``."""
    cache_write_1h_and_audio: orjson.Fragment
    cached_audio_and_image: orjson.Fragment
    output_image: orjson.Fragment


def price_columns(price: Any) -> PriceColumns:
    """The columns of ``price`` (``AppliedPrice``, ``AppliedPriceRecord`` or a compact ``PriceRow``)."""
    return PriceColumns(
        _fragment([price.source, price.price_id, price.effective_from, price.tier,
                   price.input_per_mtok, price.output_per_mtok, price.cache_read_per_mtok,
                   price.cache_write_per_mtok, price.reasoning_per_mtok]),
        # a unit the row does not price is stored as 0: the event has no tokens there
        _fragment([price.cache_write_1h_per_mtok or _ZERO, price.input_audio_per_mtok or _ZERO,
                   price.output_audio_per_mtok or _ZERO]),
        _fragment([price.cache_audio_read_per_mtok or _ZERO, price.input_image_per_mtok or _ZERO,
                   price.cache_image_read_per_mtok or _ZERO]),
        _fragment([price.output_image_per_mtok or _ZERO]),
    )


def json_fragment(value: Any) -> orjson.Fragment:
    """One value as ``rows_json`` would write it, encoded now (a message's ``priced_at``)."""
    return orjson.Fragment(orjson.dumps(value, default=_json_default))


def _fragment(values: list[Any]) -> orjson.Fragment:
    """Several consecutive values of a row, comma-separated as ``rows_json`` writes them."""
    return orjson.Fragment(orjson.dumps(values, default=_json_default)[1:-1])


def row_of(client_id: str, priced_at: datetime | orjson.Fragment, event: Any, price: PriceColumns,
           cost: Any) -> list[Any]:
    """The row of ``event`` (names, times, tokens) at ``price`` (its row's ``price_columns``) costing
    ``cost`` (its amounts: the event itself when read from a compact message, ``libs.common.priced_wire``)."""
    return [
        client_id, event.event_id, event.timestamp, event.received_at, priced_at,
        event.provider, event.model, event.project or "", event.tags,
        event.input_tokens, event.output_tokens, event.cache_read_tokens, event.cache_write_tokens,
        event.reasoning_tokens,
        price.main,
        cost.input_usd, cost.output_usd, cost.cache_read_usd, cost.cache_write_usd, cost.reasoning_usd,
        cost.total_usd,
        event.cache_write_1h_tokens, event.input_audio_tokens, event.output_audio_tokens,
        price.cache_write_1h_and_audio,
        cost.cache_write_1h_usd, cost.input_audio_usd, cost.output_audio_usd,
        event.cache_audio_read_tokens, event.input_image_tokens, event.cache_image_read_tokens,
        price.cached_audio_and_image,
        cost.cache_audio_read_usd, cost.input_image_usd, cost.cache_image_read_usd,
        event.output_image_tokens, price.output_image, cost.output_image_usd,
    ]


def unpriced_row(event: UsageUnpriced, *, status: str, version: int) -> list[Any]:
    payload = event.model_dump_json(exclude={"reason", "detected_at"})
    return [
        event.client_id, event.event_id, event.provider, event.model, event.timestamp, event.reason,
        event.detected_at, payload, status, version,
    ]


def _json_default(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to ClickHouse JSON")


def rows_json(rows: Sequence[Sequence[Any]]) -> bytes:
    """Rows for ``FORMAT JSONCompactEachRow``: JSON arrays, comma-separated (ClickHouse takes
    the separator), datetimes as RFC 3339 with their offset, ``Decimal`` as exact text,
    ``orjson.Fragment`` (``price_columns``) as the JSON it holds."""
    return orjson.dumps(list(rows), default=_json_default)[1:-1]
