"""The invoice document: what its PDF and HTML show, and that the same invoice gives the same bytes."""

from __future__ import annotations

import base64
import hashlib
import io
import subprocess
import sys
from decimal import Decimal

import pytest
from pydantic import ValidationError
from pypdf import PdfReader

from libs.common.money import tax_of
from services.invoicing.documents import render_html, render_pdf
from services.invoicing.documents.formatting import Formatter
from services.invoicing.documents.model import DocumentLine, InvoiceDocument, UsageBucket
from services.invoicing.documents.render import pdf_filename
from services.invoicing.parties import AgencyProfile
from tests.invoicing.factories import agency_profile, usage, worked_document, worked_invoice

# A 1×1 PNG, the smallest logo there is.
PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8cfc0f01f0005000201e226058f0000000049454e44ae426082"
)).decode()


def pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def with_adjustment(document: InvoiceDocument, amount: str = "0.30") -> InvoiceDocument:
    """``document`` plus a late October line, with the markup and total recomputed."""
    line = DocumentLine(
        kind="adjustment", provider="openai", model="gpt-4o", service_period="2026-10",
        buckets=[UsageBucket(label="input", tokens=120_000, price_per_mtok=Decimal("2.50"))], amount=Decimal(amount),
    )
    base = document.base_cost + line.amount
    markup = (base * document.markup_percent / 100).quantize(Decimal("0.01"))
    return document.model_copy(update={
        "lines": [*document.lines, line], "base_cost": base, "markup": markup, "total": base + markup + document.tax,
    })


def test_the_briefs_invoice_shows_every_line_and_total() -> None:
    text = pdf_text(render_pdf(worked_document()))

    for expected in (
        "openai gpt-4o", "2,100,000 tokens @ $2.50/1M", "$5.25",
        "anthropic claude-3-5-sonnet", "890,000 tokens @ $3.00/1M", "$2.67",
        "google gemini-1.5-pro", "450,000 tokens @ $1.25/1M", "$0.56",
        "Base AI cost", "$8.48", "Service markup (25%)", "$2.12", "Total due (USD)", "$10.60",
        "TT-2026-000123", "December 2, 2026", "January 1, 2027", "Nov 1 – 30, 2026",
        "Northwind AI Agency", "GB 123 4567 89", "Bristol BS1 4DJ", "United Kingdom",
        "Acme Corporation Ltd", "1 Market Square", "GB 987 6543 21", "PO-4471",
        "IBAN: GB29 NWBK 6016 1331 9268 19", "Page 1 of 1",
    ):
        assert expected in text, expected
    assert "DRAFT" not in text
    assert "Tax ID" in text and "VAT" not in text  # no tax line without a rate


def test_a_draft_says_draft_and_has_no_number() -> None:
    document = worked_document(number=None)
    text = pdf_text(render_pdf(document))

    assert "DRAFT" in text
    assert "Not yet issued" in text
    assert "TT-2026" not in text
    assert "$10.60" in text
    assert pdf_filename(document) == "draft-invoice-acme-2026-11.pdf"


def test_a_document_cannot_be_a_draft_with_a_number_or_issued_without_one() -> None:
    data = worked_document().model_dump()
    with pytest.raises(ValidationError, match="draft has no number"):
        InvoiceDocument.model_validate(data | {"status": "draft"})
    with pytest.raises(ValidationError, match="draft has no number"):
        InvoiceDocument.model_validate(data | {"number": None})


def test_lines_that_do_not_add_up_are_refused() -> None:
    data = worked_document().model_dump()
    with pytest.raises(ValidationError, match="lines sum to 8.48, not the base cost 8.49"):
        InvoiceDocument.model_validate(data | {"base_cost": Decimal("8.49"), "total": Decimal("10.61")})
    with pytest.raises(ValidationError, match="is not the total"):
        InvoiceDocument.model_validate(data | {"total": Decimal("10.61")})


def test_same_document_same_bytes_in_this_process_and_another() -> None:
    document = worked_document()
    first, second = render_pdf(document), render_pdf(document)
    assert first == second

    script = (
        "import hashlib, sys; from tests.invoicing.factories import worked_document;"
        "from services.invoicing.documents import render_pdf;"
        "sys.stdout.write(hashlib.sha256(render_pdf(worked_document())).hexdigest())"
    )
    other = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60)
    assert other.stdout == hashlib.sha256(first).hexdigest()


def test_pdf_dates_come_from_the_document_not_the_clock() -> None:
    info = PdfReader(io.BytesIO(render_pdf(worked_document()))).metadata

    assert info is not None
    assert info["/CreationDate"].startswith("D:20261202090000")
    assert info["/Title"] == "Invoice"
    assert info["/Author"] == "Northwind AI Agency"


