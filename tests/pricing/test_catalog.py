"""The bundled genai-prices catalog: known prices, history, tiers, aliases, misses.

Expected values are read from genai-prices 0.2.3's bundled data (``genai_prices/data.py``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import genai_prices
import pytest

from libs.common.events import TokenUsage
from services.pricing.calculation import price_usage
from services.pricing.catalog import (
    PROVIDER_ALIASES,
    CatalogEntry,
    CatalogMiss,
    CatalogPrices,
    prompt_tokens,
)

AT = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
NO_USAGE = TokenUsage()
D = Decimal


@pytest.fixture(scope="module")
def catalog() -> CatalogPrices:
    return CatalogPrices()


def test_gpt_4o_known_prices(catalog: CatalogPrices) -> None:
    price = catalog.lookup("openai", "gpt-4o", AT, NO_USAGE)
    assert price is not None
    assert price.source == "catalog"
    assert price.price_id == "openai/gpt-4o"
    assert price.effective_from is None
    assert price.input_per_mtok == D("2.5")
    assert price.output_per_mtok == D("10")
    assert price.cache_read_per_mtok == D("1.25")
    # No cache-write price in the catalog: written tokens are input tokens.
    assert price.cache_write_per_mtok == D("2.5")
    # Reasoning is not priced apart: it is output.
    assert price.reasoning_per_mtok == D("10")
    assert price.tier == ""


def test_dated_model_ref_matches_through_the_models_match_clause(catalog: CatalogPrices) -> None:
    price = catalog.lookup("openai", "gpt-4o-2024-11-20", AT, NO_USAGE)
    assert price is not None and price.price_id == "openai/gpt-4o"
    older = catalog.lookup("openai", "gpt-4o-2024-05-13", AT, NO_USAGE)
    assert older is not None and older.price_id == "openai/gpt-4o-2024-05-13"
    assert (older.input_per_mtok, older.output_per_mtok) == (D("5"), D("15"))


def test_claude_3_5_sonnet_known_prices(catalog: CatalogPrices) -> None:
    price = catalog.lookup("anthropic", "claude-3-5-sonnet-20241022", AT, NO_USAGE)
    assert price is not None
    assert price.price_id == "anthropic/claude-3-5-sonnet"
    assert price.input_per_mtok == D("3")
    assert price.output_per_mtok == D("15")
    assert price.cache_read_per_mtok == D("0.3")
    assert price.cache_write_per_mtok == D("3.75")
    assert price.reasoning_per_mtok == D("15")


@pytest.mark.parametrize("model", ["claude-sonnet-4-20250514", "claude-sonnet-4", "Claude-Sonnet-4-0"])
def test_claude_sonnet_4_known_prices(catalog: CatalogPrices, model: str) -> None:
    price = catalog.lookup("anthropic", model, AT, NO_USAGE)
    assert price is not None
    assert price.price_id == "anthropic/claude-sonnet-4-0"
    assert (price.input_per_mtok, price.output_per_mtok) == (D("3"), D("15"))
    assert (price.cache_read_per_mtok, price.cache_write_per_mtok) == (D("0.3"), D("3.75"))


def test_gemini_2_5_pro_base_tier(catalog: CatalogPrices) -> None:
    price = catalog.lookup("google", "gemini-2.5-pro", AT, TokenUsage(input_tokens=1000, output_tokens=500))
    assert price is not None
    assert price.price_id == "google/gemini-2.5-pro"
    assert (price.input_per_mtok, price.output_per_mtok, price.cache_read_per_mtok) == (D("1.25"), D("10"), D("0.125"))
    assert price.tier == ""


def test_gemini_2_5_pro_above_200k_prompt_tokens_uses_the_higher_tier(catalog: CatalogPrices) -> None:
    price = catalog.lookup("google", "gemini-2.5-pro", AT, TokenUsage(input_tokens=250_000, output_tokens=10))
    assert price is not None
    assert (price.input_per_mtok, price.output_per_mtok, price.cache_read_per_mtok) == (D("2.5"), D("15"), D("0.25"))
    assert price.tier == "input>200000"


def test_tier_boundary_is_strictly_greater_than_the_start(catalog: CatalogPrices) -> None:
    at_start = catalog.lookup("google", "gemini-2.5-pro", AT, TokenUsage(input_tokens=200_000))
    above = catalog.lookup("google", "gemini-2.5-pro", AT, TokenUsage(input_tokens=200_001))
    assert at_start is not None and at_start.tier == "" and at_start.input_per_mtok == D("1.25")
    assert above is not None and above.tier == "input>200000" and above.input_per_mtok == D("2.5")


def test_tier_counts_the_whole_prompt_cached_or_not(catalog: CatalogPrices) -> None:
    usage = TokenUsage(input_tokens=100_000, cache_read_tokens=90_000, cache_write_tokens=10_001, output_tokens=10**6)
    assert prompt_tokens(usage) == 200_001
    price = catalog.lookup("google", "gemini-2.5-pro", AT, usage)
    assert price is not None and price.tier == "input>200000"
    # Output and reasoning tokens never move the tier.
    small = catalog.lookup("google", "gemini-2.5-pro", AT, TokenUsage(input_tokens=10, output_tokens=900_000))
    assert small is not None and small.tier == ""


def test_gemini_1_5_pro_tier_at_128k(catalog: CatalogPrices) -> None:
    base = catalog.lookup("google", "gemini-1.5-pro", AT, TokenUsage(input_tokens=128_000))
    high = catalog.lookup("google", "gemini-1.5-pro", AT, TokenUsage(input_tokens=128_001))
    assert base is not None and (base.input_per_mtok, base.output_per_mtok) == (D("1.25"), D("5"))
    assert high is not None and (high.input_per_mtok, high.output_per_mtok) == (D("2.5"), D("10"))
    assert high.tier == "input>128000"


def test_historic_price_change_is_picked_by_date(catalog: CatalogPrices) -> None:
    """OpenAI cut o3 from $10/$40 to $2/$8 on 2025-06-10."""
    before = catalog.lookup("openai", "o3", datetime(2025, 6, 9, 23, 59, 59, tzinfo=UTC), NO_USAGE)
    on = catalog.lookup("openai", "o3", datetime(2025, 6, 10, tzinfo=UTC), NO_USAGE)
    assert before is not None and on is not None
    assert (before.input_per_mtok, before.output_per_mtok) == (D("10"), D("40"))
    assert before.effective_from is None
    assert (on.input_per_mtok, on.output_per_mtok) == (D("2"), D("8"))
    assert on.effective_from == datetime(2025, 6, 10, tzinfo=UTC)
    assert on.price_id == before.price_id == "openai/o3"


def test_start_dates_are_utc_dates(catalog: CatalogPrices) -> None:
    # 23:30 on 9 June at UTC-1 is already 10 June in UTC.
    at = datetime(2025, 6, 9, 23, 30, tzinfo=timezone(timedelta(hours=-1)))
    price = catalog.lookup("openai", "o3", at, NO_USAGE)
    assert price is not None and price.input_per_mtok == D("2")
    # 00:30 on 10 June at UTC+2 is still 9 June in UTC.
    at = datetime(2025, 6, 10, 0, 30, tzinfo=timezone(timedelta(hours=2)))
    price = catalog.lookup("openai", "o3", at, NO_USAGE)
    assert price is not None and price.input_per_mtok == D("10")


def test_history_and_tiers_combined(catalog: CatalogPrices) -> None:
    """claude-sonnet-4-6 had a long-context tier until 2026-03-13, flat prices since."""
    big = TokenUsage(input_tokens=300_000)
    tiered = catalog.lookup("anthropic", "claude-sonnet-4-6", datetime(2026, 3, 12, tzinfo=UTC), big)
    flat = catalog.lookup("anthropic", "claude-sonnet-4-6", datetime(2026, 3, 13, tzinfo=UTC), big)
    assert tiered is not None and flat is not None
    assert tiered.tier == "input>200000"
    assert (tiered.input_per_mtok, tiered.output_per_mtok) == (D("6"), D("22.5"))
    assert (tiered.cache_read_per_mtok, tiered.cache_write_per_mtok) == (D("0.6"), D("7.5"))
    assert tiered.effective_from is None
    assert flat.tier == ""
    assert (flat.input_per_mtok, flat.output_per_mtok) == (D("3"), D("15"))
    assert flat.effective_from == datetime(2026, 3, 13, tzinfo=UTC)


def test_time_of_day_prices(catalog: CatalogPrices) -> None:
    """deepseek-chat: standard price 00:30–16:30 UTC, discounted otherwise."""
    day = catalog.lookup("deepseek", "deepseek-chat", datetime(2026, 1, 15, 12, tzinfo=UTC), NO_USAGE)
    night = catalog.lookup("deepseek", "deepseek-chat", datetime(2026, 1, 15, 20, tzinfo=UTC), NO_USAGE)
    assert day is not None and (day.input_per_mtok, day.output_per_mtok) == (D("0.27"), D("1.1"))
    assert night is not None and (night.input_per_mtok, night.output_per_mtok) == (D("0.135"), D("0.55"))


def test_reasoning_priced_apart_when_the_catalog_does(catalog: CatalogPrices) -> None:
    price = catalog.lookup("perplexity", "sonar-deep-research", AT, NO_USAGE)
    assert price is not None
    assert (price.output_per_mtok, price.reasoning_per_mtok) == (D("8"), D("3"))


def test_model_without_output_price_has_free_output(catalog: CatalogPrices) -> None:
    price = catalog.lookup("openai", "text-embedding-3-small", AT, NO_USAGE)
    assert price is not None
    assert (price.input_per_mtok, price.output_per_mtok) == (D("0.02"), D("0"))


def test_float_artefacts_are_fitted_to_12_decimals(catalog: CatalogPrices) -> None:
    # The catalog stores 0.18000000000000002 and 0.08333333333333334 here.
    qwen = catalog.lookup("huggingface_together", "Qwen/Qwen3-VL-8B-Instruct", AT, NO_USAGE)
    assert qwen is not None and qwen.input_per_mtok == D("0.18")
    flash = catalog.lookup("openrouter", "google/gemini-2.5-flash-lite", AT, NO_USAGE)
    assert flash is not None and flash.cache_write_per_mtok == D("0.083333333333")


@pytest.mark.parametrize(
    "provider", ["google", "Google", "gemini", "vertex", "vertex_ai", "google-gla", "google-vertex"]
)
def test_google_aliases(catalog: CatalogPrices, provider: str) -> None:
    price = catalog.lookup(provider, "gemini-2.5-pro", AT, NO_USAGE)
    assert price is not None and price.price_id == "google/gemini-2.5-pro"


@pytest.mark.parametrize(
    ("provider", "model", "price_id"),
    [
        ("claude", "claude-3-5-sonnet-latest", "anthropic/claude-3-5-sonnet"),
        ("Anthropic", "claude-3-5-sonnet-latest", "anthropic/claude-3-5-sonnet"),
        ("OpenAI", "GPT-4o", "openai/gpt-4o"),
        ("azure-openai", "gpt-4o", "openai/gpt-4o"),
        ("azure", "gpt-4o", "openai/gpt-4o"),
        ("vertex", "claude-sonnet-4", "google/claude-4-sonnet"),
        ("bedrock", "anthropic.claude-3-5-sonnet-20241022-v2:0", None),
        ("xai", "grok-4.20", "x-ai/grok-4.20"),
        ("grok", "grok-4.20", "x-ai/grok-4.20"),
    ],
)
def test_provider_aliases(catalog: CatalogPrices, provider: str, model: str, price_id: str | None) -> None:
    price = catalog.lookup(provider, model, AT, NO_USAGE)
    assert price is not None
    if price_id is not None:
        assert price.price_id == price_id
    else:
        assert price.price_id.startswith("aws/")


def test_price_id_names_the_provider_that_holds_the_entry(catalog: CatalogPrices) -> None:
    """Azure has no gpt-4o row of its own; genai-prices falls back to OpenAI's."""
    entry = catalog.entry("azure", "gpt-4o")
    assert isinstance(entry, CatalogEntry) and entry.price_id == "openai/gpt-4o"


