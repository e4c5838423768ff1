"""PriceBook: overrides beat the catalog, windows are half-open, newest override wins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from libs.common.events import TokenUsage
from services.pricing.calculation import price_usage
from services.pricing.catalog import CatalogPrices
from services.pricing.overrides import PriceOverride
from services.pricing.price_book import PriceBook

JAN = datetime(2026, 1, 1, tzinfo=UTC)
FEB = datetime(2026, 2, 1, tzinfo=UTC)
MAR = datetime(2026, 3, 1, tzinfo=UTC)
APR = datetime(2026, 4, 1, tzinfo=UTC)
USAGE = TokenUsage(input_tokens=1000, output_tokens=100)
D = Decimal


@pytest.fixture(scope="module")
def catalog() -> CatalogPrices:
    return CatalogPrices()


def _override(
    input_: str = "2.50",
    output: str = "10",
    *,
    provider: str = "openai",
    model: str = "gpt-4o",
    effective_from: datetime = JAN,
    effective_to: datetime | None = None,
    created_at: datetime = JAN,
    override_id: str | None = None,
) -> PriceOverride:
    extra = {} if override_id is None else {"override_id": override_id}
    return PriceOverride(
        provider=provider,
        model=model,
        effective_from=effective_from,
        effective_to=effective_to,
        input_per_mtok=D(input_),
        output_per_mtok=D(output),
        created_at=created_at,
        **extra,
    )


def test_catalog_applies_without_overrides(catalog: CatalogPrices) -> None:
    price = PriceBook(catalog).resolve("openai", "gpt-4o", FEB, USAGE)
    assert price is not None and price.source == "catalog" and price.price_id == "openai/gpt-4o"


def test_override_beats_catalog(catalog: CatalogPrices) -> None:
    o = _override("2.00", "8.00")
    price = PriceBook(catalog, [o]).resolve("openai", "gpt-4o", FEB, USAGE)
    assert price is not None
    assert price.source == "override" and price.price_id == o.override_id
    assert (price.input_per_mtok, price.output_per_mtok) == (D("2.00"), D("8.00"))


def test_gpt_4o_override_invoice_amounts(catalog: CatalogPrices) -> None:
    book = PriceBook(catalog, [_override("2.50", "10")])
    price = book.resolve("openai", "gpt-4o", FEB, TokenUsage(input_tokens=2_100_000))
    assert price is not None
    assert price_usage(TokenUsage(input_tokens=2_100_000), price).total_usd == D("5.25")


def test_window_boundaries(catalog: CatalogPrices) -> None:
    o = _override("1", "1", effective_from=FEB, effective_to=MAR)
    book = PriceBook(catalog, [o])

    def source(at: datetime) -> str | None:
        price = book.resolve("openai", "gpt-4o", at, USAGE)
        return None if price is None else price.source

    assert source(FEB - timedelta(microseconds=1)) == "catalog"
    assert source(FEB) == "override"  # at == effective_from applies
    assert source(MAR - timedelta(microseconds=1)) == "override"
    assert source(MAR) == "catalog"  # at == effective_to does not


def test_boundaries_compare_instants_not_wall_clocks(catalog: CatalogPrices) -> None:
    book = PriceBook(catalog, [_override("1", "1", effective_from=FEB)])
    plus_one = timezone(timedelta(hours=1))
    before = book.resolve("openai", "gpt-4o", datetime(2026, 2, 1, 0, 59, tzinfo=plus_one), USAGE)
    on = book.resolve("openai", "gpt-4o", datetime(2026, 2, 1, 1, 0, tzinfo=plus_one), USAGE)
    assert before is not None and before.source == "catalog"
    assert on is not None and on.source == "override"


def test_later_effective_from_wins(catalog: CatalogPrices) -> None:
    old = _override("3", "12", effective_from=JAN, created_at=MAR)  # created later, but older price
    new = _override("2", "8", effective_from=FEB, created_at=JAN)
    for order in ([old, new], [new, old]):
        book = PriceBook(catalog, order)
        assert book.resolve("openai", "gpt-4o", JAN + timedelta(days=5), USAGE).price_id == old.override_id  # type: ignore[union-attr]
        assert book.resolve("openai", "gpt-4o", FEB, USAGE).price_id == new.override_id  # type: ignore[union-attr]
        assert book.resolve("openai", "gpt-4o", APR, USAGE).price_id == new.override_id  # type: ignore[union-attr]


def test_same_effective_from_latest_created_at_wins(catalog: CatalogPrices) -> None:
    first = _override("3", "12", created_at=JAN)
    correction = _override("2.5", "10", created_at=FEB)
    for order in ([first, correction], [correction, first]):
        price = PriceBook(catalog, order).resolve("openai", "gpt-4o", MAR, USAGE)
        assert price is not None and price.price_id == correction.override_id


def test_older_override_applies_again_once_a_newer_one_ends(catalog: CatalogPrices) -> None:
    standing = _override("3", "12", effective_from=JAN)
    promo = _override("1", "4", effective_from=FEB, effective_to=MAR)
    book = PriceBook(catalog, [standing, promo])
    assert book.resolve("openai", "gpt-4o", FEB, USAGE).price_id == promo.override_id  # type: ignore[union-attr]
    assert book.resolve("openai", "gpt-4o", MAR, USAGE).price_id == standing.override_id  # type: ignore[union-attr]


def test_matching_is_exact_but_case_insensitive(catalog: CatalogPrices) -> None:
    o = _override(provider="OpenAI", model="GPT-4o")
    book = PriceBook(catalog, [o])
    assert book.resolve("openai", "gpt-4o", FEB, USAGE).source == "override"  # type: ignore[union-attr]
    assert book.resolve("OPENAI", "Gpt-4O", FEB, USAGE).source == "override"  # type: ignore[union-attr]
    # A different (even if catalog-equivalent) name is a different key.
    assert book.resolve("openai", "gpt-4o-2024-08-06", FEB, USAGE).source == "catalog"  # type: ignore[union-attr]
    assert book.resolve("azure", "gpt-4o", FEB, USAGE).source == "catalog"  # type: ignore[union-attr]


def test_override_prices_a_model_the_catalog_does_not_know(catalog: CatalogPrices) -> None:
    o = _override("0.5", "1.5", provider="acme-llm", model="house-model-7b", effective_from=FEB)
    book = PriceBook(catalog, [o])
    assert book.resolve("acme-llm", "house-model-7b", JAN, USAGE) is None
    price = book.resolve("acme-llm", "house-model-7b", FEB, USAGE)
    assert price is not None and price.input_per_mtok == D("0.5")


def test_unknown_model_is_unpriced(catalog: CatalogPrices) -> None:
    assert PriceBook(catalog).resolve("openai", "gpt-nope", FEB, USAGE) is None


def test_tiers_still_apply_to_catalog_prices(catalog: CatalogPrices) -> None:
    price = PriceBook(catalog).resolve("google", "gemini-2.5-pro", FEB, TokenUsage(input_tokens=250_000))
    assert price is not None and price.tier == "input>200000" and price.input_per_mtok == D("2.5")


def test_naive_time_is_rejected(catalog: CatalogPrices) -> None:
    book = PriceBook(catalog, [_override()])
    with pytest.raises(ValueError, match="timezone-aware"):
        book.resolve("openai", "gpt-4o", datetime(2026, 2, 1), USAGE)
    with pytest.raises(ValueError, match="timezone-aware"):
        book.explain("openai", "gpt-4o", datetime(2026, 2, 1))


def test_repeated_id_keeps_the_last_occurrence(catalog: CatalogPrices) -> None:
    book = PriceBook(catalog, [_override("3", "12", override_id="x"), _override("1", "1", override_id="x")])
    assert len(book.overrides) == 1
    price = book.resolve("openai", "gpt-4o", FEB, USAGE)
    assert price is not None and price.input_per_mtok == D("1")


def test_with_override_replaces_same_id_and_leaves_original_untouched(catalog: CatalogPrices) -> None:
    book = PriceBook(catalog)
    v1 = _override("3", "12", override_id="deal")
    book1 = book.with_override(v1)
    book2 = book1.with_override(_override("2", "8", override_id="deal"))
    assert book.resolve("openai", "gpt-4o", FEB, USAGE).source == "catalog"  # type: ignore[union-attr]
    assert book1.resolve("openai", "gpt-4o", FEB, USAGE).input_per_mtok == D("3")  # type: ignore[union-attr]
    assert book2.resolve("openai", "gpt-4o", FEB, USAGE).input_per_mtok == D("2")  # type: ignore[union-attr]
    assert len(book2.overrides) == 1
    assert book2.catalog is catalog


def test_without_and_replace_overrides(catalog: CatalogPrices) -> None:
    a = _override("3", "12", override_id="a")
    b = _override("1", "1", model="gpt-4o-mini", override_id="b")
    book = PriceBook(catalog, [a, b])
    fewer = book.without_override("a")
    assert [o.override_id for o in fewer.overrides] == ["b"]
    assert fewer.resolve("openai", "gpt-4o", FEB, USAGE).source == "catalog"  # type: ignore[union-attr]
    assert book.without_override("missing").overrides == book.overrides
    reloaded = book.replace_overrides([])
    assert reloaded.overrides == () and reloaded.catalog is catalog


def test_explain_override(catalog: CatalogPrices) -> None:
    old = _override("3", "12", effective_from=JAN, override_id="old")
    new = _override("2", "8", effective_from=datetime(2026, 1, 15, tzinfo=UTC), override_id="3f2a")
    book = PriceBook(catalog, [old, new])
    e = book.explain("openai", "gpt-4o", FEB)
    assert e.price is not None and e.price.price_id == "3f2a"
    assert e.catalog_price is not None and e.catalog_price.price_id == "openai/gpt-4o"
    assert e.overrides_in_force == ["3f2a", "old"]
    assert e.reason == (
        "override 3f2a in force since 2026-01-15T00:00:00Z beats catalog openai/gpt-4o; newest of 2 overrides in force"
    )


def test_explain_override_without_catalog_price(catalog: CatalogPrices) -> None:
    book = PriceBook(catalog, [_override(provider="acme", model="m1", override_id="acme1")])
    e = book.explain("acme", "m1", FEB)
    assert e.reason == "override acme1 in force since 2026-01-01T00:00:00Z (no catalog price)"
    assert e.catalog_price is None


def test_explain_catalog(catalog: CatalogPrices) -> None:
    book = PriceBook(catalog, [_override(effective_from=MAR)])  # not yet in force
    e = book.explain("openai", "gpt-4o", FEB)
    assert e.price == e.catalog_price and e.price is not None
    assert e.reason == "catalog openai/gpt-4o"
    assert e.overrides_in_force == []
    dated = book.explain("openai", "o3", FEB)
    assert dated.reason == "catalog openai/o3 price since 2025-06-10T00:00:00Z"
    tiered = book.explain("google", "gemini-2.5-pro", FEB, TokenUsage(input_tokens=300_000))
    assert tiered.reason == "catalog google/gemini-2.5-pro, tier input>200000"


@pytest.mark.parametrize(
    ("provider", "model", "reason"),
    [
        ("openai", "gpt-nope", "no price: unknown model 'gpt-nope' for provider 'openai'"),
        ("acme", "gpt-4o", "no price: unknown provider 'acme'"),
        ("openai", "tts-1", "no price: catalog entry openai/tts-1 has no per-token price"),
    ],
)
def test_explain_no_price(catalog: CatalogPrices, provider: str, model: str, reason: str) -> None:
    e = PriceBook(catalog).explain(provider, model, FEB)
    assert e.price is None and e.catalog_price is None
    assert e.reason == reason


def test_explanation_serialises(catalog: CatalogPrices) -> None:
    e = PriceBook(catalog, [_override("2.5", "10", override_id="o1")]).explain("openai", "gpt-4o", FEB)
    data = e.model_dump(mode="json")
    assert data["price"]["input_per_mtok"] == "2.5"
    assert data["price"]["source"] == "override"


def test_a_remembered_fixed_price_is_what_the_full_resolution_gives(catalog: CatalogPrices) -> None:
    """``resolve`` remembers the price of a pair that depends on neither time nor size; pairs with
    an override, several catalog periods or tiers are resolved in full every time."""
    from genai_prices.data import providers
    from genai_prices.types import TieredPrices

    periods = [(p.id, m.id) for p in providers for m in p.models if isinstance(m.prices, list)][:6]
    tiered = [(p.id, m.id) for p in providers for m in p.models if not isinstance(m.prices, list)
              and isinstance(m.prices.input_mtok, TieredPrices)][:6]
    assert periods and tiered
    pairs = [*periods, *tiered, ("openai", "gpt-4o"), ("OpenAI", "GPT-4o"), ("anthropic", "claude-3-5-haiku"),
             ("openai", "no-such-model"), ("nobody", "gpt-4o")]
    book = PriceBook(catalog, [_override(effective_from=FEB, effective_to=MAR)])
    times = [datetime(2023, 1, 1, 3, tzinfo=UTC), JAN, FEB, datetime(2025, 6, 1, 20, tzinfo=UTC), MAR]
    sizes = [TokenUsage(input_tokens=1), TokenUsage(input_tokens=300_000, cache_read_tokens=1)]
    for _ in range(2):  # the second round reads what the first remembered
        for (provider, model), at, usage in ((pair, at, usage) for pair in pairs for at in times for usage in sizes):
            assert book.resolve(provider, model, at, usage) is book.explain(provider, model, at, usage).price


def test_a_remembered_reason_is_what_explain_gives(catalog: CatalogPrices) -> None:
    book = PriceBook(catalog, [_override(provider="openai", model="gpt-new", effective_from=FEB, effective_to=MAR)])
    calls = [("openai", "gpt-9-preview"), ("nobody", "gpt-4o"), ("openai", "gpt-new"), ("OpenAI", "GPT-new"),
             ("openai", "text-embedding-ada-002")]
    for _ in range(2):  # the second round reads what the first remembered
        for (provider, model), at in ((pair, at) for pair in calls for at in (JAN, FEB, APR)):
            if book.resolve(provider, model, at, USAGE) is None:
                assert book.unpriced_reason(provider, model, at, USAGE) == book.explain(provider, model, at, USAGE).reason
