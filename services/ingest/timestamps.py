"""Event timestamps: how they are written (RFC 3339 with an offset) and which are accepted.

The window (README "Input policy"):

- at most ``max_future_seconds`` (default 300: clock skew) ahead of ingest's clock;
- with an ``ingest`` key, at most ``max_age_days`` (default 35) old: a whole month plus
  a few days for late batches, so usage for a month that ended long ago cannot quietly
  change its invoice;
- with an ``admin`` key (backfilling history, e.g. an agency moving from spreadsheets),
  back to ``libs.common.limits.EARLIEST_TIMESTAMP`` (2000-01-01);
- never outside what ClickHouse stores (``EARLIEST_TIMESTAMP``..``LATEST_TIMESTAMP``).

An event outside gets a field error on ``timestamp`` naming the window; the rest of its
batch is accepted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from libs.common.limits import EARLIEST_TIMESTAMP, LATEST_TIMESTAMP

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?P<offset>[Zz]|[+-]\d{2}:\d{2})?")
_TIMESTAMP_EXAMPLE = "e.g. 2025-01-31T12:00:00Z or 2025-01-31T13:00:00+01:00"


def _parse_timestamp(value: Any) -> datetime:
    """RFC 3339 with an offset, as UTC. A naive time is refused: it would bill an unknown hour."""
    if isinstance(value, datetime):
        return _as_utc(value)
    if not isinstance(value, str):
        raise PydanticCustomError(
            "timestamp_type", "timestamp must be an RFC 3339 string, {example}", {"example": _TIMESTAMP_EXAMPLE}
        )
    match = _RFC3339.fullmatch(value)
    if match is None:
        raise PydanticCustomError(
            "timestamp_format", "timestamp is not an RFC 3339 date-time; {example}", {"example": _TIMESTAMP_EXAMPLE}
        )
    if match.lastindex is None:  # the offset is the pattern's only group
        raise _naive_timestamp()
    try:
        parsed = datetime.fromisoformat(value if value.isupper() else value.upper())  # "z" is not ISO
    except ValueError as exc:  # e.g. 2025-02-30, second 60, offset +24:00
        raise _invalid_timestamp(str(exc)) from None
    if parsed.tzinfo is UTC:  # "Z" and "+00:00" parse to UTC itself: nothing to convert (most events)
        return parsed
    return _as_utc(parsed)


def _as_utc(value: datetime) -> datetime:
    if value.utcoffset() is None:
        raise _naive_timestamp()
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59:59-01:00 is past datetime.max in UTC
        raise _invalid_timestamp("out of range once converted to UTC") from None


def _invalid_timestamp(reason: str) -> PydanticCustomError:
    return PydanticCustomError("timestamp_range", "timestamp is not a valid date-time: {reason}", {"reason": reason})


def _naive_timestamp() -> PydanticCustomError:
    return PydanticCustomError(
        "timestamp_naive",
        "timestamp has no timezone; add Z or a ±HH:MM offset, {example}",
        {"example": _TIMESTAMP_EXAMPLE},
    )


Timestamp = Annotated[
    datetime,
    PlainValidator(_parse_timestamp),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class TimestampWindow:
    """The event times one request may carry: ``earliest <= timestamp <= latest``."""

    earliest: datetime
    latest: datetime
    policy: str
    """How the window was chosen, for the error message."""

    @classmethod
    def storable(cls) -> TimestampWindow:
        """Everything TokenTally can store (tools and tests; requests get ``for_request``)."""
        return cls(EARLIEST_TIMESTAMP, LATEST_TIMESTAMP - timedelta(microseconds=1), "what TokenTally stores")

    @classmethod
    def for_request(cls, now: datetime, *, max_age_days: int, max_future_seconds: int,
                    backfill: bool) -> TimestampWindow:
        latest = min(now + timedelta(seconds=max_future_seconds), LATEST_TIMESTAMP - timedelta(microseconds=1))
        future = f"at most {max_future_seconds}s ahead of the server clock"
        if backfill:
            return cls(EARLIEST_TIMESTAMP, latest, f"admin backfill from {EARLIEST_TIMESTAMP.date()}, {future}")
        earliest = max(now - timedelta(days=max_age_days), EARLIEST_TIMESTAMP)
        return cls(earliest, latest, f"at most {max_age_days} days old and {future}; "
                                     "older usage can be backfilled with an admin key")

    def problem(self, value: datetime) -> str | None:
        if self.earliest <= value <= self.latest:
            return None
        return self.outside(value)

    def outside(self, value: datetime) -> str:
        """What is wrong with a timestamp outside the window."""
        return (f"timestamp {_iso(value)} is outside the accepted window {_iso(self.earliest)} .. "
                f"{_iso(self.latest)} ({self.policy})")
