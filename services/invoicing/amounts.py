"""How decimal amounts and prices are shown: plain digits, trailing zeros trimmed.

ClickHouse returns every value at its column's scale (``2.500000000000`` for a price,
``5.250000000000000000`` for an amount); callers want ``2.50`` and ``5.25``. Trimming
only removes zeros, so no value ever changes.
"""

from __future__ import annotations

from decimal import Context, Decimal, localcontext

__all__ = ["plain", "trim", "usd"]

_EXACT = Context(prec=60)


def trim(value: Decimal, min_places: int = 0) -> Decimal:
    """``value`` without trailing zeros, but with at least ``min_places`` decimals (exact)."""
    with localcontext(_EXACT):
        exponent = value.normalize().as_tuple().exponent
        if not isinstance(exponent, int):
            raise ValueError(f"not a finite amount: {value}")
        places = max(min_places, -exponent)
        return value.quantize(Decimal(1).scaleb(-places))


def plain(value: Decimal) -> str:
    """Fixed-point text, never exponent notation (``str(Decimal("1E+2"))`` is ``"1E+2"``)."""
    return format(value, "f")


def usd(value: Decimal) -> str:
    """``$2.50``, ``$0.075``, ``$1,234.56``: at least cents, more digits only when they exist."""
    return f"${trim(value, 2):,f}"
