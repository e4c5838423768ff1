"""Units vendors price apart from text: Anthropic's 1-hour cache writes, audio tokens.

Each is billed at its own price from the catalog (genai-prices) or an override, with the
expected amounts worked out by hand; a price row that does not price a unit a call uses
leaves the call unpriced (quarantined, with a reason saying which override fixes it), never
billed at the parent's price.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import genai_prices
import pytest

from libs.common.events import AppliedPrice, TokenUsage, UsageRecorded
from services.pricing.calculation import price_usage
from services.pricing.catalog import CatalogPrices, prompt_tokens
from services.pricing.overrides import PriceOverride, PriceOverrideCreate
from services.pricing.price_book import PriceBook
from services.pricing.service import PricingService

AT = datetime(2026, 11, 15, 12, tzinfo=UTC)
D = Decimal


@pytest.fixture(scope="module")
def catalog() -> CatalogPrices:
    return CatalogPrices()


def _event(event_id: str, provider: str, model: str, **tokens: int) -> UsageRecorded:
    return UsageRecorded(event_id=event_id, client_id="acme", provider=provider, model=model, timestamp=AT,
                         received_at=AT, **tokens)


def test_anthropic_one_hour_writes_at_the_catalogs_one_hour_price(catalog: CatalogPrices) -> None:
    usage = TokenUsage(input_tokens=20_000, cache_read_tokens=100_000, cache_write_tokens=40_000,
                       cache_write_1h_tokens=30_000, output_tokens=5_000)
    price = catalog.lookup("anthropic", "claude-sonnet-4-5", AT, usage)
    assert price is not None
    # genai-prices: $3 input, $0.30 cache read, $3.75 5-minute write, $6 1-hour write, $15 output
    assert (price.cache_write_per_mtok, price.cache_write_1h_per_mtok) == (D("3.75"), D("6"))
    cost = price_usage(usage, price)
    # 20,000 x $3 = $0.06; 100,000 x $0.30 = $0.03; 40,000 x $3.75 = $0.15; 30,000 x $6 = $0.18; 5,000 x $15 = $0.075
    assert (cost.input_usd, cost.cache_read_usd, cost.cache_write_usd, cost.cache_write_1h_usd, cost.output_usd) == (
        D("0.06"), D("0.03"), D("0.15"), D("0.18"), D("0.075"))
    assert cost.total_usd == D("0.495")
    # before the 1-hour bucket, all 70,000 writes were billed at $3.75: $0.2625 instead of $0.33


def test_openai_audio_at_the_catalogs_audio_prices(catalog: CatalogPrices) -> None:
    usage = TokenUsage(input_tokens=100_000, input_audio_tokens=250_000, output_tokens=40_000,
                       output_audio_tokens=125_000)
    price = catalog.lookup("openai", "gpt-audio", AT, usage)
    assert price is not None
    # genai-prices: text $2.50 in / $10 out, audio $32 in / $64 out
    cost = price_usage(usage, price)
    # 100,000 x $2.50 = $0.25; 250,000 x $32 = $8; 40,000 x $10 = $0.40; 125,000 x $64 = $8
    assert (cost.input_usd, cost.input_audio_usd, cost.output_usd, cost.output_audio_usd) == (
        D("0.25"), D("8"), D("0.4"), D("8"))
    assert cost.total_usd == D("16.65")


@pytest.mark.parametrize(
    ("provider", "model", "usage"),
    [
        ("anthropic", "claude-sonnet-4-5", TokenUsage(input_tokens=20_000, cache_read_tokens=100_000,
                                                      cache_write_tokens=40_000, cache_write_1h_tokens=30_000,
                                                      output_tokens=5_000)),
        ("anthropic", "claude-3-haiku", TokenUsage(input_tokens=7, cache_write_1h_tokens=123_457, output_tokens=1)),
        # above the 200k tier, where every price (the 1-hour write's too) doubles
        ("google", "claude-sonnet-4-5", TokenUsage(input_tokens=150_000, cache_write_tokens=40_000,
                                                   cache_write_1h_tokens=30_000, output_tokens=5_000)),
        ("openai", "gpt-audio", TokenUsage(input_tokens=100_000, input_audio_tokens=250_000, output_tokens=40_000,
                                           output_audio_tokens=125_000, reasoning_tokens=3)),
        ("openai", "gpt-realtime", TokenUsage(input_tokens=3_333, cache_read_tokens=1_000, input_audio_tokens=9_999,
                                              output_audio_tokens=4_321)),
        ("google", "gemini-2.5-flash", TokenUsage(input_tokens=1_000, input_audio_tokens=77_777, output_tokens=10)),
        ("openai", "gpt-realtime-mini", TokenUsage(input_tokens=500, cache_read_tokens=1_500, input_audio_tokens=4_000,
                                                   cache_audio_read_tokens=3_000, input_image_tokens=500,
                                                   cache_image_read_tokens=500, output_tokens=1_000,
                                                   output_audio_tokens=2_000)),
        # Gemini lists what costs more than text; the rest is text (the Google rule)
        ("google", "gemini-2.5-flash", TokenUsage(input_tokens=1_000, cache_read_tokens=500, input_audio_tokens=2_000,
                                                  cache_audio_read_tokens=1_000, input_image_tokens=600,
                                                  output_tokens=410, reasoning_tokens=300)),
        ("google", "gemini-2.5-flash-image", TokenUsage(input_tokens=300, input_image_tokens=258, output_tokens=10,
                                                        output_image_tokens=1_290)),
        ("google", "gemini-2.5-pro", TokenUsage(input_tokens=150_000, input_audio_tokens=60_000,
                                                input_image_tokens=1_000, output_tokens=5)),  # the 200k tier
    ],
)
def test_unit_buckets_agree_with_genai_prices_calc_price(
    catalog: CatalogPrices, provider: str, model: str, usage: TokenUsage
) -> None:
    """genai-prices' own calculation, where its counts nest (the prompt includes its cache writes,
    those include the 1-hour ones; input and output include their audio), gives the same total."""
    price = catalog.lookup(provider, model, AT, usage)
    assert price is not None
    theirs = genai_prices.calc_price(
        genai_prices.Usage(
            input_tokens=prompt_tokens(usage),
            # genai-prices nests: the cache's count includes its audio and images, input's its audio and images
            cache_read_tokens=usage.cache_read_tokens + usage.cache_audio_read_tokens + usage.cache_image_read_tokens,
            cache_write_tokens=usage.cache_write_tokens + usage.cache_write_1h_tokens,
            cache_write_1h_tokens=usage.cache_write_1h_tokens,
            input_audio_tokens=usage.input_audio_tokens + usage.cache_audio_read_tokens,
            cache_audio_read_tokens=usage.cache_audio_read_tokens,
            input_image_tokens=usage.input_image_tokens + usage.cache_image_read_tokens,
            cache_image_read_tokens=usage.cache_image_read_tokens,
            output_tokens=(usage.output_tokens + usage.reasoning_tokens + usage.output_audio_tokens
                           + usage.output_image_tokens),
            output_audio_tokens=usage.output_audio_tokens,
            output_image_tokens=usage.output_image_tokens,
        ),
        model,
        provider_id=provider,
        genai_request_timestamp=AT,
    )
    assert price_usage(usage, price).total_usd == theirs.total_price


def test_tiers_count_one_hour_writes_audio_and_images_as_prompt() -> None:
    assert prompt_tokens(TokenUsage(input_tokens=1, cache_read_tokens=10, cache_write_tokens=100,
                                    cache_write_1h_tokens=1_000, input_audio_tokens=10_000,
                                    cache_audio_read_tokens=100_000, input_image_tokens=1_000_000,
                                    cache_image_read_tokens=10_000_000,
                                    output_audio_tokens=100_000_000)) == 11_111_111


def test_openai_realtime_at_the_catalogs_prices_worked_by_hand(catalog: CatalogPrices) -> None:
    usage = TokenUsage(input_tokens=500_000, cache_read_tokens=1_500_000, input_audio_tokens=400_000,
                       cache_audio_read_tokens=3_000_000, input_image_tokens=500_000,
                       cache_image_read_tokens=500_000, output_tokens=100_000, output_audio_tokens=200_000)
    price = catalog.lookup("openai", "gpt-realtime-mini", AT, usage)
    assert price is not None
    cost = price_usage(usage, price)
    # genai-prices: text $0.60 in / $0.06 cached / $2.40 out; audio $10 in / $0.30 cached / $20 out;
    # image $0.80 in / $0.08 cached
    # 0.5M x 0.60 = 0.30; 1.5M x 0.06 = 0.09; 0.4M x 10 = 4; 3M x 0.30 = 0.90; 0.5M x 0.80 = 0.40;
    # 0.5M x 0.08 = 0.04; 0.1M x 2.40 = 0.24; 0.2M x 20 = 4
    assert (cost.cache_audio_read_usd, cost.input_image_usd, cost.cache_image_read_usd) == (
        D("0.9"), D("0.4"), D("0.04"))
    assert cost.total_usd == D("9.97")  # 0.30 + 0.09 + 4 + 0.90 + 0.40 + 0.04 + 0.24 + 4


def test_a_catalog_row_without_the_unit_leaves_the_call_unpriced(catalog: CatalogPrices) -> None:
    """gpt-4o-audio-preview is listed with its text prices only (OpenAI bills its audio at $40/$80):
    billing audio at $2.50 would under-bill 16 times, so the call waits for an override."""
    service = PricingService(PriceBook(catalog))
    audio = _event("a", "openai", "gpt-4o-audio-preview", input_tokens=100, input_audio_tokens=1_000)
    text = _event("t", "openai", "gpt-4o-audio-preview", input_tokens=100, output_tokens=10)
    one_hour = _event("h", "moonshotai", "kimi-k2", input_tokens=100, cache_write_1h_tokens=1_000)

    outcome = service.price([audio, text, one_hour], AT)

    assert [e.event_id for e in outcome.priced] == ["t"]  # text alone is priced as before
    reasons = {e.event_id: e.reason for e in outcome.unpriced}
    assert reasons["a"] == ("no price for input audio tokens: catalog openai/gpt-4o-audio-preview does not "
                            "price them; add an override with input_audio_per_mtok")
    assert reasons["h"] == ("no price for 1h cache write tokens: catalog moonshotai/kimi-k2 does not price them; "
                            "add an override with cache_write_1h_per_mtok")


def test_every_one_hour_price_in_the_catalog_is_twice_the_input_price() -> None:
    """Anthropic's published rule, which the catalog-less Claude rows are priced by: checked on all of them."""
    from genai_prices.data import providers
    from genai_prices.types import ConditionalPrice, TieredPrices

    def pairs(price: object) -> list[Decimal]:
        return [price.base, *(t.price for t in price.tiers)] if isinstance(price, TieredPrices) else [price]

    listed = [
        (pairs(cond.prices.cache_write_1h_mtok), pairs(cond.prices.input_mtok))
        for provider in providers for model in provider.models
        for cond in (model.prices if isinstance(model.prices, list)
                     else [ConditionalPrice(constraint=None, prices=model.prices)])
        if getattr(cond.prices, "cache_write_1h_mtok", None) is not None
    ]
    assert len(listed) >= 79
    assert all(one_hour == [2 * p for p in inputs] for one_hour, inputs in listed)


