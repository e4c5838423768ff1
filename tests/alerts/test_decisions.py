"""Threshold crossings and the forecast: pure decisions, many cases."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from services.alerts.decisions import crossed_thresholds, decide, project_month_end
from services.alerts.domain import AlertKey, Kind, Period

D = Decimal
T50, T80, T100 = D("0.5"), D("0.8"), D("1")
DEFAULT = (T50, T80, T100)
FORECAST = AlertKey.forecast()


def at(t: str) -> AlertKey:
    return AlertKey.at(D(t))


@pytest.mark.parametrize(("spent", "crossed"), [
    ("0", []), ("49.99", []), ("50", [T50]), ("50.000000000000000001", [T50]), ("79.999999", [T50]),
    ("80", [T50, T80]), ("100", [T50, T80, T100]), ("1000", [T50, T80, T100]),
])
def test_a_threshold_is_crossed_once_spend_reaches_its_share_of_the_budget(spent: str, crossed: list[Decimal]) -> None:
    assert crossed_thresholds(D(spent), D(100), DEFAULT) == crossed


def test_thresholds_above_one_and_odd_fractions() -> None:
    assert crossed_thresholds(D("149.99"), D(100), [D("1.5"), D("0.125")]) == [D("0.125")]
    assert crossed_thresholds(D("150"), D(100), [D("1.5"), D("0.125")]) == [D("0.125"), D("1.5")]


def test_a_single_crossing_sends_that_threshold() -> None:
    decision = decide(budget=D(100), thresholds=DEFAULT, spent=D(55), projected=D(90), fired=set())
    assert decision.send == at("0.5")
    assert decision.passed == (T50,)
    assert decision.covered == ()


def test_nothing_twice() -> None:
    decision = decide(budget=D(100), thresholds=DEFAULT, spent=D(55), projected=D(90), fired={at("0.5")})
    assert decision.is_empty


def test_a_jump_past_several_thresholds_sends_the_highest_and_covers_the_rest() -> None:
    decision = decide(budget=D(100), thresholds=DEFAULT, spent=D(120), projected=D(300), fired=set())
    assert decision.send == at("1")
    assert decision.passed == (T50, T80, T100)
    assert set(decision.covered) == {at("0.5"), at("0.8")}
    assert decision.covered_by == T100


def test_a_jump_over_one_already_sent_names_only_the_new_ones() -> None:
    decision = decide(budget=D(100), thresholds=DEFAULT, spent=D(101), projected=D(150), fired={at("0.5")})
    assert decision.send == at("1")
    assert decision.passed == (T80, T100)
    assert decision.covered == (at("0.8"),)


def test_a_lower_threshold_newly_due_under_a_higher_one_already_sent_is_covered_not_sent() -> None:
    # e.g. 0.5 added to the thresholds after 0.8 went out this month
    decision = decide(budget=D(100), thresholds=DEFAULT, spent=D(85), projected=D(95), fired={at("0.8")})
    assert decision.send is None
    assert decision.covered == (at("0.5"),)
    assert decision.covered_by == T80


def test_a_budget_lowered_mid_month_fires_what_the_new_budget_crosses_once() -> None:
    fired = {at("0.5")}
    decision = decide(budget=D(70), thresholds=DEFAULT, spent=D(60), projected=D(65), fired=fired)
    assert decision.send == at("0.8")
    assert decide(budget=D(70), thresholds=DEFAULT, spent=D(60), projected=D(65), fired=fired | {at("0.8")}).is_empty


def test_a_budget_raised_mid_month_does_not_resend_a_threshold_already_sent() -> None:
    fired = {at("0.5"), at("0.8")}
    assert decide(budget=D(200), thresholds=DEFAULT, spent=D(170), projected=D(190), fired=fired).is_empty
    assert decide(budget=D(200), thresholds=DEFAULT, spent=D(200), projected=D(220), fired=fired).send == at("1")


@pytest.mark.parametrize("budget", [None, D(0), D(-1)])
def test_no_budget_means_no_alerts(budget: Decimal | None) -> None:
    assert decide(budget=budget, thresholds=DEFAULT, spent=D(1000), projected=D(5000), fired=set()).is_empty


def test_the_forecast_alerts_when_the_projection_exceeds_the_budget_before_the_spend_does() -> None:
    decision = decide(budget=D(100), thresholds=[T100], spent=D(70), projected=D("111.28"), fired=set())
    assert decision.send == FORECAST
    assert decision.passed == ()
    assert decide(budget=D(100), thresholds=[T100], spent=D(90), projected=D(140), fired={FORECAST}).is_empty


@pytest.mark.parametrize(("projected", "due"), [(None, False), (D(99), False), (D(100), False), (D("100.01"), True)])
def test_the_forecast_needs_a_projection_strictly_over_the_budget(projected: Decimal | None, due: bool) -> None:
    decision = decide(budget=D(100), thresholds=[T100], spent=D(40), projected=projected, fired=set())
    assert (decision.send == FORECAST) is due


def test_a_threshold_message_at_the_same_moment_covers_the_forecast() -> None:
    decision = decide(budget=D(100), thresholds=DEFAULT, spent=D(85), projected=D(135), fired={at("0.5")})
    assert decision.send == at("0.8")
    assert decision.covered == (FORECAST,)
    assert decision.covered_by == T80


def test_no_forecast_once_the_budget_is_reached() -> None:
    decision = decide(budget=D(100), thresholds=[T50], spent=D(100), projected=D(200), fired={at("0.5")})
    assert decision.is_empty


def test_forecast_with_lower_thresholds_newly_covered() -> None:
    decision = decide(budget=D(100), thresholds=DEFAULT, spent=D(60), projected=D(120), fired={at("0.8")})
    assert decision.send == FORECAST
    assert decision.covered == (at("0.5"),)
    assert decision.covered_by == T80


def test_thresholds_compare_as_numbers_whatever_their_scale() -> None:
    fired = {AlertKey(Kind.THRESHOLD, D("0.8000").normalize())}
    assert decide(budget=D(100), thresholds=[D("0.80")], spent=D(90), projected=None, fired=fired).is_empty


OCT = Period(2026, 10)  # 31 days


def test_projection_is_spend_scaled_by_the_share_of_the_month_gone() -> None:
    now = datetime(2026, 10, 20, 12, tzinfo=UTC)  # 19.5 of 31 days
    projected = project_month_end(D(70), OCT, now, min_days=3)
    assert projected is not None
    assert projected.quantize(D("0.01")) == D("111.28")
    assert project_month_end(D(62), OCT, datetime(2026, 10, 16, 12, tzinfo=UTC), min_days=3) == D(124)  # 15.5 days
    assert project_month_end(D(30), Period(2026, 11), datetime(2026, 11, 16, tzinfo=UTC), min_days=3) == D(60)


def test_projection_waits_for_min_days_and_is_the_actual_once_the_month_is_over() -> None:
    assert project_month_end(D(10), OCT, datetime(2026, 10, 3, 23, tzinfo=UTC), min_days=3) is None
    early = project_month_end(D(10), OCT, datetime(2026, 10, 4, tzinfo=UTC), min_days=3)  # 3 of 31 days
    assert early is not None and early.quantize(D("0.01")) == D("103.33")
    assert project_month_end(D(10), OCT, datetime(2026, 9, 30, tzinfo=UTC), min_days=0) is None
    assert project_month_end(D(10), OCT, datetime(2026, 11, 1, tzinfo=UTC), min_days=3) == D(10)
    assert project_month_end(D(10), OCT, datetime(2026, 12, 5, tzinfo=UTC), min_days=3) == D(10)


def test_projection_of_nothing_is_nothing() -> None:
    assert project_month_end(D(0), OCT, datetime(2026, 10, 20, tzinfo=UTC), min_days=3) == 0
