"""API shapes: ``ClientUpdate`` in, ``Client`` / ``Invoice`` / ``InvoiceSummary`` out.

Money, prices and percentages are ``Decimal`` and travel as JSON strings. Inputs accept
text (``"12.5"``) or whole numbers (``12``), never a JSON number with a fraction (a float
in most senders), and never more decimals than ClickHouse stores, so nothing is silently
cut when saved (``libs.common.money.decimal_input``).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

import apprise
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    field_validator,
)

from libs.common.inputs import Flag, trimmed_text, whole_number
from libs.common.money import decimal_input
from services.invoicing.amounts import plain
from services.invoicing.parties import BillTo

__all__ = [
    "Client",
    "ClientUpdate",
    "Invoice",
    "InvoiceLine",
    "InvoiceSummary",
    "LinePrice",
    "UnitPrices",
    "DailyUsage",
    "ModelInUse",
    "ClientMonthTotals",
]


MAX_NOTIFY_URLS = 20
MAX_THRESHOLDS = 20
DEFAULT_THRESHOLDS = (Decimal("0.5"), Decimal("0.8"), Decimal("1.0"))


def _fixed_point(value: Decimal) -> Decimal:
    """``1E+2`` → ``100``: a positive exponent would print as exponent notation."""
    exponent = value.as_tuple().exponent
    return value.quantize(Decimal(1)) if isinstance(exponent, int) and exponent > 0 else value


#: Output: a Decimal written as a plain JSON string (unlike ``str()``, never ``1E+2``).
DecimalText = Annotated[Decimal, PlainSerializer(plain, return_type=str, when_used="json")]

# Inputs, bounded by their ClickHouse columns: Decimal(9, 4) and Decimal(38, 2).
MarkupPercent = Annotated[decimal_input(places=4, maximum=1000, example="25"), AfterValidator(_fixed_point)]
Budget = Annotated[decimal_input(places=2, integer_digits=36, example="500.00"), AfterValidator(_fixed_point)]
Threshold = Annotated[decimal_input(places=4, maximum=10, positive=True, example="0.8"), AfterValidator(_fixed_point)]
BudgetBasis = Literal["billed", "cost"]
ClientName = trimmed_text(min_length=1, max_length=200)


def _apprise_accepts(url: str) -> str:
    """Reject now what the alerts service could not notify later (apprise parses, no network)."""
    if not apprise.Apprise().add(url):
        raise ValueError("not a notification URL apprise understands (see the apprise wiki for URL formats)")
    return url


NotifyUrl = Annotated[str, StringConstraints(min_length=1, max_length=2048), AfterValidator(_apprise_accepts)]


class ClientUpdate(BaseModel):
    """The whole client record as an admin sets it (PUT replaces, so omitted fields take defaults)."""

    model_config = ConfigDict(extra="forbid")

    name: ClientName
    markup_percent: MarkupPercent | None = None
    """Omitted or null: the service's default markup (``TOKENTALLY_DEFAULT_MARKUP_PERCENT``)."""
    monthly_budget: Budget | None = None
    alert_thresholds: Annotated[list[Threshold], Field(max_length=MAX_THRESHOLDS,
                                                        json_schema_extra={"uniqueItems": True})] = Field(
        default_factory=lambda: list(DEFAULT_THRESHOLDS)
    )
    """Fractions of ``monthly_budget`` at which to alert (1.0 = the whole budget)."""
    notify: Annotated[list[NotifyUrl], Field(max_length=MAX_NOTIFY_URLS)] = Field(default_factory=list)
    budget_basis: BudgetBasis | None = None
    """What ``monthly_budget`` counts: ``billed`` (cost × (1 + markup), what the client pays) or
    ``cost``. Omitted or null: the client's current basis, ``billed`` for a new client."""

    @field_validator("alert_thresholds")
    @classmethod
    def _sorted_without_duplicates(cls, thresholds: list[Decimal]) -> list[Decimal]:
        seen: set[Decimal] = set()
        for threshold in thresholds:
            if threshold in seen:  # Decimal equality: 0.8 and 0.80 are the same threshold
                raise ValueError(f"threshold {threshold} is given twice")
            seen.add(threshold)
        return sorted(thresholds)


