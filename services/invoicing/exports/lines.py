"""The lines an accounting system books for one document, summing to its total.

One line per invoice line (usage, then adjustments), then the markup, then the tax when
there is one; each has quantity 1 and its billed amount as the unit price, so the
accounting system computes exactly the amounts on the PDF (a token count × a price per
million would round differently there). The description carries the checkable
``tokens @ price = amount`` text.

Credit notes are written with negative amounts (how Xero's invoice import recognises a
credit note), whatever sign the stored document uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from services.invoicing.documents.formatting import Formatter
from services.invoicing.documents.model import DocumentLine, InvoiceDocument
from services.invoicing.documents.view import line_usage
from services.invoicing.exports.mapping import LineKind

__all__ = ["AccountingLine", "accounting_lines", "export_sign"]


@dataclass(frozen=True, slots=True)
class AccountingLine:
    kind: LineKind
    provider: str
    model: str
    description: str
    amount: Decimal
    service_period: str


def export_sign(document: InvoiceDocument) -> int:
    """-1 when amounts must be flipped so a credit note's total is negative in the file."""
    return -1 if document.kind == "credit_note" and document.total > 0 else 1


def _description(line: DocumentLine, fmt: Formatter) -> str:
    text = f"{line.provider} {line.model}: {' + '.join(line_usage(line, fmt))} = {fmt.money(line.amount)}"
    if line.kind == "adjustment":
        return f"Usage adjustment for {line.service_label} — {text}"
    return text


def accounting_lines(document: InvoiceDocument) -> list[AccountingLine]:
    """The document as bookable lines; their amounts sum to ``total`` (sign per ``export_sign``)."""
    fmt = Formatter(document.currency, document.agency.locale)
    sign = export_sign(document)
    lines = [
        AccountingLine(
            kind=line.kind, provider=line.provider, model=line.model, description=_description(line, fmt),
            amount=sign * line.amount, service_period=line.service_period,
        )
        for line in (*document.usage_lines, *document.adjustment_lines)
    ]
    lines.append(AccountingLine(
        kind="markup", provider="", model="",
        description=f"Service markup ({fmt.percent(document.markup_percent)}%) on AI cost {fmt.money(document.base_cost)}",
        amount=sign * document.markup, service_period=document.period,
    ))
    if document.tax_percent is not None:
        lines.append(AccountingLine(
            kind="tax", provider="", model="",
            description=f"{document.billing.tax_label} ({fmt.percent(document.tax_percent)}%)",
            amount=sign * document.tax, service_period=document.period,
        ))
    return lines
