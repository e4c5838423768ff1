"""Alert text: amounts, percentages, the threshold(s) passed, the forecast and the top models."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.alerts.decisions import decide
from services.alerts.domain import ModelSpend, Period
from services.alerts.messages import format_percent, format_usd, render

D = Decimal
NOV = Period(2026, 11)
MODELS = (
    ModelSpend("openai", "gpt-4o", D("300.104")),
    ModelSpend("anthropic", "claude-3-5-sonnet", D("90")),
    ModelSpend("google", "gemini-1.5-pro", D("11.016")),
    ModelSpend("mistral", "mistral-large", D("0.0001")),
)


@pytest.mark.parametrize(("amount", "text"), [
    ("0", "$0.00"), ("0.004", "$0.00"), ("0.005", "$0.01"), ("401.115", "$401.12"), ("1234567.891", "$1,234,567.89"),
    ("500", "$500.00"), ("401.120000000000000000", "$401.12"),
])
def test_usd(amount: str, text: str) -> None:
    assert format_usd(D(amount)) == text


@pytest.mark.parametrize(("fraction", "places", "text"), [
    ("0.8", 0, "80%"), ("0.80240", 0, "80%"), ("0.7999", 0, "79%"), ("1.2", 0, "120%"), ("0.125", 2, "12.5%"),
    ("1", 2, "100%"), ("0.00001", 0, "0%"),
])
def test_percent_rounds_down(fraction: str, places: int, text: str) -> None:
    assert format_percent(D(fraction), places) == text


def message(spent: str, budget: str = "500", thresholds: tuple[str, ...] = ("0.5", "0.8", "1"), fired: tuple = (),
            projected: str | None = None, month_over: bool = False, models: tuple = MODELS) -> tuple[str, str, bool]:
    decision = decide(budget=D(budget), thresholds=[D(t) for t in thresholds], spent=D(spent),
                      projected=None if projected is None else D(projected), fired=set(fired))
    rendered = render(client_name="Acme", period=NOV, decision=decision, budget=D(budget), spent=D(spent),
                      projected=None if projected is None else D(projected), month_over=month_over,
                      top_models=models)
    return rendered.title, rendered.body, rendered.urgent


def test_the_example_from_the_brief() -> None:
    from services.alerts.domain import AlertKey

    title, body, urgent = message("401.12", projected="560", fired=(AlertKey.at(D("0.5")),))
    assert title == "Acme is at 80% of its AI budget for November 2026"
    assert body == (
        "Acme is at 80% of its $500.00 AI budget for November 2026 ($401.12), past the 80% alert; "
        "on track for $560.00 by month end (over budget). "
        "Top models: openai gpt-4o $300.10, anthropic claude-3-5-sonnet $90.00, google gemini-1.5-pro $11.02."
        " Amounts at cost, before markup."
    )
    assert not urgent


def test_a_jump_lists_every_threshold_passed() -> None:
    _, body, urgent = message("600", projected="900")
    assert body.startswith(
        "Acme is at 120% of its $500.00 AI budget for November 2026 ($600.00), past the 50%, 80% and 100% alerts; "
        "on track for $900.00 by month end. Top models:"
    )
    assert urgent


def test_two_thresholds_are_joined_with_and() -> None:
    _, body, _ = message("420", projected="450", thresholds=("0.5", "0.8"))
    assert "past the 50% and 80% alerts; on track for $450.00 by month end. Top" in body


def test_the_percent_shown_never_falls_below_the_threshold_named() -> None:
    _, body, _ = message("62.6", budget="500", thresholds=("0.125",), projected="100")
    assert body.startswith("Acme is at 12.52% of its $500.00 AI budget")
    assert "past the 12.5% alert" in body


def test_too_early_for_a_forecast_says_so() -> None:
    _, body, _ = message("300", projected=None)
    assert "past the 50% alert (too early in the month for a forecast). Top models" in body


def test_the_forecast_message() -> None:
    title, body, urgent = message("300", thresholds=("1",), projected="560", models=MODELS[:1])
    assert title == "Acme is on track to exceed its AI budget for November 2026"
    assert body == (
        "Acme is on track to exceed its $500.00 AI budget for November 2026: $300.00 so far (60%), "
        "$560.00 projected by month end. Top models: openai gpt-4o $300.10. Amounts at cost, before markup."
    )
    assert not urgent


def test_a_month_that_is_over_says_ended_and_forecasts_nothing() -> None:
    title, body, _ = message("510", thresholds=("1",), projected="510", month_over=True, models=())
    assert title == "Acme ended at 102% of its AI budget for November 2026"
    assert body == ("Acme ended at 102% of its $500.00 AI budget for November 2026 ($510.00), past the 100% alert."
                    " Amounts at cost, before markup.")


def test_models_that_cost_nothing_are_not_listed_and_at_most_three_are() -> None:
    _, body, _ = message("600", projected="900", models=(ModelSpend("openai", "free", D(0)), *MODELS))
    assert "free" not in body and "mistral" not in body and body.count(" $") == 5  # budget, forecast, three models


def test_a_budget_in_billed_dollars_says_so() -> None:
    _, body, _ = message("300", projected=None)
    assert body.endswith("Amounts at cost, before markup.")
    from services.alerts.messages import render

    decision = decide(budget=D("500"), thresholds=[D("0.5")], spent=D("300"), projected=None, fired=())
    rendered = render(client_name="Acme", period=NOV, decision=decision, budget=D("500"), spent=D("300"),
                      projected=None, month_over=False, top_models=(), basis="billed", markup_percent=D("25"))
    assert rendered.body.endswith("Amounts as billed with the 25% markup.")
