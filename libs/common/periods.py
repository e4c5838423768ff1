"""Billing and budget periods: calendar months in UTC, written ``YYYY-MM``."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

__all__ = ["PERIOD_PATTERN", "Period", "parse_period"]

_PATTERN = re.compile(r"^(\d{4})-(\d{2})$")
# ClickHouse ``Date`` covers 1970-01-01 .. 2149-06-06; keep whole months inside it.
_MIN_YEAR, _MAX_YEAR = 1970, 2148

PERIOD_PATTERN = r"^(19[7-9][0-9]|20[0-9]{2}|21[0-3][0-9]|214[0-8])-(0[1-9]|1[0-2])$"
"""Exactly the periods ``parse_period`` accepts (1970-01 .. 2148-12), for OpenAPI documents."""


@dataclass(frozen=True, slots=True, order=True)
class Period:
    """One calendar month; ``start`` is inclusive and ``end`` exclusive, both midnight UTC."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Period:
        return parse_period(text)

    @classmethod
    def of(cls, at: datetime) -> Period:
        at = at.astimezone(UTC)
        return cls(at.year, at.month)

    @classmethod
    def of_date(cls, day: date) -> Period:
        return cls(day.year, day.month)

    @property
    def first_day(self) -> date:
        """The value of the ``month`` column in the totals tables (and ``period`` in alerts)."""
        return date(self.year, self.month, 1)

    @property
    def start(self) -> datetime:
        return datetime(self.year, self.month, 1, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        return self.next().start

    @property
    def days(self) -> int:
        return calendar.monthrange(self.year, self.month)[1]

    @property
    def label(self) -> str:
        """``October 2026``: how a person names the month."""
        return f"{calendar.month_name[self.month]} {self.year}"

    def next(self) -> Period:
        return Period(self.year + 1, 1) if self.month == 12 else Period(self.year, self.month + 1)

    def previous(self) -> Period:
        return Period(self.year - 1, 12) if self.month == 1 else Period(self.year, self.month - 1)

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