@pytest.mark.parametrize(("provider", "model", "usage", "one_hour_price", "total"), [
    # Vertex lists claude-3-5-sonnet without a 1-hour price: $3 input → $6.
    # 10,000 x $3 + 50,000 x $6 + 1,000 x $15 = 0.03 + 0.30 + 0.015
    ("google", "claude-3-5-sonnet", TokenUsage(input_tokens=10_000, cache_write_1h_tokens=50_000, output_tokens=1_000),
     "6", "0.345"),
    # OpenRouter's claude-sonnet-4.5 is tiered: above 200,000 prompt tokens input is $6, so 1-hour writes $12.
    # 150,000 x $6 + 100,000 x $12 = 0.90 + 1.20
    ("openrouter", "anthropic/claude-sonnet-4.5", TokenUsage(input_tokens=150_000, cache_write_1h_tokens=100_000),
     "12", "2.1"),
])
def test_a_claude_row_without_a_one_hour_price_gets_anthropics_rule(
    catalog: CatalogPrices, provider: str, model: str, usage: TokenUsage, one_hour_price: str, total: str,
) -> None:
    price = catalog.lookup(provider, model, AT, usage)
    assert price is not None and price.cache_write_1h_per_mtok == D(one_hour_price)
    assert price_usage(usage, price).total_usd == D(total)
    reason = PriceBook(catalog).explain(provider, model, AT, usage).reason
    assert reason.endswith("1-hour cache writes at 2 x the input price (Anthropic's price for them; the catalog "
                           "lists none)")
    assert "1-hour" not in PriceBook(catalog).explain("anthropic", "claude-opus-4-5", AT).reason  # listed there


