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

import re
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, PlainSerializer, WithJsonSchema

from libs.common.limits import AMOUNT_SCALE, MAX_PRICE_PER_MTOK, PRICE_SCALE

CENT = Decimal("0.01")
TOKENS_PER_MILLION = Decimal(1_000_000)

__all__ = ["AMOUNT_SCALE", "CENT", "PRICE_SCALE", "TOKENS_PER_MILLION", "DecimalStr", "PricePerMTok", "decimal_input",
           "markup_of", "round_cents", "tax_of", "token_cost"]
# PRICE_SCALE: per-million-token prices, in Python and in ClickHouse (Decimal(38, 12)).
# AMOUNT_SCALE: exact per-event amounts (price scale + 6 digits from the per-million division).

_EXACT = Context(prec=60)

#: Money and prices travel as decimal strings in JSON, never as floats.
DecimalStr = Annotated[Decimal, PlainSerializer(lambda v: str(v), return_type=str, when_used="json")]


def decimal_input(*, places: int, example: str, maximum: int | None = None, integer_digits: int | None = None,
                  positive: bool = False) -> Any:
    """A decimal an API reads: text like ``"12.50"`` or a whole number, never a JSON float.

    A number with a fraction has usually been a binary float in the sender (``0.1 + 0.2``), so
    it may already be off by a fraction of a cent: it is refused, naming the field. Text must
    match one pattern (digits, at most ``places`` decimals, no sign or exponent), which is also
    what the OpenAPI document declares, so what the document allows is exactly what is
    accepted. ``maximum`` is a power of ten (inclusive); without it, ``integer_digits`` bound
    the whole part. ``positive`` excludes zero. Python callers may pass a ``Decimal``.
    """
    digits = len(str(maximum)) - 1 if maximum is not None else integer_digits
    if digits is None or (maximum is not None and maximum != 10**digits):
        raise ValueError("decimal_input needs a power-of-ten maximum or integer_digits")
    whole = f"[1-9][0-9]{{0,{digits - 1}}}" if digits > 1 else "[1-9]" if digits == 1 else None
    fraction = f"(\\.[0-9]{{1,{places}}})?"
    if positive:
        small = "|".join("0" * zeros + f"[1-9][0-9]{{0,{places - zeros - 1}}}" for zeros in range(places))
        choices = [f"{whole}{fraction}", f"0\\.({small})"]
    else:
        choices = [f"(0|{whole}){fraction}" if whole else f"0{fraction}"]
    if maximum is not None:
        choices.append(f"{maximum}(\\.0{{1,{places}}})?")
    pattern = "^(" + "|".join(choices) + ")$"
    matcher = re.compile(pattern)
    top = maximum if maximum is not None else 10**digits - 1
    # Whole JSON numbers above 10^15 are past what a double holds exactly (JavaScript's numbers,
    # most JSON parsers): larger values travel as text.
    whole_top = min(top, 10**15)
    rule = (f"a decimal written as text like \"{example}\": digits, at most {places} decimals, "
            f"{'above 0' if positive else 'from 0'} to {top}")

    def check(value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool) and value > whole_top:
            raise ValueError(f"must be {rule}; a whole number above {whole_top} must be sent as text")
        if isinstance(value, Decimal) or (isinstance(value, int) and not isinstance(value, bool)):
            return value  # a Python caller's Decimal, or a JSON whole number: exact either way
        if isinstance(value, float) and value.is_integer() and 0 <= value <= whole_top:
            return int(value)  # 30.0 is an integer to JSON Schema, and exact
        if isinstance(value, str) and matcher.fullmatch(value):
            return value
        if isinstance(value, float):
            raise ValueError(f"must be {rule} (a JSON number with a fraction may already have lost cents)")
        raise ValueError(_why_not(value, rule))

    def _why_not(value: Any, rule: str) -> str:
        try:
            number = Decimal(value) if isinstance(value, str) else None
        except ArithmeticError:
            number = None
        if number is None or not number.is_finite():
            return f"must be {rule}"
        if number < 0 or (positive and number == 0):
            return f"must be greater than {'' if positive else 'or equal to '}0: {rule}"
        if number > top:
            return f"must be less than or equal to {top}: {rule}"
        if isinstance(exponent := number.as_tuple().exponent, int) and -exponent > places:
            return f"must have at most {places} decimals: {rule}"
        return f"must be {rule}"

    schema = {"anyOf": [{"type": "string", "pattern": pattern, "examples": [example]},
                        {"type": "integer", "minimum": 1 if positive else 0, "maximum": whole_top}]}
    bounds = Field(gt=0, le=top, decimal_places=places) if positive else Field(ge=0, le=top, decimal_places=places)
    return Annotated[Decimal, BeforeValidator(check), bounds, WithJsonSchema(schema, mode="validation")]


PricePerMTok = Annotated[
    decimal_input(places=PRICE_SCALE, maximum=int(MAX_PRICE_PER_MTOK), example="2.50"),
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
