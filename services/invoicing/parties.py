"""Who an invoice is from and to: the agency's profile and a client's billing details.

API shapes (``*Update`` in, the plain class out) shared by the document renderer and the
accounting exports. Every field is optional except the names, so an agency can start
with a name and fill in the rest later; what is missing is simply not printed.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime
from typing import Annotated, Literal

from babel import localedata
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer, StringConstraints, WithJsonSchema

from libs.common.inputs import trimmed_text, whole_number
from libs.common.money import decimal_input

__all__ = [
    "AgencyProfile",
    "AgencyProfileOut",
    "AgencyProfileUpdate",
    "BillTo",
    "BillingDetails",
    "ClientBilling",
    "TaxPercent",
    "Logo",
    "PostalAddress",
    "MAX_LOGO_BYTES",
]

Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Name = trimmed_text(min_length=1, max_length=200)
LongText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
#: ISO 3166-1 alpha-2 country code, upper case (what Xero's and QuickBooks' imports take).
CountryCode = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z]{2}$"), AfterValidator(str.upper)]

_LOCALE_PATTERN = re.compile(r"^[a-z]{2,3}(_[A-Z]{2})?$")
#: Every Babel locale of that shape: the document lists them, so none it allows fails at render time.
LOCALES = tuple(sorted(name for name in localedata.locale_identifiers() if _LOCALE_PATTERN.match(name)))


def _known_locale(value: str) -> str:
    if value not in LOCALES:
        raise ValueError(f"unknown locale {value[:20]!r}; use a Babel locale such as en_US, en_GB, fr_FR or de_DE")
    return value


DocumentLocale = Annotated[str, AfterValidator(_known_locale),
                           WithJsonSchema({"type": "string", "enum": list(LOCALES)}, mode="validation")]

MAX_LOGO_BYTES = 256 * 1024
_LOGO_TYPES = ("image/png", "image/jpeg", "image/svg+xml")
_BASE64 = r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2}==)"
LOGO_PATTERN = rf"^data:image/(?:png|jpeg|svg\+xml);base64,{_BASE64}$"
"""What the OpenAPI document declares for ``logo``: the check below accepts exactly these."""
_DATA_URI = re.compile(r"^data:(?P<type>[a-z+/]+);base64,(?P<data>[A-Za-z0-9+/=\s]+)$")


def _logo_data_uri(value: str) -> str:
    """Only an inline ``data:`` image is accepted: the renderer never fetches a URL."""
    match = _DATA_URI.match(value)
    if match is None:
        raise ValueError("logo must be a data URI: data:image/png;base64,<bytes> (png, jpeg or svg+xml)")
    if match["type"] not in _LOGO_TYPES:
        raise ValueError(f"logo type {match['type']} is not one of {', '.join(_LOGO_TYPES)}")
    if re.fullmatch(LOGO_PATTERN, value) is None:
        raise ValueError("logo is not valid base64 (no spaces or line breaks, padded with '=')")
    try:
        size = len(base64.b64decode(match["data"], validate=False))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("logo is not valid base64") from exc
    if size > MAX_LOGO_BYTES:
        raise ValueError(f"logo is {size} bytes; at most {MAX_LOGO_BYTES} are accepted")
    return value


#: A tax rate in percent (``20`` for 20% VAT), at most 4 decimals; written as a plain JSON string.
TaxPercent = Annotated[decimal_input(places=4, maximum=100, example="20"),
                       PlainSerializer(lambda v: format(v, "f"), return_type=str, when_used="json")]
InvoicePrefix = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{0,16}$")]
PaymentTermsDays = whole_number(ge=0, le=365)

Logo = Annotated[str, StringConstraints(max_length=MAX_LOGO_BYTES * 4 // 3 + 100), AfterValidator(_logo_data_uri),
                 WithJsonSchema({"type": "string", "pattern": LOGO_PATTERN,
                                 "maxLength": MAX_LOGO_BYTES * 4 // 3 + 100}, mode="validation")]


class PostalAddress(BaseModel):
    """An address in the shape accounting imports take (Xero: POAddressLine1-4, POCity, …)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lines: Annotated[list[Text], Field(max_length=4)] = Field(default_factory=list)
    city: Text = ""
    region: Text = ""
    postal_code: Text = ""
    country: CountryCode | None = None

    def printed(self, country_name: str = "") -> list[str]:
        """The address as printed, one line each, empty parts left out: ``Springfield, IL 62704``."""
        if self.region:
            locality = ", ".join(p for p in (self.city, " ".join(p for p in (self.region, self.postal_code) if p)) if p)
        else:
            locality = " ".join(part for part in (self.city, self.postal_code) if part)
        return [line for line in (*self.lines, locality, country_name or self.country or "") if line]


class AgencyProfile(BaseModel):
    """The agency that sends the invoices (one per deployment)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name
    address: PostalAddress = Field(default_factory=PostalAddress)
    tax_id: Text = ""
    """VAT number, EIN, ABN, …: printed as given."""
    email: Text = ""
    logo: Logo | None = None
    payment_terms_days: PaymentTermsDays = 30
    bank_details: LongText = ""
    """Free text printed under "How to pay", e.g. IBAN and BIC, one per line."""
    invoice_prefix: InvoicePrefix = "TT"
    footer: LongText = ""
    locale: DocumentLocale = "en_US"
    """How numbers, money and dates are written on documents (Babel locale)."""


class BillTo(BaseModel):
    """Where and to whom an invoice goes: what an invoice carries (frozen with it at issue)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    billing_name: Text = ""
    """Defaults to the client's name when empty."""
    address: PostalAddress = Field(default_factory=PostalAddress)
    tax_id: Text = ""
    po_number: Text = ""
    email: Text = ""


class BillingDetails(BillTo):
    """Where and to whom a client's invoices go, and what its tax line is called; empty parts are
    left off the document."""

    tax_label: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] = "Tax"
    """How the tax line is named on the invoice: "VAT", "Sales tax", "GST"."""


class AgencyProfileUpdate(AgencyProfile):
    """``PUT /v1/agency``: the whole profile (omitted fields take their defaults), except that an
    omitted ``payment_terms_days`` or ``invoice_prefix`` keeps the deployment's setting
    (``INVOICING_PAYMENT_TERMS_DAYS``, ``INVOICING_INVOICE_PREFIX``)."""

    payment_terms_days: PaymentTermsDays | None = None  # type: ignore[assignment]
    invoice_prefix: InvoicePrefix | None = None  # type: ignore[assignment]


class AgencyProfileOut(AgencyProfile):
    """``GET /v1/agency``: the profile new invoices are issued under."""

    source: Literal["api", "settings"]
    """``settings``: nothing was PUT yet; the name, prefix and terms come from ``INVOICING_AGENCY_NAME``,
    ``INVOICING_INVOICE_PREFIX`` and ``INVOICING_PAYMENT_TERMS_DAYS``."""
    updated_at: datetime | None = None


class ClientBilling(BillingDetails):
    """``PUT /v1/clients/{id}/billing``: billing details plus the client's tax rate."""

    tax_percent: TaxPercent | None = None
    """VAT / sales tax on the invoice after the markup, rounded half-up to cents; null: no tax line."""

    @property
    def details(self) -> BillingDetails:
        return BillingDetails.model_validate(self.model_dump(exclude={"tax_percent"}))

    @property
    def bill_to(self) -> BillTo:
        return BillTo.model_validate(self.model_dump(exclude={"tax_percent", "tax_label"}))
