"""Small builders of usage rows shared by the invoicing tests."""

from __future__ import annotations

from decimal import Decimal

from libs.common.money import token_cost
from services.invoicing.domain import UsageTotals

ZERO = Decimal(0)


def usage(
    provider: str = "openai",
    model: str = "gpt-4o",
    *,
    input_tokens: int = 0,
    output_tokens: int = 0,
    cache_read_tokens: int = 0,
    cache_write_tokens: int = 0,
    reasoning_tokens: int = 0,
    input_per_mtok: str = "0",
    output_per_mtok: str = "0",
    cache_read_per_mtok: str = "0",
    cache_write_per_mtok: str = "0",
    reasoning_per_mtok: str = "0",
    events: int = 1,
    cost_usd: str | None = None,
    price_id: str | None = None,
    price_tier: str = "",
) -> UsageTotals:
    """A line's usage; its cost is computed from tokens × prices unless ``cost_usd`` is given."""
    pairs = [
        (input_tokens, Decimal(input_per_mtok)), (output_tokens, Decimal(output_per_mtok)),
        (cache_read_tokens, Decimal(cache_read_per_mtok)), (cache_write_tokens, Decimal(cache_write_per_mtok)),
        (reasoning_tokens, Decimal(reasoning_per_mtok)),
    ]
    exact = sum((token_cost(tokens, price) for tokens, price in pairs), ZERO)
    return UsageTotals(
        provider=provider,
        model=model,
        price_source="catalog",
        price_id=price_id or f"{provider}/{model}",
        price_tier=price_tier,
        input_per_mtok=Decimal(input_per_mtok),
        output_per_mtok=Decimal(output_per_mtok),
        cache_read_per_mtok=Decimal(cache_read_per_mtok),
        cache_write_per_mtok=Decimal(cache_write_per_mtok),
        reasoning_per_mtok=Decimal(reasoning_per_mtok),
        events=events,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cache_read_tokens=cache_read_tokens,
        cache_write_tokens=cache_write_tokens,
        reasoning_tokens=reasoning_tokens,
        cost_usd=Decimal(cost_usd) if cost_usd is not None else exact,
    )


def worked_example() -> list[UsageTotals]:
    """The invoice from the product brief: $5.25 + $2.67 + $0.56 = $8.48, +25% = $10.60."""
    return [
        usage("google", "gemini-1.5-pro", input_tokens=450_000, input_per_mtok="1.25", events=3),
        usage("openai", "gpt-4o", input_tokens=2_100_000, input_per_mtok="2.50", events=7),
        usage("anthropic", "claude-3-5-sonnet", input_tokens=890_000, input_per_mtok="3.00", events=5),
    ]
