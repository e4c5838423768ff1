"""What may reach a ClickHouse column or a Kafka message, in one place.

Every number and time that ingest accepts must fit the column it ends up in, or
ClickHouse refuses the insert (a permanent failure) or, worse, stores something else:
a ``Date`` wraps silently outside 1970-2149 (measured: 0001-01-01 became 1974-10-01).
Ingest refuses values outside these bounds with a field error; the consumers check
them again before writing (a message from an older version, another producer or a
hand-made replay) and dead-letter what does not fit instead of stalling on it.

Bounds (also in the README and the ingest API docs):

- token counts: 0 ≤ n ≤ 10^12 per bucket (``UInt64`` columns; sums of 10^7 maxed-out
  events still fit);
- per-million-token prices: 0 ≤ p ≤ 1,000,000 USD, at most 12 decimals
  (``Decimal(38, 12)``);
- exact amounts: at most 20 integer digits and 18 decimals (``Decimal(38, 18)``); with the
  two bounds above one bucket costs at most 10^12 USD, so no event can come near it and
  a month total holds 10^8 maxed-out events;
- event timestamps: within ``[EARLIEST_TIMESTAMP, LATEST_TIMESTAMP)`` whatever the key
  (ingest narrows this to its window, see ``services/ingest/timestamps.py``);
- distinct months in one insert: at most ``MAX_PARTITIONS_PER_INSERT`` (ClickHouse refuses
  a block spanning more than 100 partitions; the tables are partitioned by month).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Final

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, WithJsonSchema

MAX_TOKENS: Final = 10**12
MAX_PRICE_PER_MTOK: Final = Decimal(1_000_000)

PRICE_SCALE: Final = 12
PRICE_INTEGER_DIGITS: Final = 38 - PRICE_SCALE
AMOUNT_SCALE: Final = 18
AMOUNT_INTEGER_DIGITS: Final = 38 - AMOUNT_SCALE

EARLIEST_TIMESTAMP: Final = datetime(2000, 1, 1, tzinfo=UTC)
"""The earliest event time any key may send (admin backfills included): before any LLM API."""
LATEST_TIMESTAMP: Final = datetime(2100, 1, 1, tzinfo=UTC)
"""An absolute ceiling for consumers (ingest's own is a few minutes ahead of its clock)."""

MAX_PARTITIONS_PER_INSERT: Final = 50
"""Months per ClickHouse insert; the server refuses more than 100 (``max_partitions_per_insert_block``)."""


def timestamp_problem(value: datetime) -> str | None:
    """Why a timestamp cannot be stored, or ``None`` when it can."""
    if value.tzinfo is None:
        return "timestamp has no timezone"
    if not EARLIEST_TIMESTAMP <= value < LATEST_TIMESTAMP:
        return (f"timestamp {value.isoformat()} is outside {EARLIEST_TIMESTAMP.date()}"
                f"..{LATEST_TIMESTAMP.date()}, the range TokenTally stores")
    return None


_RFC3339_START = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt]")


def _rfc3339_text(value: Any) -> Any:
    """An RFC 3339 time as text (or a Python ``datetime``); pydantic alone also reads ``0.5`` or
    ``1700000000`` as seconds since 1970, which no API here documents."""
    if isinstance(value, datetime) or (isinstance(value, str) and _RFC3339_START.match(value)):
        return value
    raise ValueError("must be an RFC 3339 time with its offset, e.g. 2026-11-03T10:00:00Z")


def _storable(value: datetime) -> datetime:
    if problem := timestamp_problem(value):
        raise ValueError(problem)
    return value


Rfc3339Time = Annotated[AwareDatetime, BeforeValidator(_rfc3339_text),
                        WithJsonSchema({"type": "string", "format": "date-time"}, mode="validation")]
"""A time an API reads: RFC 3339 text with an offset (``2026-11-03T10:00:00Z``)."""

_STORABLE_PATTERN = ("^20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
                     "(\\.[0-9]{1,6})?(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9])$")
StorableTime = Annotated[AwareDatetime, BeforeValidator(_rfc3339_text), AfterValidator(_storable),
                         WithJsonSchema({"type": "string", "format": "date-time", "pattern": _STORABLE_PATTERN,
                                         "description": "RFC 3339, from 2000-01-01 (inclusive) to 2100-01-01."},
                                        mode="validation")]
"""A time an API reads that is stored: RFC 3339 text within ``EARLIEST_TIMESTAMP``..``LATEST_TIMESTAMP``
(the pattern documents the range: years 2000 to 2099)."""


def decimal_problem(text: str | Decimal, *, scale: int, integer_digits: int) -> str | None:
    """Why a decimal (or its text) does not fit ``Decimal(38, scale)``, or ``None``."""
    try:
        value = text if isinstance(text, Decimal) else Decimal(text)
    except (InvalidOperation, ValueError):
        return f"{str(text)[:60]!r} is not a decimal number"
    if not value.is_finite():
        return f"{value} is not a finite number"
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -scale and value != value.quantize(Decimal(1).scaleb(-scale)):
        return f"{value} has more than {scale} decimals"
    if value != 0 and value.adjusted() >= integer_digits:
        return f"{value} has more than {integer_digits} integer digits"
    return None


def month_of(value: datetime) -> tuple[int, int]:
    """The (year, month) partition a timestamp lands in (tables are partitioned by UTC month)."""
    utc = value.astimezone(UTC)
    return utc.year, utc.month
