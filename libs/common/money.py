"""Exact money arithmetic and the rounding rules invoices use.

Rules (also in the README):
- Per-event costs are exact: tokens × price-per-million / 1,000,000, never rounded.
- An invoice line is the exact sum of its events' costs, rounded half-up to cents.
- ``base_cost`` is the sum of the rounded lines.
- ``markup`` is ``base_cost × markup_percent / 100``, rounded half-up to cents.
- ``tax`` (when the client has a tax rate) is ``(base_cost + markup) × tax_percent / 100``,
  rounded half-up to cents.
- ``total`` is ``base_cost + markup + tax``.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal, localcontext
from typing import Annotated

from pydantic import Field, PlainSerializer

from libs.common.limits import AMOUNT_SCALE, MAX_PRICE_PER_MTOK, PRICE_SCALE

CENT = Decimal("0.01")
TOKENS_PER_MILLION = Decimal(1_000_000)

__all__ = ["AMOUNT_SCALE", "CENT", "PRICE_SCALE", "TOKENS_PER_MILLION", "DecimalStr", "PricePerMTok", "markup_of",
           "round_cents", "tax_of", "token_cost"]
# PRICE_SCALE: per-million-token prices, in Python and in ClickHouse (Decimal(38, 12)).
# AMOUNT_SCALE: exact per-event amounts (price scale + 6 digits from the per-million division).

_EXACT = Context(prec=60)

#: Money and prices travel as decimal strings in JSON, never as floats.
DecimalStr = Annotated[Decimal, PlainSerializer(lambda v: str(v), return_type=str, when_used="json")]
PricePerMTok = Annotated[
    Decimal,
    Field(ge=0, le=MAX_PRICE_PER_MTOK, decimal_places=PRICE_SCALE),
    PlainSerializer(lambda v: str(v), return_type=str, when_used="json"),
]


def token_cost(tokens: int, price_per_mtok: Decimal) -> Decimal:
    """Exact cost of ``tokens`` at a per-million-token price (no rounding)."""
    with localcontext(_EXACT):
        return Decimal(tokens) * price_per_mtok / TOKENS_PER_MILLION


def round_cents(amount: Decimal) -> Decimal:
    """Round half-up to whole cents, the only rounding an invoice applies."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP, context=_EXACT)


def markup_of(base: Decimal, markup_percent: Decimal) -> Decimal:
    """Markup on an already rounded base, rounded half-up to cents."""
    with localcontext(_EXACT):
        return round_cents(base * markup_percent / Decimal(100))


def tax_of(taxable: Decimal, tax_percent: Decimal) -> Decimal:
    """Tax on the amount after markup (``base_cost + markup``), rounded half-up to cents.

    Half-up: a half cent goes up ($10.25 at 10% = $1.025 → $1.03), away from zero for a
    negative amount (a credit of -$10.25 at 10% carries -$1.03 of tax).
    """
    with localcontext(_EXACT):
        return round_cents(taxable * tax_percent / Decimal(100))