class Client(BaseModel):
    """A client's billing record as stored (the latest version in ``clients``)."""

    client_id: str
    name: str
    markup_percent: DecimalText
    monthly_budget: DecimalText | None
    alert_thresholds: list[DecimalText]
    notify: list[str]
    created_at: datetime
    updated_at: datetime
    budget_basis: BudgetBasis = "cost"
    """What ``monthly_budget`` counts (``billed`` or ``cost``); records from before it existed: ``cost``."""


class UnitPrices(BaseModel):
    """USD per million tokens, per bucket, as the line was billed."""

    input_per_mtok: DecimalText
    output_per_mtok: DecimalText
    cache_read_per_mtok: DecimalText
    cache_write_per_mtok: DecimalText
    reasoning_per_mtok: DecimalText
    cache_write_1h_per_mtok: DecimalText = Decimal("0.00")
    input_audio_per_mtok: DecimalText = Decimal("0.00")
    output_audio_per_mtok: DecimalText = Decimal("0.00")
    cache_audio_read_per_mtok: DecimalText = Decimal("0.00")
    input_image_per_mtok: DecimalText = Decimal("0.00")
    cache_image_read_per_mtok: DecimalText = Decimal("0.00")
    output_image_per_mtok: DecimalText = Decimal("0.00")
    """Unit prices (1-hour cache writes, audio, images): 0 on a line whose price row does not price the unit
    (its calls used none). Invoices issued before they existed read 0."""


class LinePrice(BaseModel):
    """The price row a line was billed at, so the line traces back to it."""

    source: str
    price_id: str
    tier: str


class InvoiceLine(BaseModel):
    provider: str
    model: str
    description: str
    events: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    total_tokens: int
    """Every bucket, the unit buckets included."""
    cache_write_1h_tokens: int = 0
    """Prompt tokens written to a 1-hour cache (Anthropic), billed at ``cache_write_1h_per_mtok``."""
    input_audio_tokens: int = 0
    output_audio_tokens: int = 0
    cache_audio_read_tokens: int = 0
    input_image_tokens: int = 0
    cache_image_read_tokens: int = 0
    output_image_tokens: int = 0
    unit_prices: UnitPrices
    price: LinePrice
    amount_exact: DecimalText
    """The exact sum of the line's per-event costs, never rounded."""
    amount: DecimalText
    """``amount_exact`` rounded half-up to cents: what is billed."""
    kind: Literal["usage", "adjustment"] = "usage"
    """``adjustment``: a change to a month already issued (late usage, a correction), billed now."""
    service_period: str | None = None
    """``YYYY-MM`` the usage happened in, on adjustment lines (usage lines are the invoice's own month)."""


class Invoice(BaseModel):
    client_id: str
    name: str | None
    """None when usage arrived for a client that has no record yet."""
    period: str
    period_start: datetime
    period_end: datetime
    """Exclusive: the first instant of the next month (UTC)."""
    status: Literal["draft", "issued", "paid", "void"]
    """``draft``: computed live, no number; ``issued``: frozen; then ``paid`` or ``void``."""
    currency: str
    lines: list[InvoiceLine]
    base_cost: DecimalText
    markup_percent: DecimalText
    markup: DecimalText
    tax_percent: DecimalText | None = None
    """The client's tax rate (VAT, sales tax) in percent; None: no tax line (``tax`` is 0)."""
    tax_label: str | None = None
    """How the tax line is named ("VAT", "Sales tax"); None without a rate."""
    tax: DecimalText = Decimal("0.00")
    """``(base_cost + markup) × tax_percent / 100``, rounded half-up to cents."""
    total: DecimalText
    """``base_cost + markup + tax``."""
    bill_to: BillTo = Field(default_factory=BillTo)
    """Who the invoice is to (billing name, address, tax id, PO number, email): the client's
    billing details now on a draft, as they were at issue on an issued invoice."""
    generated_at: datetime
    """When the numbers were taken: now for a draft, the usage cutoff for an issued invoice."""
    kind: Literal["invoice", "credit_note"] = "invoice"
    number: str | None = None
    """Given at issue (``TT-2026-000123``); a draft has none."""
    issued_at: datetime | None = None
    due_date: date | None = None
    usage_cutoff: datetime | None = None
    """The usage counted: what ClickHouse held at this instant, after the pipeline caught up to the issue."""
    credits_number: str | None = None
    """On a credit note: the invoice it credits."""
    replaces_number: str | None = None
    """On an invoice issued after a void one for the same month: the void invoice's number."""
    paid_at: datetime | None = None
    voided_at: datetime | None = None
    void_reason: str | None = None