def test_aliases_point_at_existing_providers() -> None:
    from genai_prices.data import providers

    ids = {p.id for p in providers}
    assert set(PROVIDER_ALIASES.values()) <= ids


@pytest.mark.parametrize(
    ("provider", "model", "reason"),
    [
        ("openai", "gpt-does-not-exist", "unknown model 'gpt-does-not-exist' for provider 'openai'"),
        ("nosuchprovider", "gpt-4o", "unknown provider 'nosuchprovider'"),
        ("", "gpt-4o", "unknown provider ''"),
        ("openai", "", "unknown model '' for provider 'openai'"),
        ("openai", "tts-1", "catalog entry openai/tts-1 has no per-token price"),
    ],
)
def test_misses(catalog: CatalogPrices, provider: str, model: str, reason: str) -> None:
    assert catalog.lookup(provider, model, AT, NO_USAGE) is None
    miss = catalog.entry(provider, model)
    assert isinstance(miss, CatalogMiss) and miss.reason == reason


def test_naive_time_is_rejected(catalog: CatalogPrices) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        catalog.lookup("openai", "gpt-4o", datetime(2026, 1, 1), NO_USAGE)


def test_lookups_are_cached(catalog: CatalogPrices) -> None:
    first = catalog.lookup("openai", "gpt-4o", AT, NO_USAGE)
    second = catalog.lookup("OPENAI", "GPT-4O", AT, NO_USAGE)
    assert first is second


