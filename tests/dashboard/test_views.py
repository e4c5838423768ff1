"""The dashboard's figures from plain API answers: exact, and in the budget's own basis."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from libs.common.periods import Period
from services.dashboard.formatting import money, percent
from services.dashboard.sessions import PortalLinks, Sessions
from services.dashboard.views import basis_of, budget_status, build_overview

NOV = Period(2026, 11)
MID_NOV = datetime(2026, 11, 16, tzinfo=UTC)  # 15 of 30 days gone


@pytest.mark.parametrize(("value", "text"), [
    (Decimal("1234.565"), "$1,234.57"), (Decimal("-3"), "-$3.00"), (Decimal("0.004"), "$0.00"), (None, "—"),
])
def test_money_rounds_half_up_to_cents(value: Decimal | None, text: str) -> None:
    assert money(value) == text


def test_money_exact_shows_sub_cent_amounts() -> None:
    assert money(Decimal("0.0042"), exact=True) == "$0.0042"
    assert percent(Decimal("0.845")) == "85%"


def test_budget_in_billed_dollars_counts_the_markup_and_forecasts_linearly() -> None:
    client = {"monthly_budget": "500.00", "budget_basis": "billed"}
    status = budget_status(client, Decimal("200"), Decimal("250"), NOV, MID_NOV)
    assert status is not None and status.basis == "billed"
    assert status.spent == Decimal("250") and status.used == Decimal("0.5")
    assert status.projected == Decimal("500") and status.level == "ok"


def test_budget_at_cost_and_records_without_a_basis_mean_cost() -> None:
    status = budget_status({"monthly_budget": "200.00"}, Decimal("180"), Decimal("225"), NOV, MID_NOV)
    assert status is not None and status.basis == "cost" and status.spent == Decimal("180")
    assert status.level == "warn" and status.bar_percent == Decimal("90.0")
    assert status.forecast_percent == Decimal("100.0")  # projected $360: the marker stops at the end
    assert basis_of(None) == "cost"
    assert budget_status({"monthly_budget": None}, Decimal(1), Decimal(1), NOV, MID_NOV) is None


def test_no_forecast_for_a_month_that_is_over() -> None:
    status = budget_status({"monthly_budget": "100"}, Decimal("10"), Decimal("12"), Period(2026, 10), MID_NOV)
    assert status is not None and status.projected is None and status.forecast_percent is None


def test_no_forecast_in_the_first_days_of_the_month() -> None:
    status = budget_status({"monthly_budget": "100"}, Decimal("10"), Decimal("12"), NOV,
                           datetime(2026, 11, 2, tzinfo=UTC))
    assert status is not None and status.projected is None


def month_row(client_id: str, cost: str, margin: str, billed: str, **extra: object) -> dict[str, object]:
    """A row of invoicing's ``GET /v1/usage/{period}/clients``."""
    return {"client_id": client_id, "name": client_id.title(), "cost": cost, "markup_percent": "25",
            "margin": margin, "billed": billed, "events": 3, "invoice_status": "draft", "invoice_number": None,
            "last_month_invoice_status": "draft", "monthly_budget": None, "budget_basis": "cost", **extra}


def test_overview_totals_sorting_and_last_month_status() -> None:
    overview = build_overview(
        period=NOV, now=MID_NOV,
        totals=[month_row("a", "10.00", "2.50", "12.50", monthly_budget="50", budget_basis="billed",
                          last_month_invoice_status="paid"),
                month_row("b", "30.10", "7.53", "37.63")],
        alert_counts={"b": 2}, sort="cost", descending=False,
    )
    assert [r.client_id for r in overview.rows] == ["a", "b"]
    assert overview.total_billed == Decimal("50.13") and overview.total_margin == Decimal("10.03")
    assert [r.alerts_sent for r in overview.rows] == [0, 2]
    assert [r.last_invoice_status for r in overview.rows] == ["paid", "draft"]
    a_budget = overview.rows[0].budget
    assert a_budget is not None and a_budget.basis == "billed" and a_budget.spent == Decimal("12.50")
    assert overview.rows[1].budget is None


def test_overview_without_alerts_says_so() -> None:
    overview = build_overview(period=NOV, now=MID_NOV, totals=[month_row("a", "1", "0", "1")], alert_counts=None)
    assert overview.rows[0].alerts_sent is None and overview.notes


def test_sessions_and_portal_links_reject_tampering_and_other_secrets() -> None:
    sessions = Sessions("secret-one", 3600)
    session, cookie = sessions.new()
    assert sessions.read(cookie) == session
    assert sessions.read(cookie[:-2] + "xx") is None
    assert Sessions("secret-two", 3600).read(cookie) is None
    links = PortalLinks("secret-one", 3600)
    token = links.token("acme")
    assert links.client_id(token) == "acme"
    assert PortalLinks("secret-two", 3600).client_id(token) is None
    assert links.client_id(token[:-3] + "abc") is None
    assert PortalLinks("secret-one", 3600).client_id(cookie) is None  # a session cookie is not a portal link
    assert PortalLinks("secret-one", -1).client_id(token) is None  # expired


