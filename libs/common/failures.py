"""Telling a transient failure from a permanent one, and waiting between retries.

- **Transient**: the dependency is away or busy (connection refused, timeouts, ClickHouse
  out of memory or merging too slowly, Kafka leader elections). Retrying the same data
  later will work: the consumer backs off (capped, exponential) and retries, and the
  retries show in ``tokentally_consumer_retries_in_progress`` and in ``/health``.
- **Permanent**: the server refuses *the data itself* (ClickHouse cannot parse or store a
  value, a block spans too many partitions; Kafka says a message is too large). Retrying
  cannot help; the consumer isolates the offending events (bisecting the batch) and sends
  each to the dead-letter topic with the reason, and the rest goes through.

Anything not known to be permanent is treated as transient: a retried outage is visible
and loses nothing, a wrongly dead-lettered batch would need an operator.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Final, Generic, TypeVar

from aiokafka.errors import MessageSizeTooLargeError, RecordListTooLargeError, RecordTooLargeError
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

#: ClickHouse error codes that mean "this data cannot be stored", whatever the server's state.
PERMANENT_CLICKHOUSE_CODES: Final = {
    6: "CANNOT_PARSE_TEXT",
    25: "CANNOT_PARSE_ESCAPE_SEQUENCE",
    26: "CANNOT_PARSE_QUOTED_STRING",
    27: "CANNOT_PARSE_INPUT_ASSERTION_FAILED",
    38: "CANNOT_PARSE_DATE",
    41: "CANNOT_PARSE_DATETIME",
    53: "TYPE_MISMATCH",
    69: "ARGUMENT_OUT_OF_BOUND",  # e.g. "Decimal value is too big"
    70: "CANNOT_CONVERT_TYPE",
    72: "CANNOT_PARSE_NUMBER",
    117: "INCORRECT_DATA",
    131: "TOO_LARGE_STRING_SIZE",
    252: "TOO_MANY_PARTS",  # only "Too many partitions for single INSERT block"; see below
    321: "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE",
    407: "DECIMAL_OVERFLOW",
}
_TOO_MANY_PARTITIONS = "partitions for single insert block"

_PERMANENT_KAFKA = (MessageSizeTooLargeError, RecordTooLargeError, RecordListTooLargeError)


def permanent_reason(exc: BaseException) -> str | None:
    """A short class name (``clickhouse:TOO_MANY_PARTS``, ``kafka:message_too_large``) when
    ``exc`` is the server refusing the data itself; ``None`` when retrying may help."""
    if isinstance(exc, _PERMANENT_KAFKA):
        return "kafka:message_too_large"
    if isinstance(exc, DatabaseError) and not isinstance(exc, OperationalError):
        code = getattr(exc, "code", None)
        name = PERMANENT_CLICKHOUSE_CODES.get(code) if isinstance(code, int) else None
        if name is None:
            return None
        if code == 252 and _TOO_MANY_PARTITIONS not in str(exc).lower():
            return None  # "Too many parts … merges are slower than inserts": back off
        return f"clickhouse:{name}"
    return None


def describe(exc: BaseException, limit: int = 500) -> str:
    """One line for logs and dead-letter reasons: the type and the first of the message."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:limit]}" if text else type(exc).__name__


@dataclass
class Backoff:
    """Capped exponential backoff with jitter: ``base · 2^n``, at most ``cap`` seconds.

    One per consumer, kept across redeliveries of the same batch, so a batch that keeps
    failing waits longer each time instead of spinning; ``reset()`` after a success.
    """

    base_seconds: float = 0.5
    cap_seconds: float = 15.0
    failures: int = 0
    last_error: str = ""
    last_error_type: str = ""
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    def next_delay(self, error: BaseException | None = None) -> float:
        """Record one more failure and return how long to wait before the next attempt."""
        self.failures += 1
        if error is not None:
            self.last_error = describe(error, 200)
            self.last_error_type = type(error).__name__
        ceiling = min(self.cap_seconds, self.base_seconds * 2 ** min(self.failures - 1, 30))
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    def reset(self) -> None:
        self.failures = 0
        self.last_error = ""
        self.last_error_type = ""


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Refused(Generic[T]):
    """An item a server refused on its own: the reason (its message) and the error class."""

    item: T
    reason: str
    error_class: str


async def write_isolating(items: Sequence[T], write: Callable[[Sequence[T]], Awaitable[None]]) -> list[Refused[T]]:
    """``write(items)``; when the server refuses the data itself, bisect to the items it refuses alone.

    Returns those items (everything else is written); a transient failure propagates at
    once, whatever was written so far (callers make a repeat harmless: the aggregator's
    dedup by key). With k bad items among n this costs about 2·k·log2(n) writes, which
    is why the consumers check the known limits before writing and bisection only backs
    them up.
    """
    try:
        await write(items)
    except Exception as exc:
        error_class = permanent_reason(exc)
        if error_class is None:
            raise
        if len(items) == 1:
            return [Refused(items[0], describe(exc, 1500), error_class)]
        middle = len(items) // 2
        return [*await write_isolating(items[:middle], write), *await write_isolating(items[middle:], write)]
    return []
