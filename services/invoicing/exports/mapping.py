"""Where each kind of billed line goes in an accounting system: item, account and tax type.

A per-agency, per-system mapping (Lago keeps the same shape: defaults plus a fallback item).
Each field resolves on its own, most specific first:

1. a rule for this kind, provider and model;
2. a rule for this kind and provider (``model`` omitted);
3. the default for this kind (``usage``, ``adjustment``, ``markup``, ``tax``);
4. the fallback, which always has every field.

So an agency can send one model to its own item code and leave everything else alone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, WithJsonSchema, field_validator

__all__ = [
    "AccountingCodes",
    "AccountingMapping",
    "AccountingMappingOut",
    "AccountingSystem",
    "DateFormat",
    "LineKind",
    "MappingRule",
    "default_mapping",
]

AccountingSystem = Literal["xero", "quickbooks"]
LineKind = Literal["usage", "adjustment", "markup", "tax"]
LINE_KINDS: tuple[LineKind, ...] = ("usage", "adjustment", "markup", "tax")
#: How dates are written in the file; it must match the accounting organisation's region.
DateFormat = Literal["DD/MM/YYYY", "MM/DD/YYYY", "YYYY-MM-DD"]
DATE_FORMATS: dict[str, str] = {"DD/MM/YYYY": "%d/%m/%Y", "MM/DD/YYYY": "%m/%d/%Y", "YYYY-MM-DD": "%Y-%m-%d"}

Code = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]


class AccountingCodes(BaseModel):
    """What one line is booked to; ``None`` means "not set here, look further"."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    item_code: Code | None = None
    """Xero ``InventoryItemCode`` / QuickBooks ``Item(Product/Service)``."""
    account_code: Code | None = None
    """Xero ``AccountCode`` (QuickBooks books through the item's own account)."""
    tax_type: Code | None = None
    """Xero ``TaxType`` (e.g. ``Tax Exempt``, ``No VAT``) / QuickBooks ``Taxable`` (``Y``/``N``)."""

    def over(self, base: AccountingCodes) -> AccountingCodes:
        """These codes, with ``base`` filling what is not set."""
        return AccountingCodes(
            item_code=self.item_code if self.item_code is not None else base.item_code,
            account_code=self.account_code if self.account_code is not None else base.account_code,
            tax_type=self.tax_type if self.tax_type is not None else base.tax_type,
        )


class ResolvedCodes(BaseModel):
    model_config = ConfigDict(frozen=True)

    item_code: str
    account_code: str
    tax_type: str


class MappingRule(AccountingCodes):
    """Codes for one provider (and optionally one model) of usage or adjustment lines."""

    kind: Literal["usage", "adjustment"] = "usage"
    provider: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    model: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None


_COMPLETE_CODES = {
    "type": "object", "additionalProperties": False, "required": ["item_code", "account_code", "tax_type"],
    "properties": {name: {"type": "string", "maxLength": 100} for name in ("item_code", "account_code", "tax_type")},
    "description": "Codes for any field nothing more specific sets: all three, `\"\"` for an empty column.",
}
"""The fallback as documented: every field given, none null (``_complete_fallback`` checks the same)."""


