"""What a client record accepts, and how periods are read."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from libs.common.periods import Period, parse_period
from services.invoicing.schemas import ClientUpdate


def error_locations(body: dict) -> list[tuple]:
    with pytest.raises(ValidationError) as caught:
        ClientUpdate.model_validate(body)
    return [e["loc"] for e in caught.value.errors()]


def test_defaults_and_normalisation() -> None:
    update = ClientUpdate.model_validate({"name": "  Acme  ", "alert_thresholds": ["1.0", "0.5", "0.8"]})

    assert update.name == "Acme"
    assert update.markup_percent is None  # the service default applies
    assert update.alert_thresholds == [Decimal("0.5"), Decimal("0.8"), Decimal("1.0")]
    assert ClientUpdate(name="x").alert_thresholds == [Decimal("0.5"), Decimal("0.8"), Decimal("1.0")]
    assert ClientUpdate.model_validate({"name": "x", "markup_percent": 100}).markup_percent == Decimal("100")
    assert ClientUpdate.model_validate({"name": "x", "markup_percent": 25.0}).markup_percent == Decimal("25")


@pytest.mark.parametrize(
    ("body", "location"),
    [
        ({}, ("name",)),
        ({"name": ""}, ("name",)),
        ({"name": "   "}, ("name",)),
        ({"name": "x" * 201}, ("name",)),
        ({"name": "x", "markup_percent": "-1"}, ("markup_percent",)),
        ({"name": "x", "markup_percent": "1000.0001"}, ("markup_percent",)),
        ({"name": "x", "markup_percent": "12.34567"}, ("markup_percent",)),
        ({"name": "x", "markup_percent": "NaN"}, ("markup_percent",)),
        ({"name": "x", "markup_percent": 12.5}, ("markup_percent",)),  # a float: decimals travel as text
        ({"name": "x", "markup_percent": "1e2"}, ("markup_percent",)),  # text means digits, as documented
        ({"name": "x", "markup_percent": True}, ("markup_percent",)),
        ({"name": "x", "monthly_budget": "-0.01"}, ("monthly_budget",)),
        ({"name": "x", "monthly_budget": "10.001"}, ("monthly_budget",)),
        ({"name": "x", "alert_thresholds": [0]}, ("alert_thresholds", 0)),
        ({"name": "x", "alert_thresholds": ["0.5", "10.5"]}, ("alert_thresholds", 1)),
        ({"name": "x", "alert_thresholds": ["0.8", "0.80"]}, ("alert_thresholds",)),
        ({"name": "x", "alert_thresholds": ["0.12345"]}, ("alert_thresholds", 0)),
        ({"name": "x", "notify": ["mailto://a:b@example.com", "not a url"]}, ("notify", 1)),
        ({"name": "x", "notify": ["json://localhost"] * 21}, ("notify",)),
        ({"name": "x", "budget": "1"}, ("budget",)),
    ],
)
def test_rejected_fields_are_named(body: dict, location: tuple) -> None:
    assert location in error_locations(body)


def test_valid_limits_are_accepted() -> None:
    update = ClientUpdate.model_validate({
        "name": "x" * 200, "markup_percent": "1000", "monthly_budget": "0", "alert_thresholds": ["0.0001", "10"],
        "notify": ["mailto://user:pass@example.com", "slack://T000/B000/XXXX", "json://localhost"],
    })
    assert update.markup_percent == Decimal("1000")
    assert len(update.notify) == 3
    assert ClientUpdate(name="x", alert_thresholds=[]).alert_thresholds == []


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "2026-3", "26-03", "2026-03-01", "", "abcd-ef", "1969-12"])
def test_bad_periods(text: str) -> None:
    with pytest.raises(ValueError):
        parse_period(text)


def test_period_bounds() -> None:
    assert parse_period("2026-03") == Period(2026, 3)
    assert str(parse_period("2026-12")) == "2026-12"
    assert Period(2026, 12).first_day.isoformat() == "2026-12-01"
    assert Period(2026, 12).end.isoformat() == "2027-01-01T00:00:00+00:00"
