"""Periods, channels (masked labels, stable ids) and which clients are watched."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from services.alerts.domain import BudgetSettings, Channel, Period


def test_periods() -> None:
    assert Period.parse("2026-10") == Period(2026, 10)
    assert str(Period(2026, 1)) == "2026-01"
    assert Period(2026, 12).next() == Period(2027, 1) and Period(2027, 1).previous() == Period(2026, 12)
    assert Period(2026, 10).end == datetime(2026, 11, 1, tzinfo=UTC)
    assert Period(2028, 2).days == 29
    assert Period(2026, 11).label == "November 2026"
    # UTC months: 23:30 on Oct 31 in New York is already November
    assert Period.of(datetime(2026, 10, 31, 23, 30, tzinfo=timezone(timedelta(hours=-4)))) == Period(2026, 11)


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "26-10", "2026-1", "", "1969-12"])
def test_bad_periods(text: str) -> None:
    with pytest.raises(ValueError):
        Period.parse(text)


@pytest.mark.parametrize(("url", "label"), [
    ("https://hooks.slack.com/services/T000/B000/XXXXSECRET", "https://hooks.slack.com/***"),
    ("slack://T000/B000/XXXXSECRET", "slack://***"),
    ("mailtos://user:app-password@gmail.com?to=am@agency.com", "mailtos://***@gmail.com/***"),
    ("mailto://127.0.0.1:2525?mode=insecure&from=a@b.test&to=c@d.test", "mailto://127.0.0.1/***"),
    ("json://user:secret@127.0.0.1:8080/hook/secret", "json://***@127.0.0.1/***"),
    ("msteams://TokenA/TokenB/TokenC", "msteams://***"),
    ("discord://webhook_id/webhook_token", "discord://***"),
])
def test_channel_labels_hide_every_secret(url: str, label: str) -> None:
    channel = Channel(url)
    assert channel.label == label
    for secret in ("SECRET", "app-password", "secret", "Token", "webhook_token", "am@agency"):
        assert secret not in channel.label and secret not in channel.channel_id
    assert url not in repr(channel)


def test_channel_ids_are_stable_and_distinct() -> None:
    assert Channel("slack://a/b/c").channel_id == Channel("slack://a/b/c").channel_id
    assert Channel("slack://a/b/c").channel_id != Channel("slack://a/b/d").channel_id


def client(budget: str | None = "100", notify: tuple[str, ...] = ("slack://a/b/c",)) -> BudgetSettings:
    return BudgetSettings("acme", "Acme", None if budget is None else Decimal(budget), (Decimal("0.8"),), notify)


def test_watched_clients_have_a_positive_budget_and_a_target() -> None:
    assert client().watched
    assert not client(budget=None).watched
    assert not client(budget="0").watched
    assert not client(notify=()).watched


def test_duplicate_targets_are_one_channel() -> None:
    settings = client(notify=("slack://a/b/c", "slack://a/b/c", "mailto://x@y.test"))
    assert len(settings.channels) == 2
    assert settings.channel(Channel("mailto://x@y.test").channel_id) == Channel("mailto://x@y.test")
    assert settings.channel("nope") is None


def test_a_billed_budget_counts_spend_with_the_markup_exactly() -> None:
    from services.alerts.domain import ModelSpend, SpendSnapshot

    billed = BudgetSettings("acme", "Acme", Decimal("500"), (Decimal("0.8"),), ("json://x",),
                            markup_percent=Decimal("12.5"), budget_basis="billed")
    assert billed.in_budget_terms(Decimal("0.000001")) == Decimal("0.000001125")
    snapshot = billed.spend_in_budget_terms(SpendSnapshot(Decimal("400"), (ModelSpend("openai", "gpt-4o", Decimal("400")),)))
    assert snapshot.total_usd == Decimal("450") and snapshot.by_model[0].cost_usd == Decimal("450")
    at_cost = BudgetSettings("acme", "Acme", Decimal("500"), (Decimal("0.8"),), ("json://x",), markup_percent=Decimal("25"))
    assert at_cost.in_budget_terms(Decimal("400")) == Decimal("400")
