"""PriceOverride validation and the price row it produces."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from pydantic import ValidationError

from services.pricing.overrides import PriceOverride, PriceOverrideCreate

JAN = datetime(2026, 1, 1, tzinfo=UTC)
FEB = datetime(2026, 2, 1, tzinfo=UTC)


def _override(**changes: object) -> PriceOverride:
    data: dict[str, object] = {
        "provider": "openai",
        "model": "gpt-4o",
        "effective_from": JAN,
        "input_per_mtok": Decimal("2.50"),
        "output_per_mtok": Decimal("10"),
    }
    data.update(changes)
    return PriceOverride.model_validate(data)


def test_defaults() -> None:
    o = _override()
    assert len(o.override_id) == 32 and int(o.override_id, 16) >= 0
    assert o.created_at.tzinfo is not None
    assert o.effective_to is None
    assert o.note == ""
    assert o.cache_read_per_mtok is None and o.cache_write_per_mtok is None and o.reasoning_per_mtok is None
    assert _override().override_id != o.override_id


def test_applied_price_resolves_defaults() -> None:
    o = _override()
    price = o.applied_price()
    assert price.source == "override"
    assert price.price_id == o.override_id
    assert price.effective_from == JAN
    assert price.input_per_mtok == Decimal("2.50")
    assert price.output_per_mtok == Decimal("10")
    assert price.cache_read_per_mtok == Decimal("2.50")
    assert price.cache_write_per_mtok == Decimal("2.50")
    assert price.reasoning_per_mtok == Decimal("10")
    assert price.tier == ""


def test_applied_price_keeps_explicit_bucket_prices_including_zero() -> None:
    o = _override(cache_read_per_mtok="1.25", cache_write_per_mtok="3.125", reasoning_per_mtok="0")
    price = o.applied_price()
    assert price.cache_read_per_mtok == Decimal("1.25")
    assert price.cache_write_per_mtok == Decimal("3.125")
    assert price.reasoning_per_mtok == Decimal("0")


@pytest.mark.parametrize("delta", [timedelta(0), timedelta(seconds=-1), timedelta(days=-30)])
def test_effective_to_must_be_after_effective_from(delta: timedelta) -> None:
    with pytest.raises(ValidationError) as excinfo:
        _override(effective_to=JAN + delta)
    errors = excinfo.value.errors()
    assert len(errors) == 1
    assert errors[0]["loc"] == ("effective_to",)
    assert "effective_to must be later than effective_from" in errors[0]["msg"]


def test_effective_to_compares_instants_across_timezones() -> None:
    # 01:00 at UTC+2 is 23:00 UTC the day before: before effective_from.
    with pytest.raises(ValidationError):
        _override(effective_to=datetime(2026, 1, 1, 1, tzinfo=timezone(timedelta(hours=2))))
    ok = _override(effective_to=datetime(2026, 1, 1, 1, tzinfo=timezone(timedelta(hours=-2))))
    assert ok.effective_to is not None


def test_create_model_validates_the_window_too() -> None:
    with pytest.raises(ValidationError) as excinfo:
        PriceOverrideCreate(
            provider="openai",
            model="gpt-4o",
            effective_from=FEB,
            effective_to=JAN,
            input_per_mtok=Decimal(1),
            output_per_mtok=Decimal(1),
        )
    assert excinfo.value.errors()[0]["loc"] == ("effective_to",)


@pytest.mark.parametrize("field", ["effective_from", "effective_to"])
def test_naive_datetimes_are_rejected(field: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        _override(**{field: datetime(2026, 3, 1)})
    assert excinfo.value.errors()[0]["loc"] == (field,)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("input_per_mtok", "-0.01"),
        ("output_per_mtok", "-1"),
        ("cache_read_per_mtok", "0.0000000000001"),  # 13 decimal places
        ("input_per_mtok", "abc"),
    ],
)
def test_bad_prices_are_rejected(field: str, value: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        _override(**{field: value})
    assert excinfo.value.errors()[0]["loc"] == (field,)


@pytest.mark.parametrize("field", ["input_per_mtok", "output_per_mtok", "provider", "model", "effective_from"])
def test_required_fields(field: str) -> None:
    data = _override().model_dump()
    del data[field]
    with pytest.raises(ValidationError):
        PriceOverride.model_validate(data)


def test_prices_accept_decimal_strings_and_stay_decimal() -> None:
    o = _override(input_per_mtok="0.075", output_per_mtok="0.000000000001")
    assert o.input_per_mtok == Decimal("0.075") and isinstance(o.input_per_mtok, Decimal)
    assert o.output_per_mtok == Decimal("1E-12")


def test_extra_fields_are_rejected() -> None:
    with pytest.raises(ValidationError):
        _override(discount="10%")


def test_blank_provider_is_rejected_and_whitespace_stripped() -> None:
    with pytest.raises(ValidationError):
        _override(provider="  ")
    assert _override(model=" GPT-4o ").model == "GPT-4o"


def test_key_is_case_insensitive() -> None:
    assert _override(provider="OpenAI", model="GPT-4o").key == ("openai", "gpt-4o")


def test_in_force_window_is_half_open() -> None:
    o = _override(effective_to=FEB)
    assert not o.in_force(JAN - timedelta(microseconds=1))
    assert o.in_force(JAN)
    assert o.in_force(FEB - timedelta(microseconds=1))
    assert not o.in_force(FEB)
    assert _override().in_force(datetime(2100, 1, 1, tzinfo=UTC))


def test_from_create() -> None:
    data = PriceOverrideCreate(
        provider="anthropic",
        model="claude-sonnet-4",
        effective_from=JAN,
        input_per_mtok=Decimal("2.7"),
        output_per_mtok=Decimal("13.5"),
        note="enterprise deal",
    )
    o = PriceOverride.from_create(data)
    assert o.provider == "anthropic" and o.note == "enterprise deal" and len(o.override_id) == 32
    fixed = PriceOverride.from_create(data, override_id="deal-2026", created_at=FEB)
    assert fixed.override_id == "deal-2026" and fixed.created_at == FEB


def test_json_round_trip_keeps_decimals_exact() -> None:
    o = _override(input_per_mtok="0.123456789012", effective_to=FEB)
    data = o.model_dump(mode="json")
    assert data["input_per_mtok"] == "0.123456789012"
    assert PriceOverride.model_validate_json(o.model_dump_json()) == o


def test_frozen() -> None:
    o = _override()
    with pytest.raises(ValidationError):
        o.input_per_mtok = Decimal(1)  # type: ignore[misc]