def test_custom_provider_list() -> None:
    from genai_prices.data import providers

    only_anthropic = CatalogPrices([p for p in providers if p.id == "anthropic"])
    assert only_anthropic.lookup("openai", "gpt-4o", AT, NO_USAGE) is None
    assert only_anthropic.lookup("anthropic", "claude-sonnet-4", AT, NO_USAGE) is not None


@pytest.mark.parametrize(
    ("provider", "model", "at", "usage"),
    [
        ("openai", "gpt-4o", AT, TokenUsage(input_tokens=12_345, cache_read_tokens=2_000, output_tokens=777)),
        ("openai", "o3", datetime(2025, 5, 1, tzinfo=UTC), TokenUsage(input_tokens=5_000, output_tokens=900)),
        ("openai", "o3", AT, TokenUsage(input_tokens=5_000, cache_read_tokens=300, output_tokens=900)),
        (
            "anthropic",
            "claude-3-5-sonnet-latest",
            AT,
            TokenUsage(input_tokens=1_000, cache_read_tokens=50_000, cache_write_tokens=7_000, output_tokens=333),
        ),
        ("google", "gemini-2.5-pro", AT, TokenUsage(input_tokens=150_000, cache_read_tokens=60_000, output_tokens=5)),
        ("google", "gemini-2.5-pro", AT, TokenUsage(input_tokens=150_000, cache_read_tokens=20_000, output_tokens=5)),
        ("deepseek", "deepseek-chat", datetime(2026, 1, 15, 20, tzinfo=UTC), TokenUsage(input_tokens=9_999)),
        ("anthropic", "claude-sonnet-4-6", datetime(2026, 2, 1, tzinfo=UTC), TokenUsage(input_tokens=250_000)),
    ],
)
def test_totals_agree_with_genai_prices_calc_price(
    catalog: CatalogPrices, provider: str, model: str, at: datetime, usage: TokenUsage
) -> None:
    """Our prebuilt prices give the same total as genai-prices' own calculation.

    genai-prices counts ``input_tokens`` as the whole prompt (cache reads/writes included).
    """
    price = catalog.lookup(provider, model, at, usage)
    assert price is not None
    theirs = genai_prices.calc_price(
        genai_prices.Usage(
            input_tokens=prompt_tokens(usage),
            cache_read_tokens=usage.cache_read_tokens,
            cache_write_tokens=usage.cache_write_tokens,
            output_tokens=usage.output_tokens + usage.reasoning_tokens,
        ),
        model,
        provider_id=provider,
        genai_request_timestamp=at,
    )
    assert price_usage(usage, price).total_usd == theirs.total_price