class DocumentSummary(BaseModel):
    """One issued invoice or credit note in a listing (``GET /v1/invoices``)."""

    kind: Literal["invoice", "credit_note"]
    number: str
    client_id: str
    period: str
    status: Literal["issued", "paid", "void"]
    issued_at: datetime
    due_date: date
    total: DecimalText
    credits_number: str | None
    replaces_number: str | None
    void_reason: str | None


class VoidRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: trimmed_text(min_length=3, max_length=500)  # type: ignore[valid-type]
    """Why the invoice is void: kept with it for the auditors."""


class ClientInvoicing(BaseModel):
    """How a client's months are issued (``PUT /v1/clients/{id}/invoicing``)."""

    model_config = ConfigDict(extra="forbid")

    auto_issue: Flag = True
    """False keeps the client's months as drafts until issued by hand."""
    grace_hours: whole_number(ge=0, le=24 * 90) | None = None  # type: ignore[valid-type]
    """Hours after the month ends before it is issued automatically; None: the agency's default."""


class InvoiceSummary(BaseModel):
    """One client's totals for a period, as on its own invoice."""

    client_id: str
    name: str | None
    base_cost: DecimalText
    markup_percent: DecimalText
    markup: DecimalText
    tax: DecimalText = Decimal("0.00")
    total: DecimalText
    """``base_cost + markup + tax``, as on the invoice."""
    events: int


class ModelInUse(BaseModel):
    """One model at one price row, billed in a month across every client (at cost)."""

    provider: str
    model: str
    price_source: str
    price_id: str
    price_tier: str
    input_per_mtok: DecimalText
    output_per_mtok: DecimalText
    clients: int
    events: int
    cost_usd: DecimalText


class DailyUsage(BaseModel):
    """One model's usage on one UTC day: exact cost at cost price, before markup and rounding."""

    day: date
    provider: str
    model: str
    events: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    cost_usd: DecimalText
    cache_write_1h_tokens: int = 0
    input_audio_tokens: int = 0
    output_audio_tokens: int = 0
    cache_audio_read_tokens: int = 0
    input_image_tokens: int = 0
    cache_image_read_tokens: int = 0
    output_image_tokens: int = 0


class ClientMonthTotals(BaseModel):
    """One client's month as the dashboard's overview needs it (``GET /v1/usage/{period}/clients``).

    ``cost``, ``margin`` and ``billed`` are the client's invoice for the month to the cent: the
    issued one's where there is one, else the draft's (adjustment lines for earlier months included).
    """

    client_id: str
    name: str | None
    """None when usage arrived for a client that has no record yet."""
    events: int
    """Events of the month counted so far (the month's own usage, adjustments not included)."""
    cost: DecimalText
    """At cost: the invoice's ``base_cost``."""
    markup_percent: DecimalText
    margin: DecimalText
    """The markup earned: the invoice's ``markup``."""
    billed: DecimalText
    """What the client is billed before any tax: ``cost + margin``."""
    invoice_status: Literal["draft", "issued", "paid"]
    invoice_number: str | None
    last_month_invoice_status: Literal["paid", "issued", "void", "draft", "open", "none"]
    """The month before's invoice: ``paid`` / ``issued`` / ``void`` from the ledger (void only when
    nothing replaced it), else ``draft`` (``open`` while that month runs) when the client's record
    existed then, ``none`` when not."""
    monthly_budget: DecimalText | None
    budget_basis: BudgetBasis
