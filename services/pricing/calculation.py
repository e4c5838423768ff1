"""The exact cost of one call at an applied price.

Each bucket is ``tokens × price / 1,000,000`` (``libs.common.money.token_cost``) and the total
is their sum, all without rounding: rounding happens once, on invoice lines. A unit bucket
(1-hour cache writes, audio, images) is priced only when it has tokens, and only at a price the row
states: the caller quarantines events whose row does not price a unit they use
(``AppliedPrice.unpriced_units``).
"""

from __future__ import annotations

from decimal import Context, Decimal, getcontext, localcontext
from typing import Any

from libs.common.events import UNIT_BUCKETS, AppliedPrice, CostBreakdown, TokenUsage
from libs.common.money import TOKENS_PER_MILLION
from services.pricing.construct import construct

__all__ = ["EXACT", "bucket_costs", "has_unit_tokens", "price_usage"]

EXACT = Context(prec=60)
"""Wide enough that summing eight exact amounts (≤ 13 integer + 18 fractional digits) never rounds."""
_NOTHING = Decimal(0)
_NO_UNIT_COSTS = {unit.cost: _NOTHING for unit in UNIT_BUCKETS}
_AMOUNTS = ("input_usd", "output_usd", "cache_read_usd", "cache_write_usd", "reasoning_usd", "total_usd")
_UNIT_COSTS = tuple(unit.cost for unit in UNIT_BUCKETS)


def has_unit_tokens(usage: Any) -> bool:
    """Whether a call has tokens in a unit bucket (rare: most calls are text only)."""
    return bool(usage.cache_write_1h_tokens or usage.input_audio_tokens or usage.output_audio_tokens
                or usage.cache_audio_read_tokens or usage.input_image_tokens or usage.cache_image_read_tokens
                or usage.output_image_tokens)


def price_usage(usage: TokenUsage, price: AppliedPrice) -> CostBreakdown:
    """Exact per-bucket and total cost in USD of ``usage`` at ``price``, built without re-validation."""
    with localcontext(EXACT):
        amounts, units = bucket_costs(usage, price)
    return construct(CostBreakdown, {**dict(zip(_AMOUNTS, amounts, strict=True)),
                                     **(_NO_UNIT_COSTS if units is None else dict(zip(_UNIT_COSTS, units, strict=True)))})


def bucket_costs(usage: Any, price: AppliedPrice) -> tuple[list[Decimal], list[Decimal] | None]:
    """``CostBreakdown``'s six amounts (the five buckets and the total) in its order, and the unit
    buckets' seven (``None`` for a call without unit tokens: they cost nothing).

    Call inside ``localcontext(EXACT)``: entering one costs more than an event's arithmetic, so
    the consumer enters it once per batch. Each bucket is the same arithmetic as
    ``libs.common.money.token_cost``; an empty bucket costs exactly nothing, without arithmetic.
    """
    if getcontext().prec < EXACT.prec:
        raise RuntimeError("bucket_costs needs localcontext(EXACT): the default context would round")
    million = TOKENS_PER_MILLION
    tokens = usage.input_tokens
    input_usd = price.input_per_mtok * tokens / million if tokens else _NOTHING
    tokens = usage.output_tokens
    output_usd = price.output_per_mtok * tokens / million if tokens else _NOTHING
    tokens = usage.cache_read_tokens
    cache_read_usd = price.cache_read_per_mtok * tokens / million if tokens else _NOTHING
    tokens = usage.cache_write_tokens
    cache_write_usd = price.cache_write_per_mtok * tokens / million if tokens else _NOTHING
    tokens = usage.reasoning_tokens
    reasoning_usd = price.reasoning_per_mtok * tokens / million if tokens else _NOTHING
    total_usd = input_usd + output_usd + cache_read_usd + cache_write_usd + reasoning_usd
    units = None
    if has_unit_tokens(usage):
        units = [_unit_cost(getattr(usage, unit.tokens), getattr(price, unit.price)) for unit in UNIT_BUCKETS]
        total_usd += sum(units)
    return [input_usd, output_usd, cache_read_usd, cache_write_usd, reasoning_usd, total_usd], units


def _unit_cost(tokens: int, price_per_mtok: Decimal | None) -> Decimal:
    """A unit bucket's cost (inside the caller's exact context); tokens at no price is a caller's bug."""
    if not tokens:
        return _NOTHING
    if price_per_mtok is None:
        raise ValueError("tokens in a unit bucket the price row does not price (quarantine it instead)")
    return price_per_mtok * tokens / TOKENS_PER_MILLION