def test_tax_comes_after_the_markup_rounded_half_up() -> None:
    assert tax_of(Decimal("0.25"), Decimal("10")) == Decimal("0.03")  # 0.025 → up
    assert tax_of(Decimal("10.60"), Decimal("20")) == Decimal("2.12")
    assert tax_of(Decimal("10.60"), Decimal("8.875")) == Decimal("0.94")  # 0.94075

    document = worked_document(tax_percent=Decimal("20"), tax_label="VAT")
    text = pdf_text(render_pdf(document))

    assert (document.tax, document.total) == (Decimal("2.12"), Decimal("12.72"))
    assert "Subtotal" in text and "VAT (20%)" in text and "$12.72" in text


def test_adjustment_lines_show_their_own_month() -> None:
    document = with_adjustment(worked_document())
    text = pdf_text(render_pdf(document))

    assert "ADJUSTMENTS FOR EARLIER MONTHS" in text  # uppercased by the stylesheet
    assert "Usage adjustment for October 2026" in text
    assert "120,000 tokens @ $2.50/1M" in text
    assert "$8.78" in text and "$2.20" in text and "$10.98" in text


def test_a_line_with_several_prices_lists_each_kind_of_token() -> None:
    invoice = worked_invoice([usage(
        "openai", "o3", input_tokens=1_200, output_tokens=300, reasoning_tokens=5_000,
        input_per_mtok="2", output_per_mtok="8", reasoning_per_mtok="8",
    )])
    text = pdf_text(render_pdf(worked_document(invoice=invoice)))

    assert "1,200 input tokens @ $2.00/1M" in text
    assert "300 output tokens @ $8.00/1M" in text
    assert "5,000 reasoning tokens @ $8.00/1M" in text


def test_a_long_invoice_runs_onto_more_pages_with_its_number_on_each() -> None:
    rows = [usage("openai", f"model-{i:03d}", input_tokens=1_000_000, input_per_mtok="1") for i in range(70)]
    pdf = render_pdf(worked_document(invoice=worked_invoice(rows)))
    reader = PdfReader(io.BytesIO(pdf))

    assert len(reader.pages) >= 2
    last = reader.pages[-1].extract_text()
    assert f"Page {len(reader.pages)} of {len(reader.pages)}" in last
    assert "Invoice TT-2026-000123" in last and "$87.50" in last  # 70 × $1.00 + 25%


def test_logo_is_embedded_and_only_inline_images_are_accepted() -> None:
    document = worked_document().model_copy(update={"agency": agency_profile(logo=f"data:image/png;base64,{PNG}")})
    page = PdfReader(io.BytesIO(render_pdf(document))).pages[0]
    assert len(page.images) == 1

    with pytest.raises(ValidationError, match="data URI"):
        AgencyProfile(name="x", logo="https://example.com/logo.png")
    with pytest.raises(ValidationError, match="image/gif"):
        AgencyProfile(name="x", logo=f"data:image/gif;base64,{PNG}")


def test_html_is_escaped_and_serves_as_a_browser_view() -> None:
    html = render_html(worked_document(billing_name="<script>alert(1)</script> & Co"))

    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in html
    assert "@media screen" in html and "$10.60" in html
    # The running page footer is a CSS string: quotes and tags in a name cannot escape it.
    draft = render_html(worked_document(number=None, billing_name='A"}</style><b>x'))
    assert "</style><b>" not in draft


def test_credit_note_names_the_invoice_it_credits() -> None:
    document = worked_document(number="CN-2026-000007").model_copy(
        update={"kind": "credit_note", "credits_number": "TT-2026-000123"})
    text = pdf_text(render_pdf(document))

    assert "Credit note" in text and "CN-2026-000007" in text
    assert "Credits invoice" in text and "TT-2026-000123" in text
    assert "Total credited (USD)" in text
    assert "Due date" not in text


def test_money_follows_the_currency_and_locale() -> None:
    usd = Formatter("USD", "en_US")
    assert [usd.money(Decimal(v)) for v in ("5.25", "5.5", "-0.30", "1234.5")] == ["$5.25", "$5.50", "-$0.30", "$1,234.50"]
    assert [usd.price(Decimal(v)) for v in ("2.500000000000", "0.075", "15")] == ["$2.50", "$0.075", "$15.00"]
    assert usd.money(Decimal("0.005")) == "$0.005"  # never rounded (banker's or otherwise) while formatting
    assert usd.percent(Decimal("12.5000")) == "12.5"

    eur = Formatter("EUR", "de_DE")
    assert eur.money(Decimal("1234.5")) == "1.234,50\xa0€"
