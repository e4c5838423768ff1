"""The CSV form of an invoice."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

from libs.common.periods import Period
from libs.common.settings import BillingDefaults
from services.invoicing.csv_export import HEADER, invoice_csv, invoice_filename
from services.invoicing.parties import ClientBilling
from services.invoicing.service import build_invoice
from tests.invoicing.factories import usage, worked_example

DEFAULTS = BillingDefaults(default_markup_percent=Decimal("25"), currency="USD")


def rows(lines: list) -> tuple[list[dict[str, str]], str]:
    invoice = build_invoice(
        client_id="acme", period=Period(2026, 3), usage=lines, client=None, defaults=DEFAULTS,
        now=datetime(2026, 4, 2, tzinfo=UTC),
    )
    return list(csv.DictReader(io.StringIO(invoice_csv(invoice)))), invoice_filename(invoice)


def test_worked_example_as_csv() -> None:
    parsed, filename = rows(worked_example())

    assert filename == "invoice-acme-2026-03.csv"
    assert list(parsed[0]) == list(HEADER)
    assert [(r["type"], r["model"], r["amount_exact"], r["amount"]) for r in parsed] == [
        ("line", "gpt-4o", "5.25", "5.25"),
        ("line", "claude-3-5-sonnet", "2.67", "2.67"),
        ("line", "gemini-1.5-pro", "0.5625", "0.56"),
        ("base_cost", "", "", "8.48"),
        ("markup", "", "", "2.12"),
        ("total", "", "", "10.60"),
    ]
    assert parsed[0]["description"] == "openai gpt-4o: 2,100,000 tokens @ $2.50/1M = $5.25"
    assert (parsed[0]["input_tokens"], parsed[0]["input_per_mtok"], parsed[0]["events"]) == ("2100000", "2.50", "7")
    assert parsed[4]["description"] == "Markup (25%)"


def test_formula_like_text_is_neutralised() -> None:
    parsed, _ = rows([usage("=cmd", "@SUM(A1)", cost_usd="1")])

    assert parsed[0]["provider"] == "'=cmd"
    assert parsed[0]["model"] == "'@SUM(A1)"


def test_a_taxed_invoice_has_a_tax_row_before_the_total() -> None:
    invoice = build_invoice(
        client_id="acme", period=Period(2026, 3), usage=worked_example(), client=None, defaults=DEFAULTS,
        now=datetime(2026, 4, 2, tzinfo=UTC), billing=ClientBilling(tax_label="VAT", tax_percent=Decimal("20")),
    )
    parsed = list(csv.DictReader(io.StringIO(invoice_csv(invoice))))
    assert [(r["type"], r["description"], r["amount"]) for r in parsed[3:]] == [
        ("base_cost", "Base cost", "8.48"),
        ("markup", "Markup (25%)", "2.12"),
        ("tax", "VAT (20%)", "2.12"),
        ("total", "Total (USD)", "12.72"),
    ]
