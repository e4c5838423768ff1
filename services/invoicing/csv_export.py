"""An invoice as CSV, for spreadsheets and accounting imports.

The first column says what a row is: ``line`` rows carry the invoice lines, then one
row each for ``base_cost``, ``markup``, ``tax`` (only when the invoice has a tax rate) and
``total`` with only their amount filled.
Text that came from callers (model names, price ids) is neutralised when a spreadsheet
would read it as a formula.
"""

from __future__ import annotations

import csv
import io

from libs.common.events import UNIT_BUCKETS
from services.invoicing.amounts import plain
from services.invoicing.schemas import Invoice, InvoiceLine

__all__ = ["HEADER", "invoice_csv", "invoice_filename"]

HEADER = (
    "type", "provider", "model", "description", "events",
    "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens", "total_tokens",
    "input_per_mtok", "output_per_mtok", "cache_read_per_mtok", "cache_write_per_mtok", "reasoning_per_mtok",
    "price_source", "price_id", "price_tier",
    # the unit buckets, after the columns existing imports know by position, before the amounts,
    # which stay last
    *(unit.tokens for unit in UNIT_BUCKETS),
    *(unit.price for unit in UNIT_BUCKETS),
    "amount_exact", "amount",
)

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _text(value: str) -> str:
    """Prefix a quote where a spreadsheet would otherwise evaluate the cell (CSV injection)."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def _line_row(line: InvoiceLine) -> list[str]:
    prices = line.unit_prices
    return [
        "line", _text(line.provider), _text(line.model), _text(line.description), str(line.events),
        str(line.input_tokens), str(line.output_tokens), str(line.cache_read_tokens),
        str(line.cache_write_tokens), str(line.reasoning_tokens), str(line.total_tokens),
        plain(prices.input_per_mtok), plain(prices.output_per_mtok), plain(prices.cache_read_per_mtok),
        plain(prices.cache_write_per_mtok), plain(prices.reasoning_per_mtok),
        _text(line.price.source), _text(line.price.price_id), _text(line.price.tier),
        *(str(getattr(line, unit.tokens)) for unit in UNIT_BUCKETS),
        *(plain(getattr(prices, unit.price)) for unit in UNIT_BUCKETS),
        plain(line.amount_exact), plain(line.amount),
    ]


def _total_row(kind: str, description: str, amount: str) -> list[str]:
    row = [""] * len(HEADER)
    row[0], row[3], row[-1] = kind, description, amount
    return row


def invoice_csv(invoice: Invoice) -> str:
    """The invoice's lines and totals, one CSV row each, after a header row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(_line_row(line) for line in invoice.lines)
    writer.writerow(_total_row("base_cost", "Base cost", plain(invoice.base_cost)))
    writer.writerow(_total_row("markup", f"Markup ({plain(invoice.markup_percent)}%)", plain(invoice.markup)))
    if invoice.tax_percent is not None:
        label = _text(invoice.tax_label or "Tax")
        writer.writerow(_total_row("tax", f"{label} ({plain(invoice.tax_percent)}%)", plain(invoice.tax)))
    writer.writerow(_total_row("total", f"Total ({invoice.currency})", plain(invoice.total)))
    return out.getvalue()


def invoice_filename(invoice: Invoice) -> str:
    return f"invoice-{invoice.client_id}-{invoice.period}.csv"
