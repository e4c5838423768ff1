"""An invoice or credit note as a document: everything printed on it, already decided.

The renderer and the accounting exports read only this, so a draft (computed live) and an
issued invoice (frozen at issue) go through the same code. Amounts are the billed ones
(already rounded to cents); nothing here computes money, it only checks that the parts
add up, so a file or a PDF can never show lines that disagree with their total.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from libs.common.periods import Period
from services.invoicing.parties import AgencyProfile, BillingDetails

__all__ = ["DocumentLine", "InvoiceDocument", "UsageBucket"]

DocumentKind = Literal["invoice", "credit_note"]
DocumentStatus = Literal["draft", "issued", "paid", "void"]


class UsageBucket(BaseModel):
    """Tokens of one kind on a line, at one price (USD or the invoice currency per million)."""

    model_config = ConfigDict(frozen=True)

    label: str
    """``input``, ``output``, ``cache read``, ``cache write``, ``reasoning``."""
    tokens: int
    price_per_mtok: Decimal


class DocumentLine(BaseModel):
    """One provider × model × price row; an adjustment carries the earlier month it is for."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["usage", "adjustment"] = "usage"
    provider: str
    model: str
    service_period: str
    """``YYYY-MM``: the month the usage happened in (the invoice's own month for usage lines)."""
    buckets: list[UsageBucket]
    """Only the buckets with tokens; one price for all of them prints as ``N tokens @ $P/1M``."""
    amount: Decimal
    price_note: str = ""
    """Printed small under the line, e.g. the price tier, so two lines of one model are told apart."""

    @property
    def tokens(self) -> int:
        return sum(bucket.tokens for bucket in self.buckets)

    @property
    def service_label(self) -> str:
        return Period.parse(self.service_period).label


class InvoiceDocument(BaseModel):
    """What a PDF, an HTML view or an accounting export of one invoice shows."""

    model_config = ConfigDict(frozen=True)

    kind: DocumentKind = "invoice"
    status: DocumentStatus
    number: str | None
    """None for a draft, which has no number until it is issued."""
    credits_number: str | None = None
    """For a credit note: the number of the invoice it credits."""
    client_id: str
    client_name: str | None
    period: str
    """``YYYY-MM``: the service period the invoice bills."""
    issue_date: date | None
    due_date: date | None
    as_of: datetime
    """When the numbers were taken: the issue time, or for a draft the time it was computed."""
    currency: str
    agency: AgencyProfile
    billing: BillingDetails = Field(default_factory=BillingDetails)
    lines: list[DocumentLine]
    base_cost: Decimal
    markup_percent: Decimal
    markup: Decimal
    tax_percent: Decimal | None = None
    """None: no tax line (the default)."""
    tax: Decimal = Decimal("0.00")
    total: Decimal
    void_reason: str | None = None

    @model_validator(mode="after")
    def _adds_up(self) -> InvoiceDocument:
        lines = sum((line.amount for line in self.lines), Decimal(0))
        if lines != self.base_cost:
            raise ValueError(f"lines sum to {lines}, not the base cost {self.base_cost}")
        if self.base_cost + self.markup + self.tax != self.total:
            raise ValueError(f"{self.base_cost} + {self.markup} + {self.tax} is not the total {self.total}")
        if (self.status == "draft") != (self.number is None):
            raise ValueError("a draft has no number, and anything else has one")
        return self

    @property
    def is_draft(self) -> bool:
        return self.status == "draft"

    @property
    def period_label(self) -> str:
        return Period.parse(self.period).label

    @property
    def bill_to_name(self) -> str:
        return self.billing.billing_name or self.client_name or self.client_id

    @property
    def usage_lines(self) -> list[DocumentLine]:
        return [line for line in self.lines if line.kind == "usage"]

    @property
    def adjustment_lines(self) -> list[DocumentLine]:
        return [line for line in self.lines if line.kind == "adjustment"]
