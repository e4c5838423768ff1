"""Exact per-bucket costs: tokens × price / 1M, never rounded."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from libs.common.events import AppliedPrice, TokenUsage
from services.pricing.calculation import price_usage


def _price(
    input_: str,
    output: str = "0",
    cache_read: str | None = None,
    cache_write: str | None = None,
    reasoning: str | None = None,
) -> AppliedPrice:
    return AppliedPrice(
        source="override",
        price_id="test",
        effective_from=datetime(2026, 1, 1, tzinfo=UTC),
        input_per_mtok=Decimal(input_),
        output_per_mtok=Decimal(output),
        cache_read_per_mtok=Decimal(cache_read or input_),
        cache_write_per_mtok=Decimal(cache_write or input_),
        reasoning_per_mtok=Decimal(reasoning or output),
    )


@pytest.mark.parametrize(
    ("tokens", "per_mtok", "expected"),
    [
        (2_100_000, "2.50", "5.25"),
        (890_000, "3.00", "2.67"),
        (450_000, "1.25", "0.5625"),
        (1, "0.075", "0.000000075"),
        (1_000_000, "2.5", "2.5"),
        (0, "10", "0"),
        (333_333, "0.000000000001", "0.000000000000333333"),
    ],
)
def test_input_cost_is_exact(tokens: int, per_mtok: str, expected: str) -> None:
    cost = price_usage(TokenUsage(input_tokens=tokens), _price(per_mtok))
    assert cost.input_usd == Decimal(expected)
    assert cost.total_usd == Decimal(expected)


def test_each_bucket_uses_its_own_price() -> None:
    usage = TokenUsage(
        input_tokens=1_000_000,
        output_tokens=2_000_000,
        cache_read_tokens=3_000_000,
        cache_write_tokens=4_000_000,
        reasoning_tokens=5_000_000,
    )
    cost = price_usage(usage, _price("1", "2", cache_read="0.1", cache_write="1.25", reasoning="3"))
    assert cost.input_usd == Decimal("1")
    assert cost.output_usd == Decimal("4")
    assert cost.cache_read_usd == Decimal("0.3")
    assert cost.cache_write_usd == Decimal("5")
    assert cost.reasoning_usd == Decimal("15")
    assert cost.total_usd == Decimal("25.3")


def test_total_is_the_exact_sum_of_buckets() -> None:
    usage = TokenUsage(input_tokens=123_457, output_tokens=98_765, cache_read_tokens=4_321, reasoning_tokens=7)
    cost = price_usage(usage, _price("2.5", "10", cache_read="1.25"))
    buckets = [cost.input_usd, cost.output_usd, cost.cache_read_usd, cost.cache_write_usd, cost.reasoning_usd]
    assert cost.total_usd == sum(buckets, Decimal(0))
    assert cost.total_usd == Decimal("0.3086425") + Decimal("0.98765") + Decimal("0.00540125") + Decimal("0.00007")


def test_large_amounts_are_not_rounded_by_the_default_context() -> None:
    """10^12 tokens at a 12-decimal price has more digits than Decimal's default precision (28)."""
    price = _price("999999.123456789012", "888888.987654321098")
    usage = TokenUsage(input_tokens=10**12 - 1, output_tokens=10**12 - 3)
    cost = price_usage(usage, price)
    assert cost.input_usd == Decimal("999999123455.789012876543210988")
    assert cost.output_usd == Decimal("888888987651.654431037037036706")
    assert cost.total_usd == Decimal("1888888111107.443443913580247694")


def test_zero_usage_costs_nothing() -> None:
    cost = price_usage(TokenUsage(), _price("2.5", "10"))
    assert cost.total_usd == 0
    assert all(isinstance(v, Decimal) for v in cost.model_dump().values())


def test_amounts_serialise_as_strings() -> None:
    cost = price_usage(TokenUsage(input_tokens=1), _price("0.075"))
    data = cost.model_dump(mode="json")
    assert Decimal(data["input_usd"]) == Decimal("0.000000075")
    assert all(isinstance(v, str) for v in data.values())