def _override(**prices: str) -> PriceOverride:
    return PriceOverride.from_create(
        PriceOverrideCreate(provider="openai", model="gpt-4o-audio-preview",
                            effective_from=datetime(2026, 11, 1, tzinfo=UTC), input_per_mtok=D("2.50"),
                            output_per_mtok=D("10"), **{k: D(v) for k, v in prices.items()}),
        override_id="audio-rates",
    )


def test_an_override_prices_the_units_it_states_and_no_others(catalog: CatalogPrices) -> None:
    override = _override(input_audio_per_mtok="40", output_audio_per_mtok="80")
    applied = override.applied_price()
    assert (applied.input_audio_per_mtok, applied.output_audio_per_mtok, applied.cache_write_1h_per_mtok) == (
        D("40"), D("80"), None)  # no default: a unit is priced only when stated
    service = PricingService(PriceBook(catalog, [override]))
    audio = _event("a", "openai", "gpt-4o-audio-preview", input_tokens=12_000, input_audio_tokens=300_000,
                   output_tokens=2_000, output_audio_tokens=150_000)
    stray = _event("s", "openai", "gpt-4o-audio-preview", input_tokens=1, cache_write_1h_tokens=1)

    outcome = service.price([audio, stray], AT)

    (priced,) = outcome.priced
    # 12,000 x $2.50 = $0.03; 300,000 x $40 = $12; 2,000 x $10 = $0.02; 150,000 x $80 = $12
    assert priced.cost.total_usd == D("24.05")
    assert priced.price.price_id == "audio-rates"
    (unpriced,) = outcome.unpriced
    assert unpriced.reason == ("no price for 1h cache write tokens: override audio-rates does not price them; "
                               "add an override with cache_write_1h_per_mtok")


