"""Who an invoice is from and to: the agency's profile and a client's billing details.

API shapes (``*Update`` in, the plain class out) shared by the document renderer and the
accounting exports. Every field is optional except the names, so an agency can start
with a name and fill in the rest later; what is missing is simply not printed.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

__all__ = [
    "AgencyProfile",
    "BillingDetails",
    "Logo",
    "PostalAddress",
    "MAX_LOGO_BYTES",
]

Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
#: ISO 3166-1 alpha-2 country code, upper case (what Xero's and QuickBooks' imports take).
CountryCode = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Z]{2}$")]

MAX_LOGO_BYTES = 256 * 1024
_LOGO_TYPES = ("image/png", "image/jpeg", "image/svg+xml")
_DATA_URI = re.compile(r"^data:(?P<type>[a-z+/]+);base64,(?P<data>[A-Za-z0-9+/=\s]+)$")


def _logo_data_uri(value: str) -> str:
    """Only an inline ``data:`` image is accepted: the renderer never fetches a URL."""
    match = _DATA_URI.match(value)
    if match is None:
        raise ValueError("logo must be a data URI: data:image/png;base64,<bytes> (png, jpeg or svg+xml)")
    if match["type"] not in _LOGO_TYPES:
        raise ValueError(f"logo type {match['type']} is not one of {', '.join(_LOGO_TYPES)}")
    try:
        size = len(base64.b64decode(match["data"], validate=False))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("logo is not valid base64") from exc
    if size > MAX_LOGO_BYTES:
        raise ValueError(f"logo is {size} bytes; at most {MAX_LOGO_BYTES} are accepted")
    return value


Logo = Annotated[str, StringConstraints(max_length=MAX_LOGO_BYTES * 4 // 3 + 100), AfterValidator(_logo_data_uri)]


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
    payment_terms_days: Annotated[int, Field(ge=0, le=365)] = 30
    bank_details: LongText = ""
    """Free text printed under "How to pay", e.g. IBAN and BIC, one per line."""
    invoice_prefix: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{0,16}$")] = "TT"
    footer: LongText = ""
    locale: Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(_[A-Z]{2})?$")] = "en_US"
    """How numbers, money and dates are written on documents (Babel locale)."""


class BillingDetails(BaseModel):
    """Where and to whom a client's invoices go; empty parts are left off the document."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    billing_name: Text = ""
    """Defaults to the client's name when empty."""
    address: PostalAddress = Field(default_factory=PostalAddress)
    tax_id: Text = ""
    po_number: Text = ""
    email: Text = ""
    tax_label: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] = "Tax"
    """How the tax line is named on the invoice: "VAT", "Sales tax", "GST"."""
