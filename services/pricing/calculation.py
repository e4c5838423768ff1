"""The exact cost of one call at an applied price.

Each bucket is ``tokens × price / 1,000,000`` (``libs.common.money.token_cost``) and the total
is their sum, all without rounding: rounding happens once, on invoice lines.
"""

from __future__ import annotations

from decimal import Context, localcontext

from libs.common.events import AppliedPrice, CostBreakdown, TokenUsage
from libs.common.money import token_cost

__all__ = ["price_usage"]

# Wide enough that summing five exact amounts (≤ 13 integer + 18 fractional digits) never rounds.
_EXACT = Context(prec=60)


def price_usage(usage: TokenUsage, price: AppliedPrice) -> CostBreakdown:
    """Exact per-bucket and total cost in USD of ``usage`` at ``price``."""
    input_usd = token_cost(usage.input_tokens, price.input_per_mtok)
    output_usd = token_cost(usage.output_tokens, price.output_per_mtok)
    cache_read_usd = token_cost(usage.cache_read_tokens, price.cache_read_per_mtok)
    cache_write_usd = token_cost(usage.cache_write_tokens, price.cache_write_per_mtok)
    reasoning_usd = token_cost(usage.reasoning_tokens, price.reasoning_per_mtok)
    with localcontext(_EXACT):
        total_usd = input_usd + output_usd + cache_read_usd + cache_write_usd + reasoning_usd
    return CostBreakdown(
        input_usd=input_usd,
        output_usd=output_usd,
        cache_read_usd=cache_read_usd,
        cache_write_usd=cache_write_usd,
        reasoning_usd=reasoning_usd,
        total_usd=total_usd,
    )