def test_an_explicit_zero_is_a_price() -> None:
    applied = _override(input_audio_per_mtok="0").applied_price()
    assert applied.unpriced_units(TokenUsage(input_audio_tokens=5)) == []
    assert price_usage(TokenUsage(input_audio_tokens=5), applied).total_usd == 0


def test_overrides_accept_the_unit_prices_as_strings_and_validate_them() -> None:
    body = {"provider": "anthropic", "model": "claude-x", "effective_from": "2026-11-01T00:00:00Z",
            "input_per_mtok": "3", "output_per_mtok": "15", "cache_write_1h_per_mtok": "6.000000000001"}
    assert PriceOverrideCreate.model_validate(body).cache_write_1h_per_mtok == D("6.000000000001")
    with pytest.raises(ValueError, match="cache_write_1h_per_mtok"):
        PriceOverrideCreate.model_validate({**body, "cache_write_1h_per_mtok": "-1"})
    with pytest.raises(ValueError, match="input_audio_per_mtok"):
        PriceOverrideCreate.model_validate({**body, "input_audio_per_mtok": "0.0000000000001"})


def test_events_and_prices_from_before_the_units_read_them_as_zero_and_unpriced() -> None:
    old_event = {"event_id": "e", "client_id": "acme", "provider": "openai", "model": "gpt-4o",
                 "timestamp": "2026-11-01T00:00:00Z", "received_at": "2026-11-01T00:00:00Z", "input_tokens": 5}
    event = UsageRecorded.model_validate(old_event)
    assert (event.cache_write_1h_tokens, event.input_audio_tokens, event.output_audio_tokens) == (0, 0, 0)
    old_price = {"source": "catalog", "price_id": "openai/gpt-4o", "effective_from": None,
                 "input_per_mtok": "2.5", "output_per_mtok": "10", "cache_read_per_mtok": "1.25",
                 "cache_write_per_mtok": "2.5", "reasoning_per_mtok": "10"}
    price = AppliedPrice.model_validate(old_price)
    assert price.input_audio_per_mtok is None
    assert price_usage(event, price).total_usd == D("0.0000125")


def test_gemini_audio_and_images_worked_by_hand(catalog: CatalogPrices) -> None:
    flash = catalog.lookup("google", "gemini-2.5-flash", AT, TokenUsage())
    image = catalog.lookup("google", "gemini-2.5-flash-image", AT, TokenUsage())
    assert flash is not None and image is not None
    # genai-prices lists 2.5 Flash's audio apart ($1 in, $0.10 cached) from text ($0.30, $0.03); images
    # it does not list cost what text does
    usage = TokenUsage(input_tokens=1_000_000, cache_read_tokens=500_000, input_audio_tokens=2_000_000,
                       cache_audio_read_tokens=1_000_000, input_image_tokens=600_000, output_tokens=400_000)
    # 1M x 0.30 + 0.5M x 0.03 + 2M x 1 + 1M x 0.10 + 0.6M x 0.30 + 0.4M x 2.50
    # = 0.30 + 0.015 + 2 + 0.10 + 0.18 + 1 = 3.595 (all as text before: 2M audio at $0.30, cached at $0.03)
    assert price_usage(usage, flash).total_usd == D("3.595")
    # 2.5 Flash Image: generated images at $30, text out at $2.50: 1,290 x 30 + 10 x 2.50 = 0.0387 + 0.000025
    generated = TokenUsage(output_tokens=10, output_image_tokens=1_290)
    assert price_usage(generated, image).total_usd == D("0.038725")
