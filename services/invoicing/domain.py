"""The usage an invoice is built from, as the repository hands it to the service.

One ``UsageTotals`` is one invoice line: the ``usage_totals_monthly`` rows of one client,
month and line key (``libs.common.schema.LINE_KEY``), summed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from libs.common.events import UNIT_BUCKETS

__all__ = ["BUCKETS", "ClientTerms", "LineCosts", "UsageTotals"]

#: The disjoint token buckets: (label in descriptions, token field, price field). Descriptions
#: and documents show only the buckets a line has tokens in, so the unit buckets (1-hour cache
#: writes, audio) appear only on the lines of calls that used them.
BUCKETS: tuple[tuple[str, str, str], ...] = (
    ("input", "input_tokens", "input_per_mtok"),
    ("output", "output_tokens", "output_per_mtok"),
    ("cache read", "cache_read_tokens", "cache_read_per_mtok"),
    ("cache write", "cache_write_tokens", "cache_write_per_mtok"),
    ("reasoning", "reasoning_tokens", "reasoning_per_mtok"),
    *((unit.label, unit.tokens, unit.price) for unit in UNIT_BUCKETS),
)


@dataclass(frozen=True, slots=True)
class UsageTotals:
    """A model's usage at one price row over a month, with its exact (unrounded) cost."""

    provider: str
    model: str
    price_source: str
    price_id: str
    price_tier: str
    input_per_mtok: Decimal
    output_per_mtok: Decimal
    cache_read_per_mtok: Decimal
    cache_write_per_mtok: Decimal
    reasoning_per_mtok: Decimal
    events: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    cost_usd: Decimal
    cache_write_1h_per_mtok: Decimal = Decimal(0)
    input_audio_per_mtok: Decimal = Decimal(0)
    output_audio_per_mtok: Decimal = Decimal(0)
    cache_write_1h_tokens: int = 0
    input_audio_tokens: int = 0
    output_audio_tokens: int = 0
    cache_audio_read_per_mtok: Decimal = Decimal(0)
    input_image_per_mtok: Decimal = Decimal(0)
    cache_image_read_per_mtok: Decimal = Decimal(0)
    cache_audio_read_tokens: int = 0
    input_image_tokens: int = 0
    cache_image_read_tokens: int = 0
    output_image_per_mtok: Decimal = Decimal(0)
    output_image_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return (
            self.input_tokens + self.output_tokens + self.cache_read_tokens
            + self.cache_write_tokens + self.reasoning_tokens
            + self.cache_write_1h_tokens + self.input_audio_tokens + self.output_audio_tokens
            + self.cache_audio_read_tokens + self.input_image_tokens + self.cache_image_read_tokens
            + self.output_image_tokens
        )


@dataclass(frozen=True, slots=True)
class LineCosts:
    """A client's month reduced to what its invoice total needs: events, and each line's exact cost."""

    events: int
    costs: list[Decimal]


@dataclass(frozen=True, slots=True)
class ClientTerms:
    """The part of a client record a month's totals use (markup, budget), as it stood then."""

    client_id: str
    name: str
    markup_percent: Decimal
    monthly_budget: Decimal | None
    budget_basis: str
    created_at: datetime
