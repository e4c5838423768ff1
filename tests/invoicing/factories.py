"""Small builders of usage rows shared by the invoicing tests."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from libs.common.money import token_cost
from libs.common.periods import Period
from libs.common.settings import BillingDefaults
from services.invoicing.documents.build import document_from_invoice
from services.invoicing.documents.model import InvoiceDocument
from services.invoicing.domain import UsageTotals
from services.invoicing.parties import AgencyProfile, BillingDetails, PostalAddress
from services.invoicing.schemas import Invoice
from services.invoicing.service import build_invoice

ZERO = Decimal(0)


def usage(
    provider: str = "openai",
    model: str = "gpt-4o",
    *,
    input_tokens: int = 0,
    output_tokens: int = 0,
    cache_read_tokens: int = 0,
    cache_write_tokens: int = 0,
    reasoning_tokens: int = 0,
    input_per_mtok: str = "0",
    output_per_mtok: str = "0",
    cache_read_per_mtok: str = "0",
    cache_write_per_mtok: str = "0",
    reasoning_per_mtok: str = "0",
    events: int = 1,
    cost_usd: str | None = None,
    price_id: str | None = None,
    price_tier: str = "",
) -> UsageTotals:
    """A line's usage; its cost is computed from tokens × prices unless ``cost_usd`` is given."""
    pairs = [
        (input_tokens, Decimal(input_per_mtok)), (output_tokens, Decimal(output_per_mtok)),
        (cache_read_tokens, Decimal(cache_read_per_mtok)), (cache_write_tokens, Decimal(cache_write_per_mtok)),
        (reasoning_tokens, Decimal(reasoning_per_mtok)),
    ]
    exact = sum((token_cost(tokens, price) for tokens, price in pairs), ZERO)
    return UsageTotals(
        provider=provider,
        model=model,
        price_source="catalog",
        price_id=price_id or f"{provider}/{model}",
        price_tier=price_tier,
        input_per_mtok=Decimal(input_per_mtok),
        output_per_mtok=Decimal(output_per_mtok),
        cache_read_per_mtok=Decimal(cache_read_per_mtok),
        cache_write_per_mtok=Decimal(cache_write_per_mtok),
        reasoning_per_mtok=Decimal(reasoning_per_mtok),
        events=events,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cache_read_tokens=cache_read_tokens,
        cache_write_tokens=cache_write_tokens,
        reasoning_tokens=reasoning_tokens,
        cost_usd=Decimal(cost_usd) if cost_usd is not None else exact,
    )


def worked_example() -> list[UsageTotals]:
    """The invoice from the product brief: $5.25 + $2.67 + $0.56 = $8.48, +25% = $10.60."""
    return [
        usage("google", "gemini-1.5-pro", input_tokens=450_000, input_per_mtok="1.25", events=3),
        usage("openai", "gpt-4o", input_tokens=2_100_000, input_per_mtok="2.50", events=7),
        usage("anthropic", "claude-3-5-sonnet", input_tokens=890_000, input_per_mtok="3.00", events=5),
    ]


def agency_profile(**changes: object) -> AgencyProfile:
    """A filled-in agency, as on the PNG in the issue's closing note."""
    fields: dict[str, object] = dict(
        name="Northwind AI Agency",
        address=PostalAddress(lines=["12 Harbour Street", "Suite 4"], city="Bristol", postal_code="BS1 4DJ", country="GB"),
        tax_id="GB 123 4567 89",
        email="billing@northwind.example",
        bank_details="Bank: Example Bank\nIBAN: GB29 NWBK 6016 1331 9268 19\nBIC: NWBKGB2L",
        footer="Northwind AI Agency Ltd, registered in England and Wales no. 01234567.",
    )
    return AgencyProfile.model_validate({**fields, **changes})


def billing_details(**changes: object) -> BillingDetails:
    fields: dict[str, object] = dict(
        billing_name="Acme Corporation Ltd",
        address=PostalAddress(lines=["1 Market Square"], city="London", postal_code="EC1A 1BB", country="GB"),
        tax_id="GB 987 6543 21",
        po_number="PO-4471",
        email="ap@acme.example",
    )
    return BillingDetails.model_validate({**fields, **changes})


def worked_invoice(usage_rows: list[UsageTotals] | None = None, client_id: str = "acme") -> Invoice:
    """The brief's invoice for November 2026 as the API computes it ($8.48 + $2.12 = $10.60)."""
    return build_invoice(
        client_id=client_id, period=Period(2026, 11), usage=usage_rows if usage_rows is not None else worked_example(),
        client=None, defaults=BillingDefaults(default_markup_percent=Decimal("25"), currency="USD"),
        now=datetime(2026, 12, 2, 9, 0, tzinfo=UTC),
    )


def worked_document(
    *, number: str | None = "TT-2026-000123", tax_percent: Decimal | None = None, invoice: Invoice | None = None,
    **billing_changes: object,
) -> InvoiceDocument:
    """The brief's invoice issued as ``number`` (a draft when ``number`` is None)."""
    issued = number is not None
    return document_from_invoice(
        invoice or worked_invoice(), agency=agency_profile(), billing=billing_details(**billing_changes),
        tax_percent=tax_percent, status="issued" if issued else "draft", number=number,
        issue_date=date(2026, 12, 2) if issued else None, due_date=date(2027, 1, 1) if issued else None,
    )
