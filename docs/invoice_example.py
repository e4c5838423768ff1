"""Regenerate the pictures of the invoice PDF: ``uv run python docs/invoice_example.py``.

Renders the product brief's worked invoice (November 2026: $8.48 + 25% markup = $10.60) as the
API serves an issued one: built by ``service.build_invoice`` with the client's billing details,
frozen as issuing freezes it, then drawn by ``documents.render_pdf`` from the stored JSON and
agency profile (``exports.issued.document_of``). Page 1 of each PDF goes to a PNG with
Debian's ``pdftoppm`` (poppler-utils) at 80 dpi:

- ``docs/invoice-example.png``: issued, agency profile, billing details, 20% VAT ($12.72);
- ``docs/invoice-example-no-tax.png``: the same client without a tax rate ($10.60), with a late
  October line billed as an adjustment on the November invoice;
- ``docs/credit-note-example.png``: a credit note for that invoice (a line corrected down).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from libs.common.money import markup_of, tax_of  # noqa: E402
from libs.common.periods import Period  # noqa: E402
from libs.common.settings import BillingDefaults  # noqa: E402
from services.invoicing.adjustments import adjustment_lines  # noqa: E402
from services.invoicing.documents import render_pdf  # noqa: E402
from services.invoicing.exports.issued import document_of  # noqa: E402
from services.invoicing.ledger import StoredDocument  # noqa: E402
from services.invoicing.parties import AgencyProfile, ClientBilling, PostalAddress  # noqa: E402
from services.invoicing.schemas import Invoice  # noqa: E402
from services.invoicing.service import build_invoice  # noqa: E402
from tests.invoicing.factories import usage, worked_example  # noqa: E402

NOVEMBER = Period(2026, 11)
ISSUED = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
DEFAULTS = BillingDefaults(default_markup_percent=Decimal("25"), currency="USD")

AGENCY = AgencyProfile(
    name="Northwind AI Agency",
    address=PostalAddress(lines=["12 Harbour Street", "Suite 4"], city="Bristol", postal_code="BS1 4DJ", country="GB"),
    tax_id="GB 123 4567 89",
    email="billing@northwind.example",
    payment_terms_days=30,
    bank_details="Bank: Example Bank\nIBAN: GB29 NWBK 6016 1331 9268 19\nBIC: NWBKGB2L",
    invoice_prefix="TT",
    footer="Northwind AI Agency Ltd, registered in England and Wales no. 01234567.",
)


def billing(tax_percent: str | None) -> ClientBilling:
    return ClientBilling(
        billing_name="Acme Corporation Ltd",
        address=PostalAddress(lines=["1 Market Square"], city="London", postal_code="EC1A 1BB", country="GB"),
        tax_id="GB 987 6543 21", po_number="PO-4471", email="ap@acme.example", tax_label="VAT",
        tax_percent=Decimal(tax_percent) if tax_percent is not None else None,
    )


def stored(invoice: Invoice, number: str, kind: str = "invoice", credits: str | None = None) -> StoredDocument:
    """``invoice`` frozen as issuing stores it (see ``issuing.InvoiceDesk``)."""
    due = ISSUED.date() + timedelta(days=AGENCY.payment_terms_days)
    frozen = invoice.model_copy(update={
        "kind": kind, "status": "issued", "number": number, "issued_at": ISSUED, "due_date": due,
        "usage_cutoff": ISSUED, "generated_at": ISSUED, "credits_number": credits})
    return StoredDocument(
        kind=kind, number=number, client_id=invoice.client_id, period=invoice.period, status="issued",
        issued_at=ISSUED, due_date=due, usage_cutoff=ISSUED, total=frozen.total, credits_number=credits,
        replaces_number=None, body_json=frozen.model_dump_json(), body_csv="", paid_at=None, voided_at=None,
        void_reason=None, agency_snapshot=1)


def documents() -> dict[str, StoredDocument]:
    taxed = build_invoice(client_id="acme", period=NOVEMBER, usage=worked_example(), client=None,
                          defaults=DEFAULTS, now=ISSUED, billing=billing("20"))
    late = adjustment_lines(Period(2026, 10), [usage("openai", "gpt-4o", input_tokens=120_000, input_per_mtok="2.50")],
                            [])
    untaxed = build_invoice(client_id="acme", period=NOVEMBER, usage=worked_example(), client=None,
                            defaults=DEFAULTS, now=ISSUED, billing=billing(None), adjustments=late)
    # November's gemini line turns out to be another client's: credited at the invoice's markup and tax.
    original = stored(taxed, "TT-2026-000123")
    lines = adjustment_lines(NOVEMBER, [u for u in worked_example() if u.model != "gemini-1.5-pro"], taxed.lines)
    base = sum((line.amount for line in lines), Decimal("0.00"))
    markup = markup_of(base, taxed.markup_percent)
    tax = tax_of(base + markup, Decimal("20"))
    note = taxed.model_copy(update={"lines": lines, "base_cost": base, "markup": markup, "tax": tax,
                                    "total": base + markup + tax})
    return {
        "invoice-example": original,
        "invoice-example-no-tax": stored(untaxed, "TT-2026-000124"),
        "credit-note-example": stored(note, "CN-2026-000007", kind="credit_note", credits=original.number),
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for name, document in documents().items():
            pdf = Path(tmp) / f"{name}.pdf"
            pdf.write_bytes(render_pdf(document_of(document, AGENCY)))
            subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", str(pdf),
                            str(ROOT / "docs" / name)], check=True)
            print(f"docs/{name}.png")


if __name__ == "__main__":
    main()
