"""The pure invoice builder: every amount to the cent, rounding exactly as libs/common/money.py says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from libs.common.errors import NotFound
from libs.common.periods import Period
from libs.common.settings import BillingDefaults
from services.invoicing.parties import ClientBilling
from services.invoicing.schemas import Client, ClientUpdate, Invoice
from services.invoicing.service import (
    build_invoice,
    build_summaries,
    client_from_update,
    describe_line,
)
from tests.invoicing.factories import usage, worked_example

MARCH = Period(2026, 3)
DURING_MARCH = datetime(2026, 3, 15, 12, tzinfo=UTC)
AFTER_MARCH = datetime(2026, 4, 1, tzinfo=UTC)
DEFAULTS = BillingDefaults(default_markup_percent=Decimal("25"), currency="USD")


def client(markup: str = "25", client_id: str = "acme", created_at: datetime | None = None) -> Client:
    created = created_at or datetime(2026, 1, 1, tzinfo=UTC)
    return Client(
        client_id=client_id, name="Acme Corp", markup_percent=Decimal(markup), monthly_budget=None,
        alert_thresholds=[], notify=[], created_at=created, updated_at=created,
    )


def invoice(lines: list, *, markup: str | None = "25", now: datetime = DURING_MARCH) -> Invoice:
    record = client(markup) if markup is not None else None
    return build_invoice(client_id="acme", period=MARCH, usage=lines, client=record, defaults=DEFAULTS, now=now)


def test_worked_example_to_the_cent() -> None:
    result = invoice(worked_example())

    assert [(line.model, line.amount_exact, line.amount) for line in result.lines] == [
        ("gpt-4o", Decimal("5.25"), Decimal("5.25")),
        ("claude-3-5-sonnet", Decimal("2.67"), Decimal("2.67")),
        ("gemini-1.5-pro", Decimal("0.5625"), Decimal("0.56")),
    ]
    assert (result.base_cost, result.markup, result.total) == (Decimal("8.48"), Decimal("2.12"), Decimal("10.60"))
    assert [line.description for line in result.lines] == [
        "openai gpt-4o: 2,100,000 tokens @ $2.50/1M = $5.25",
        "anthropic claude-3-5-sonnet: 890,000 tokens @ $3.00/1M = $2.67",
        "google gemini-1.5-pro: 450,000 tokens @ $1.25/1M = $0.56",
    ]


def test_worked_example_json_has_money_as_exact_strings() -> None:
    body = invoice(worked_example()).model_dump(mode="json")

    assert (body["base_cost"], body["markup_percent"], body["markup"], body["total"]) == ("8.48", "25", "2.12", "10.60")
    gemini = body["lines"][2]
    assert (gemini["amount_exact"], gemini["amount"]) == ("0.5625", "0.56")
    assert gemini["unit_prices"] == {
        "input_per_mtok": "1.25", "output_per_mtok": "0.00", "cache_read_per_mtok": "0.00",
        "cache_write_per_mtok": "0.00", "reasoning_per_mtok": "0.00",
        # units the row does not price read 0 (the line has no tokens of them)
        "cache_write_1h_per_mtok": "0.00", "input_audio_per_mtok": "0.00", "output_audio_per_mtok": "0.00",
        "cache_audio_read_per_mtok": "0.00", "input_image_per_mtok": "0.00", "cache_image_read_per_mtok": "0.00",
        "output_image_per_mtok": "0.00",
    }
    assert gemini["price"] == {"source": "catalog", "price_id": "google/gemini-1.5-pro", "tier": ""}
    assert (gemini["events"], gemini["input_tokens"], gemini["total_tokens"]) == (3, 450_000, 450_000)
    assert body["currency"] == "USD" and body["period"] == "2026-03"


@pytest.mark.parametrize(
    ("exact", "billed"),
    [
        ("0.125", "0.13"),  # half-up, not banker's rounding (which gives 0.12)
        ("0.115", "0.12"),  # as a float 0.115 is 0.11499999…; as a Decimal it is exactly half
        ("0.005", "0.01"),
        ("0.004999999999999999", "0.00"),
        ("0.135", "0.14"),
        ("2.675", "2.68"),  # the classic float trap: round(2.675, 2) == 2.67
        ("1.994999999999999999", "1.99"),
        ("0", "0.00"),
    ],
)
def test_lines_round_half_up_to_cents(exact: str, billed: str) -> None:
    line = invoice([usage(cost_usd=exact)], markup="0").lines[0]

    assert line.amount == Decimal(billed)
    assert str(line.amount) == billed


def test_base_is_the_sum_of_rounded_lines_not_the_rounded_sum() -> None:
    # Each line is 0.005 → 0.01, so the base is 0.02; rounding the exact sum (0.010) would give 0.01.
    result = invoice([usage("a", "m1", cost_usd="0.005"), usage("b", "m2", cost_usd="0.005")], markup="0")
    assert result.base_cost == Decimal("0.02")

    # And the other way: three lines of 0.004 bill nothing, although together they are 0.012.
    lines = [usage("a", f"m{i}", cost_usd="0.004") for i in range(3)]
    assert invoice(lines, markup="0").base_cost == Decimal("0.00")


def test_zero_markup_bills_the_base() -> None:
    result = invoice(worked_example(), markup="0")

    assert (result.base_cost, result.markup, result.total) == (Decimal("8.48"), Decimal("0.00"), Decimal("8.48"))
    assert result.model_dump(mode="json")["markup"] == "0.00"


def test_fractional_markup_rounds_its_half_cent_up() -> None:
    result = invoice([usage(cost_usd="0.04")], markup="12.5")  # 0.04 × 12.5% = 0.005

    assert (result.base_cost, result.markup, result.total) == (Decimal("0.04"), Decimal("0.01"), Decimal("0.05"))
    assert result.model_dump(mode="json")["markup_percent"] == "12.5"


def test_markup_on_a_large_base_rounds_once() -> None:
    result = invoice([usage(cost_usd="1234.565")], markup="33.3333")  # base 1234.57

    assert result.base_cost == Decimal("1234.57")
    assert result.markup == Decimal("411.52")  # 411.5229… → 411.52
    assert result.total == Decimal("1646.09")


def test_empty_invoice_of_a_known_client_is_all_zeros() -> None:
    body = invoice([]).model_dump(mode="json")

    assert body["lines"] == []
    assert (body["base_cost"], body["markup"], body["total"]) == ("0.00", "0.00", "0.00")
    assert body["name"] == "Acme Corp"


def test_usage_without_a_record_is_billed_at_the_default_markup() -> None:
    result = invoice(worked_example(), markup=None)

    assert result.name is None
    assert result.markup_percent == Decimal("25")
    assert result.total == Decimal("10.60")


def test_markup_comes_from_the_client_record() -> None:
    result = invoice(worked_example(), markup="10")

    assert (result.markup_percent, result.markup, result.total) == (Decimal("10"), Decimal("0.85"), Decimal("9.33"))


def test_no_record_and_no_usage_is_not_found() -> None:
    with pytest.raises(NotFound, match="acme"):
        invoice([], markup=None)


def test_status_and_period_bounds() -> None:
    open_invoice = invoice([], now=DURING_MARCH)
    closed_invoice = invoice([], now=AFTER_MARCH)

    # Computed live, an invoice is a draft whether or not its month has ended: only issuing changes that.
    assert open_invoice.status == "draft" and open_invoice.number is None
    assert invoice([], now=AFTER_MARCH - timedelta(microseconds=1)).status == "draft"
    assert closed_invoice.status == "draft" and closed_invoice.number is None
    assert closed_invoice.period_start == datetime(2026, 3, 1, tzinfo=UTC)
    assert closed_invoice.period_end == datetime(2026, 4, 1, tzinfo=UTC)
    assert closed_invoice.generated_at == AFTER_MARCH
    assert build_invoice(
        client_id="acme", period=Period(2026, 12), usage=[], client=client(), defaults=DEFAULTS, now=AFTER_MARCH
    ).period_end == datetime(2027, 1, 1, tzinfo=UTC)


def test_lines_sort_by_amount_then_provider_and_model() -> None:
    lines = [
        usage("openai", "b", cost_usd="1"),
        usage("anthropic", "z", cost_usd="1"),
        usage("openai", "a", cost_usd="1.004"),  # rounds to 1.00: ties with the others
        usage("google", "g", cost_usd="3"),
    ]
    assert [(line.provider, line.model) for line in invoice(lines).lines] == [
        ("google", "g"), ("anthropic", "z"), ("openai", "a"), ("openai", "b"),
    ]


def test_description_lists_buckets_when_prices_differ() -> None:
    line = usage(
        "anthropic", "claude-3-5-sonnet", input_tokens=1_000, output_tokens=500,
        input_per_mtok="3.00", output_per_mtok="15.00",
    )
    assert line.cost_usd == Decimal("0.0105")
    assert describe_line(line, Decimal("0.01")) == (
        "anthropic claude-3-5-sonnet: 1,000 input @ $3.00/1M + 500 output @ $15.00/1M = $0.01"
    )


def test_description_uses_one_price_when_all_used_buckets_share_it() -> None:
    line = usage(
        "openai", "gpt-4o", input_tokens=1_500_000, cache_read_tokens=600_000, output_tokens=0,
        input_per_mtok="2.5", cache_read_per_mtok="2.500000000000", output_per_mtok="10",
    )
    assert describe_line(line, Decimal("5.25")) == "openai gpt-4o: 2,100,000 tokens @ $2.50/1M = $5.25"


def test_description_of_all_buckets_and_odd_prices() -> None:
    line = usage(
        "openai", "o1", input_tokens=1, output_tokens=2, cache_read_tokens=3, cache_write_tokens=4,
        reasoning_tokens=5, input_per_mtok="15", output_per_mtok="60", cache_read_per_mtok="7.5",
        cache_write_per_mtok="0.075", reasoning_per_mtok="1234.5",
    )
    assert describe_line(line, Decimal("1234.56")) == (
        "openai o1: 1 input @ $15.00/1M + 2 output @ $60.00/1M + 3 cache read @ $7.50/1M"
        " + 4 cache write @ $0.075/1M + 5 reasoning @ $1,234.50/1M = $1,234.56"
    )
    assert describe_line(usage(cost_usd="0"), Decimal("0.00")) == "openai gpt-4o: 0 tokens = $0.00"


def test_unit_prices_and_exact_amounts_are_trimmed_not_changed() -> None:
    line = usage(
        input_tokens=1, input_per_mtok="0.075000000000", output_per_mtok="10.000000000000",
        cost_usd="0.000000075000000000",
    )
    body = invoice([line]).model_dump(mode="json")["lines"][0]

    assert body["unit_prices"]["input_per_mtok"] == "0.075"
    assert body["unit_prices"]["output_per_mtok"] == "10.00"
    assert body["amount_exact"] == "0.000000075"
    assert body["amount"] == "0.00"


def test_summaries_match_the_single_invoices() -> None:
    march_client = client("10", "beta", created_at=datetime(2026, 2, 1, tzinfo=UTC))
    june_client = client("10", "later", created_at=datetime(2026, 6, 1, tzinfo=UTC))
    by_client = {
        "acme": worked_example(),
        "beta": [usage(cost_usd="0.005"), usage("a", "b", cost_usd="0.005")],
    }
    summaries = build_summaries(
        period=MARCH, usage_by_client=by_client, clients=[march_client, june_client],
        defaults=DEFAULTS, now=DURING_MARCH,
    )

    assert [s.model_dump(mode="json") for s in summaries] == [
        {"client_id": "acme", "name": None, "base_cost": "8.48", "markup_percent": "25", "markup": "2.12",
         "tax": "0.00", "total": "10.60", "events": 15},
        {"client_id": "beta", "name": "Acme Corp", "base_cost": "0.02", "markup_percent": "10", "markup": "0.00",
         "tax": "0.00", "total": "0.02", "events": 2},
    ]
    assert build_summaries(
        period=Period(2026, 6), usage_by_client={}, clients=[march_client, june_client],
        defaults=DEFAULTS, now=DURING_MARCH,
    )[1].client_id == "later"


def test_client_update_fills_defaults_and_keeps_created_at() -> None:
    first_at = datetime(2026, 3, 1, 9, tzinfo=UTC)
    update = ClientUpdate(name="Acme", monthly_budget=Decimal("500"))
    first = client_from_update("acme", update, None, DEFAULTS, first_at)

    assert first.model_dump(mode="json") == {
        "client_id": "acme", "name": "Acme", "markup_percent": "25", "monthly_budget": "500.00",
        "alert_thresholds": ["0.5", "0.8", "1"], "notify": [], "created_at": "2026-03-01T09:00:00Z",
        "updated_at": "2026-03-01T09:00:00Z", "budget_basis": "billed",  # a new client's budget is in billed dollars
    }
    later = client_from_update("acme", ClientUpdate(name="Acme 2", markup_percent=Decimal("10")), first, DEFAULTS,
                               first_at + timedelta(hours=1))
    assert (later.created_at, later.updated_at) == (first_at, first_at + timedelta(hours=1))
    assert later.monthly_budget is None  # PUT replaces the whole record


def test_budget_basis_is_billed_for_new_clients_and_kept_when_omitted() -> None:
    at = datetime(2026, 3, 1, 9, tzinfo=UTC)
    existing = client_from_update("old", ClientUpdate(name="Old"), None, DEFAULTS, at).model_copy(
        update={"budget_basis": "cost"})  # as a record from before the column reads
    assert client_from_update("old", ClientUpdate(name="Old 2"), existing, DEFAULTS, at).budget_basis == "cost"
    switched = client_from_update("old", ClientUpdate(name="Old", budget_basis="billed"), existing, DEFAULTS, at)
    assert switched.budget_basis == "billed"
    with pytest.raises(ValueError, match="budget_basis"):
        ClientUpdate.model_validate({"name": "x", "budget_basis": "dollars"})


def test_client_update_version_grows_even_if_the_clock_does_not() -> None:
    at = datetime(2026, 3, 1, 9, tzinfo=UTC)
    first = client_from_update("acme", ClientUpdate(name="Acme"), None, DEFAULTS, at)
    again = client_from_update("acme", ClientUpdate(name="Acme"), first, DEFAULTS, at - timedelta(seconds=5))

    assert again.updated_at == at + timedelta(microseconds=1)


def test_unit_buckets_show_only_on_lines_that_used_them_and_carry_into_documents_and_adjustments() -> None:
    from dataclasses import replace

    from services.invoicing.adjustments import adjustment_lines
    from services.invoicing.documents.build import line_from_invoice_line

    text = usage("anthropic", "claude-opus-4-5", input_tokens=100_000, input_per_mtok="5", price_id="same-row")
    one_hour = replace(text, cache_write_1h_tokens=300_000, cache_write_1h_per_mtok=Decimal(10),
                       cost_usd=text.cost_usd + Decimal(3))  # 300,000 x $10 = $3.00
    assert describe_line(text, Decimal("0.50")) == "anthropic claude-opus-4-5: 100,000 tokens @ $5.00/1M = $0.50"
    assert describe_line(one_hour, Decimal("3.50")) == (
        "anthropic claude-opus-4-5: 100,000 input @ $5.00/1M + 300,000 1h cache write @ $10.00/1M = $3.50")

    line = invoice([one_hour]).lines[0]
    assert (line.cache_write_1h_tokens, line.total_tokens, line.amount) == (300_000, 400_000, Decimal("3.50"))
    assert line.unit_prices.cache_write_1h_per_mtok == Decimal("10.00")
    assert [(b.label, b.tokens) for b in line_from_invoice_line(line, "2025-03").buckets] == [
        ("input", 100_000), ("1h cache write", 300_000)]

    # billed without the 1-hour writes (the month's first invoice), they arrive late: an adjustment for them
    (adjustment,) = adjustment_lines(Period.parse("2025-03"), [one_hour], invoice([text]).lines)
    assert (adjustment.cache_write_1h_tokens, adjustment.input_tokens, adjustment.amount) == (
        300_000, 0, Decimal("3.00"))
    assert adjustment.description.endswith("300,000 tokens @ $10.00/1M = $3.00")


def taxed(lines: list, tax_percent: str | None, *, markup: str = "25") -> Invoice:
    billing = ClientBilling(billing_name="Acme Corporation Ltd", po_number="PO-4471", tax_label="VAT",
                            tax_percent=Decimal(tax_percent) if tax_percent is not None else None)
    return build_invoice(client_id="acme", period=MARCH, usage=lines, client=client(markup), defaults=DEFAULTS,
                         now=DURING_MARCH, billing=billing)


def test_a_tax_rate_adds_a_tax_line_after_the_markup() -> None:
    result = taxed(worked_example(), "20")

    # (8.48 + 2.12) × 20% = 2.12; the total includes it.
    assert (result.base_cost, result.markup, result.tax_percent, result.tax_label, result.tax, result.total) == (
        Decimal("8.48"), Decimal("2.12"), Decimal("20"), "VAT", Decimal("2.12"), Decimal("12.72"))
    assert (result.bill_to.billing_name, result.bill_to.po_number) == ("Acme Corporation Ltd", "PO-4471")
    dumped = result.model_dump(mode="json")
    assert (dumped["tax_percent"], dumped["tax_label"], dumped["tax"], dumped["total"]) == ("20", "VAT", "2.12", "12.72")


def test_tax_rounds_half_up_to_cents_once_on_base_plus_markup() -> None:
    # base 8.20 + markup 2.05 = 10.25; 10% of it is 1.025, exactly half a cent: billed 1.03.
    half = taxed([usage(input_tokens=1_000_000, input_per_mtok="8.20")], "10")
    assert (half.base_cost, half.markup, half.tax, half.total) == (
        Decimal("8.20"), Decimal("2.05"), Decimal("1.03"), Decimal("11.28"))
    # Just below half a cent goes down: 10.60 × 8.875% = 0.94075 → 0.94.
    below = taxed(worked_example(), "8.875")
    assert (below.tax, below.total) == (Decimal("0.94"), Decimal("11.54"))
    # Rounded once on the sum, never per line: 3 lines × 0.5 cent of tax would be 3 cents rounded apiece.
    lines = [usage("openai", m, input_tokens=10_000, input_per_mtok="0.50") for m in ("a", "b", "c")]  # 0.01 each
    tiny = taxed(lines, "50", markup="0")
    assert (tiny.base_cost, tiny.tax, tiny.total) == (Decimal("0.03"), Decimal("0.02"), Decimal("0.05"))  # 0.015 → 0.02


def test_without_a_rate_there_is_no_tax_and_the_total_is_unchanged() -> None:
    for result in (taxed(worked_example(), None), invoice(worked_example())):
        assert (result.tax_percent, result.tax_label, result.tax, result.total) == (
            None, None, Decimal("0.00"), Decimal("10.60"))
    # A rate of 0 is a rate: the line shows, at 0.
    zero = taxed(worked_example(), "0")
    assert (zero.tax_percent, zero.tax, zero.total) == (Decimal("0"), Decimal("0.00"), Decimal("10.60"))


def test_summaries_carry_each_clients_tax() -> None:
    summaries = build_summaries(
        period=MARCH, usage_by_client={"acme": worked_example(), "beta": worked_example()},
        clients=[client(), client(client_id="beta")], defaults=DEFAULTS, now=DURING_MARCH,
        billing={"acme": ClientBilling(tax_percent=Decimal("20"))},
    )
    assert [(s.client_id, s.tax, s.total) for s in summaries] == [
        ("acme", Decimal("2.12"), Decimal("12.72")), ("beta", Decimal("0.00"), Decimal("10.60"))]
