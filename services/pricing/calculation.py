"""The exact cost of one call at an applied price.

Each bucket is ``tokens × price / 1,000,000`` (``libs.common.money.token_cost``) and the total
is their sum, all without rounding: rounding happens once, on invoice lines.
"""

from __future__ import annotations

from decimal import Context, Decimal, localcontext

from libs.common.events import AppliedPrice, CostBreakdown, TokenUsage
from libs.common.money import TOKENS_PER_MILLION
from services.pricing.construct import construct

__all__ = ["price_usage"]

# Wide enough that summing five exact amounts (≤ 13 integer + 18 fractional digits) never rounds.
_EXACT = Context(prec=60)


def price_usage(usage: TokenUsage, price: AppliedPrice) -> CostBreakdown:
    """Exact per-bucket and total cost in USD of ``usage`` at ``price``.

    The same arithmetic as ``libs.common.money.token_cost`` for each bucket, inside one
    decimal context instead of one per bucket, and the result built without re-validating
    the Decimals just computed: this runs once per event on the pricing hot path.
    """
    with localcontext(_EXACT):
        input_usd = Decimal(usage.input_tokens) * price.input_per_mtok / TOKENS_PER_MILLION
        output_usd = Decimal(usage.output_tokens) * price.output_per_mtok / TOKENS_PER_MILLION
        cache_read_usd = Decimal(usage.cache_read_tokens) * price.cache_read_per_mtok / TOKENS_PER_MILLION
        cache_write_usd = Decimal(usage.cache_write_tokens) * price.cache_write_per_mtok / TOKENS_PER_MILLION
        reasoning_usd = Decimal(usage.reasoning_tokens) * price.reasoning_per_mtok / TOKENS_PER_MILLION
        total_usd = input_usd + output_usd + cache_read_usd + cache_write_usd + reasoning_usd
    return construct(CostBreakdown, {
        "input_usd": input_usd,
        "output_usd": output_usd,
        "cache_read_usd": cache_read_usd,
        "cache_write_usd": cache_write_usd,
        "reasoning_usd": reasoning_usd,
        "total_usd": total_usd,
    })
