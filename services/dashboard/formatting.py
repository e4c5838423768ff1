"""How numbers read on a page: exact Decimals turned into text only at the very end."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

__all__ = ["money", "month_label", "number", "percent", "to_decimal"]

_CENT = Decimal("0.01")


def to_decimal(value: object, default: Decimal | None = None) -> Decimal | None:
    """A decimal string from an API (``"12.50"``) as a Decimal; ``default`` when absent."""
    if value is None or value == "":
        return default
    return Decimal(str(value))


def money(value: Decimal | str | None, *, exact: bool = False) -> str:
    """``$1,234.56`` (half-up to cents, as invoices round), ``-$3.00``; ``—`` for none.

    ``exact`` keeps up to 6 decimals for amounts below a cent that would otherwise read $0.00."""
    if isinstance(value, str):
        value = to_decimal(value)
    if value is None:
        return "—"
    sign = "-" if value < 0 else ""
    if exact and value != 0 and abs(value) < _CENT:
        text = format(abs(value).quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP), "f").rstrip("0")
        return f"{sign}${text}"
    return f"{sign}${abs(value).quantize(_CENT, rounding=ROUND_HALF_UP):,.2f}"


def percent(value: Decimal | None, places: int = 0) -> str:
    """A fraction as a percentage: ``0.843`` → ``84%``."""
    if value is None:
        return "—"
    quantum = Decimal(1).scaleb(-places)
    return f"{(value * 100).quantize(quantum, rounding=ROUND_HALF_UP):,}%"


def number(value: int | Decimal | None) -> str:
    return "—" if value is None else f"{value:,}"


def per_mtok(value: Decimal | str | None) -> str:
    """A per-million-token price as stored, without trailing zeros past cents: ``$2.50``, ``$0.075``."""
    amount = to_decimal(value) if isinstance(value, str) else value
    if amount is None:
        return "—"
    text = format(amount.normalize(), "f")
    whole, _, fraction = text.partition(".")
    return f"${whole}.{fraction.ljust(2, '0')}"


def month_label(period: str | None) -> str:
    """``2026-11`` as a person names it, ``November 2026``; other text as it is."""
    from libs.common.periods import parse_period

    try:
        return parse_period(str(period)).label
    except ValueError:
        return str(period or "")