def test_flat_fee_input_is_validated_with_the_field_named() -> None:
    from services.dashboard.analysis import parse_fee

    assert parse_fee("$1,250.50", "fee") == (Decimal("1250.50"), None)
    assert parse_fee("", "fee") == (None, None)
    for text, reason in (("abc", "not an amount"), ("-1", "zero or more"), ("1.001", "two decimals"),
                         ("NaN", "zero or more"), ("1e20", "too large")):
        fee, error = parse_fee(text, "fee.acme")
        assert fee is None and error is not None and error.startswith("fee.acme:") and reason in error


def test_margins_flag_the_months_a_flat_fee_lost_money() -> None:
    from services.dashboard.analysis import build_margins

    sep, octo = Period(2026, 9), Period(2026, 10)
    margins = build_margins([sep, octo], {
        sep: [month_row("a", "80.00", "20.00", "100.00")], octo: [month_row("a", "120.00", "30.00", "150.00")],
    }, fees={}, default_fee=Decimal("100"))
    (client,) = margins.clients
    assert [m.flat_margin for m in client.months] == [Decimal("20.00"), Decimal("-20.00")]
    assert client.months_lost == 1 and margins.losing == [client]
    assert client.markup_margin == Decimal("50.00") and client.flat_margin == Decimal("0.00")
    newer = build_margins([sep, octo], {octo: [month_row("b", "10.00", "2.50", "12.50")]}, fees={},
                          default_fee=Decimal("100")).clients[0]
    assert newer.months[0].flat_margin is None and newer.flat_margin == Decimal("90.00")


def test_swap_reprices_each_bucket_exactly() -> None:
    from services.dashboard.analysis import swap_cost

    daily = [
        {"day": "2026-10-01", "provider": "openai", "model": "gpt-4o", "events": 2, "input_tokens": 1_000_001,
         "output_tokens": 3, "cache_read_tokens": 10, "cache_write_tokens": 0, "reasoning_tokens": 0,
         "cost_usd": "2.50253"},
        {"day": "2026-10-02", "provider": "google", "model": "gemini", "events": 1, "input_tokens": 5,
         "output_tokens": 0, "cache_read_tokens": 0, "cache_write_tokens": 0, "reasoning_tokens": 0,
         "cost_usd": "1.00"},
    ]
    price = {"input_per_mtok": "0.15", "output_per_mtok": "0.6", "cache_read_per_mtok": "0.075",
             "cache_write_per_mtok": "0", "reasoning_per_mtok": "0.6", "tier": ""}
    result = swap_cost(daily, ("openai", "gpt-4o"), ("openai", "gpt-4o-mini"), price, Decimal("25"))
    assert result.swapped_cost == Decimal("0.15000015") + Decimal("0.0000018") + Decimal("0.00000075")
    assert result.actual_cost == Decimal("2.50253") and result.events == 2
    assert result.month_cost_after == Decimal("1.00") + result.swapped_cost
    assert result.billed_after == Decimal("1.15") + Decimal("0.29")


def test_swap_reprices_the_unit_buckets_and_names_what_the_target_cannot_price() -> None:
    from services.dashboard.analysis import swap_cost

    daily = [{"day": "2026-10-01", "provider": "openai", "model": "gpt-4o-audio-preview", "events": 1,
              "input_tokens": 1_000, "output_tokens": 0, "cache_read_tokens": 0, "cache_write_tokens": 0,
              "reasoning_tokens": 0, "input_audio_tokens": 200_000, "output_audio_tokens": 50_000,
              "cost_usd": "2.0025"}]
    text = {"input_per_mtok": "2.5", "output_per_mtok": "10", "cache_read_per_mtok": "0",
            "cache_write_per_mtok": "0", "reasoning_per_mtok": "0", "tier": ""}
    audio = {**text, "input_audio_per_mtok": "40", "output_audio_per_mtok": "80"}
    source, target = ("openai", "gpt-4o-audio-preview"), ("openai", "gpt-4o-mini-audio-preview")

    priced = swap_cost(daily, source, target, audio, Decimal("0"))
    # 1,000 × $2.50/1M + 200,000 × $40/1M + 50,000 × $80/1M, by hand
    assert priced.swapped_cost == Decimal("0.0025") + Decimal("8") + Decimal("4")
    assert priced.unpriced == {}

    text_only = swap_cost(daily, source, target, text, Decimal("0"))
    assert text_only.swapped_cost == Decimal("0.0025")
    assert text_only.unpriced == {"input_audio_tokens": 200_000, "output_audio_tokens": 50_000}
