"""Money, prices, counts and dates written by the locale's and currency's rules (Babel).

Formatting never rounds: amounts on a document are already rounded to the currency's
minor unit, and a price keeps every digit it has (``$0.075/1M``). Babel only adds the
symbol, grouping and the currency's minimum decimals (``$2.50``, ``1.234,50 €``).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from babel.dates import format_date
from babel.numbers import format_currency, format_decimal

__all__ = ["Formatter"]


class Formatter:
    """Formats for one document: one currency, one locale."""

    def __init__(self, currency: str, locale: str = "en_US") -> None:
        self.currency = currency
        self.locale = locale

    def money(self, value: Decimal) -> str:
        """``$5.25``, ``-$0.30``, ``$1,234.50``: exact, padded to the currency's decimals."""
        return format_currency(value, self.currency, locale=self.locale, decimal_quantization=False)

    def price(self, per_mtok: Decimal) -> str:
        """A per-million-token price with every digit it has, trailing zeros past cents dropped."""
        return self.money(_trimmed(per_mtok))

    def count(self, value: int) -> str:
        return format_decimal(value, locale=self.locale)

    def percent(self, value: Decimal) -> str:
        """``25``, ``12.5``: a percentage without trailing zeros (the ``%`` sign is the template's)."""
        return format_decimal(_trimmed(value), locale=self.locale, decimal_quantization=False)

    def day(self, value: date) -> str:
        """``December 1, 2026`` (en_US), ``1. Dezember 2026`` (de_DE)."""
        return format_date(value, format="long", locale=self.locale)


def _trimmed(value: Decimal) -> Decimal:
    """Exact value without trailing zeros, written in fixed point (``1E+2`` → ``100``)."""
    normal = value.normalize()
    return normal.quantize(Decimal(1)) if normal.as_tuple().exponent > 0 else normal  # type: ignore[operator]
