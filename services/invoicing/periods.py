"""Billing periods: calendar months in UTC, written ``YYYY-MM``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

__all__ = ["Period", "parse_period"]

_PATTERN = re.compile(r"^(\d{4})-(\d{2})$")
# ClickHouse ``Date`` covers 1970-01-01 .. 2149-06-06; keep whole months inside it.
_MIN_YEAR, _MAX_YEAR = 1970, 2148


@dataclass(frozen=True, slots=True, order=True)
class Period:
    """One calendar month; ``start`` is inclusive and ``end`` exclusive, both midnight UTC."""

    year: int
    month: int

    @property
    def first_day(self) -> date:
        """The value of the ``month`` column in ``usage_totals_monthly``."""
        return date(self.year, self.month, 1)

    @property
    def start(self) -> datetime:
        return datetime(self.year, self.month, 1, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        if self.month == 12:
            return datetime(self.year + 1, 1, 1, tzinfo=UTC)
        return datetime(self.year, self.month + 1, 1, tzinfo=UTC)

    def is_closed(self, now: datetime) -> bool:
        """A period stays open (its invoice may still grow) until its last UTC instant has passed."""
        return now >= self.end

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def parse_period(text: str) -> Period:
    """``"2026-03"`` → ``Period(2026, 3)``; ``ValueError`` with a caller-readable reason otherwise."""
    match = _PATTERN.match(text)
    if match is None:
        raise ValueError("period must be a month written YYYY-MM, e.g. 2026-03")
    year, month = int(match[1]), int(match[2])
    if not 1 <= month <= 12:
        raise ValueError(f"month {month:02d} does not exist; use 01 to 12")
    if not _MIN_YEAR <= year <= _MAX_YEAR:
        raise ValueError(f"year must be between {_MIN_YEAR} and {_MAX_YEAR}")
    return Period(year, month)