class AccountingMapping(BaseModel):
    """An agency's mapping for one accounting system (``PUT`` replaces it whole)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fallback: Annotated[AccountingCodes, WithJsonSchema(_COMPLETE_CODES, mode="validation")]
    """Used for any field nothing more specific sets; every field must be given."""
    defaults: dict[LineKind, AccountingCodes] = Field(default_factory=dict)
    rules: Annotated[list[MappingRule], Field(max_length=1000)] = Field(default_factory=list)
    date_format: DateFormat = "YYYY-MM-DD"

    # Field validators rather than one model validator, so a 422 names the field at fault.
    @field_validator("fallback")
    @classmethod
    def _complete_fallback(cls, fallback: AccountingCodes) -> AccountingCodes:
        missing = [name for name in ("item_code", "account_code", "tax_type") if getattr(fallback, name) is None]
        if missing:
            raise ValueError(f"fallback must set {', '.join(missing)} (use \"\" for an empty column)")
        return fallback

    @field_validator("rules")
    @classmethod
    def _unique_rules(cls, rules: list[MappingRule]) -> list[MappingRule]:
        seen: dict[tuple[str, str, str | None], int] = {}
        for index, rule in enumerate(rules):
            key = (rule.kind, rule.provider, rule.model)
            if key in seen:
                raise ValueError(f"two rules for {rule.kind} {rule.provider} {rule.model or '(any model)'}"
                                 f" (rules {seen[key]} and {index})")
            seen[key] = index
        return rules

    def resolve(self, kind: LineKind, provider: str = "", model: str = "") -> ResolvedCodes:
        """The codes for one line (see the module docstring for the order)."""
        codes = self.defaults.get(kind, AccountingCodes()).over(self.fallback)
        if kind in ("usage", "adjustment"):
            for rule in self.rules:
                if rule.kind == kind and rule.provider == provider and rule.model is None:
                    codes = rule.over(codes)
            for rule in self.rules:
                if rule.kind == kind and rule.provider == provider and rule.model == model:
                    codes = rule.over(codes)
        return ResolvedCodes(
            item_code=codes.item_code or "", account_code=codes.account_code or "", tax_type=codes.tax_type or ""
        )

    @property
    def strftime(self) -> str:
        return DATE_FORMATS[self.date_format]


class AccountingMappingOut(AccountingMapping):
    """The mapping the exports use now, and where it comes from."""

    system: AccountingSystem
    source: Literal["default", "api"]
    """``default`` until one is PUT (see ``default_mapping``), then ``api``."""
    updated_at: datetime | None = None


#: A mapping as an accounting team would set it for Xero (the PUT body's example in the API docs).
XERO_EXAMPLE: dict[str, object] = {
    "fallback": {"item_code": "", "account_code": "200", "tax_type": "Tax Exempt"},
    "defaults": {"markup": {"account_code": "210"}, "adjustment": {"account_code": "205"},
                 "tax": {"account_code": "820", "tax_type": ""}},
    "rules": [{"kind": "usage", "provider": "openai", "account_code": "201"},
              {"kind": "usage", "provider": "openai", "model": "gpt-4o", "item_code": "GPT-4O"}],
    "date_format": "DD/MM/YYYY",
}
#: The same for QuickBooks Online: products by name, not taxable (TokenTally's tax is a line of its own).
QUICKBOOKS_EXAMPLE: dict[str, object] = {
    "fallback": {"item_code": "AI usage", "account_code": "", "tax_type": "N"},
    "defaults": {"markup": {"item_code": "Service markup"}, "adjustment": {"item_code": "AI usage adjustment"},
                 "tax": {"item_code": "Sales tax"}},
    "rules": [{"kind": "usage", "provider": "anthropic", "item_code": "Claude usage"}],
    "date_format": "MM/DD/YYYY",
}


def default_mapping(system: AccountingSystem) -> AccountingMapping:
    """What an agency gets before it sets its own.

    Xero: revenue to account ``200`` (Sales in Xero's default chart of accounts), tax
    lines to ``820`` (its sales tax / VAT liability account), no inventory item (Xero
    refuses unknown item codes) and an empty tax type (the account's default rate).
    QuickBooks: named products (created on import when missing), not taxable, because
    TokenTally's own tax line already carries the tax.
    """
    if system == "xero":
        return AccountingMapping(
            fallback=AccountingCodes(item_code="", account_code="200", tax_type=""),
            defaults={"tax": AccountingCodes(account_code="820")},
            date_format="DD/MM/YYYY",
        )
    return AccountingMapping(
        fallback=AccountingCodes(item_code="AI usage", account_code="", tax_type="N"),
        defaults={
            "adjustment": AccountingCodes(item_code="AI usage adjustment"),
            "markup": AccountingCodes(item_code="Service markup"),
            "tax": AccountingCodes(item_code="Sales tax"),
        },
        date_format="MM/DD/YYYY",
    )
