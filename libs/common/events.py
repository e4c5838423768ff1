"""Versioned event schemas that travel on Kafka (see ``topics.py`` for where).

Token counts are disjoint buckets, so every token is billed at exactly one price and an
invoice line can be checked by hand. The five everyone reports:

- ``input_tokens``: prompt text tokens that were neither read from nor written to a cache;
- ``cache_read_tokens``: prompt tokens served from the provider's cache;
- ``cache_write_tokens``: prompt tokens written to the cache (Anthropic: the 5-minute cache);
- ``output_tokens``: generated text tokens other than reasoning;
- ``reasoning_tokens``: generated reasoning ("thinking") tokens;

and the units vendors price apart from those (``UNIT_BUCKETS``), zero unless reported:

- ``cache_write_1h_tokens``: prompt tokens written to Anthropic's 1-hour cache;
- ``input_audio_tokens``: prompt audio tokens not read from a cache (OpenAI
  ``prompt_tokens_details.audio_tokens``, Realtime ``input_token_details``);
- ``output_audio_tokens``: generated audio tokens (``completion_tokens_details.audio_tokens``);
- ``cache_audio_read_tokens``: prompt audio tokens served from the cache (OpenAI Realtime);
- ``input_image_tokens``: prompt image tokens not read from a cache (OpenAI Realtime);
- ``cache_image_read_tokens``: prompt image tokens served from the cache (OpenAI Realtime);
- ``output_image_tokens``: generated image tokens (Gemini image models).

``cache_read_tokens`` then holds the cached *text* of a call that reports the split.

A unit bucket is billed only at a price its price row states for it (``AppliedPrice``; the
catalog's rows, ``services/pricing/catalog.py``, include Anthropic's published 1-hour rule): a
call with tokens in one its row does not price is quarantined as unpriced, never billed at
a guess (see ``services/pricing/service.py``).

Messages written before the unit buckets existed read them as 0 (every field has a default).

Provider usage objects (OpenAI's ``prompt_tokens`` that include cached tokens, and so
on) are mapped onto these buckets by ``libs.common.usage``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal, NamedTuple

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    StringConstraints,
)

from libs.common.ids import ClientId
from libs.common.inputs import trimmed_text
from libs.common.money import DecimalStr, PricePerMTok

__all__ = ["UNIT_BUCKETS", "ClientId", "UnitBucket"]  # ClientId re-exported: the one lives in libs.common.ids

IDEMPOTENCY_WINDOW_DAYS = 7
"""How long after an event was stored a resend with the same (client_id, event_id) is still
recognised and not counted again. See README, "Nothing lost, nothing counted twice"."""

IDEMPOTENCY_RULE = (
    f"`event_id` is the idempotency key, per client: sending an event again with the same "
    f"`(client_id, event_id)` (a retry after a timeout or a 503) is safe for {IDEMPOTENCY_WINDOW_DAYS} days "
    f"after the first one was stored; the resend is accepted and not counted again. A resend after that "
    f"is counted a second time, and the operator's reconcile tool finds it."
)

EventId = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Name = trimmed_text(min_length=1, max_length=128)
"""A provider or model name: trimmed, not blank (the document's pattern says so)."""
TokenCount = Annotated[NonNegativeInt, Field(le=10**12)]

MAX_TAGS = 32
TagKey = Annotated[str, StringConstraints(min_length=1, max_length=64)]
TagValue = Annotated[str, StringConstraints(max_length=256)]
Tags = Annotated[dict[TagKey, TagValue], Field(max_length=MAX_TAGS)]


class TokenUsage(BaseModel):
    """The disjoint token buckets of one call."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input_tokens: TokenCount = 0
    output_tokens: TokenCount = 0
    cache_read_tokens: TokenCount = 0
    cache_write_tokens: TokenCount = 0
    reasoning_tokens: TokenCount = 0
    cache_write_1h_tokens: TokenCount = 0
    input_audio_tokens: TokenCount = 0
    output_audio_tokens: TokenCount = 0
    cache_audio_read_tokens: TokenCount = 0
    input_image_tokens: TokenCount = 0
    cache_image_read_tokens: TokenCount = 0
    output_image_tokens: TokenCount = 0

    @property
    def total_tokens(self) -> int:
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_read_tokens
            + self.cache_write_tokens
            + self.reasoning_tokens
            + self.cache_write_1h_tokens
            + self.input_audio_tokens
            + self.output_audio_tokens
            + self.cache_audio_read_tokens
            + self.input_image_tokens
            + self.cache_image_read_tokens
            + self.output_image_tokens
        )


class UnitBucket(NamedTuple):
    """A bucket for a unit some vendors price apart (1-hour cache writes, audio, images): its fields everywhere."""

    tokens: str
    """``TokenUsage`` field (and ClickHouse token column)."""
    price: str
    """``AppliedPrice`` field (and price column); ``None`` on a price row that does not price the unit."""
    cost: str
    """``CostBreakdown`` field (and amount column)."""
    catalog_key: str
    """genai-prices' price key for the unit (``ModelPrice`` attribute)."""
    label: str
    """How invoices name it."""


UNIT_BUCKETS: tuple[UnitBucket, ...] = (
    UnitBucket("cache_write_1h_tokens", "cache_write_1h_per_mtok", "cache_write_1h_usd", "cache_write_1h_mtok",
               "1h cache write"),
    UnitBucket("input_audio_tokens", "input_audio_per_mtok", "input_audio_usd", "input_audio_mtok", "input audio"),
    UnitBucket("output_audio_tokens", "output_audio_per_mtok", "output_audio_usd", "output_audio_mtok",
               "output audio"),
    UnitBucket("cache_audio_read_tokens", "cache_audio_read_per_mtok", "cache_audio_read_usd",
               "cache_audio_read_mtok", "audio cache read"),
    UnitBucket("input_image_tokens", "input_image_per_mtok", "input_image_usd", "input_image_mtok", "input image"),
    UnitBucket("cache_image_read_tokens", "cache_image_read_per_mtok", "cache_image_read_usd",
               "cache_image_read_mtok", "image cache read"),
    UnitBucket("output_image_tokens", "output_image_per_mtok", "output_image_usd", "output_image_mtok",
               "output image"),
)
"""In column order; after the first five everywhere (wire, tables; CSV before the amounts)."""


class UsageRecorded(TokenUsage):
    """One LLM call attributed to a client, as accepted by ingest (``usage.recorded.v1``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: EventId
    client_id: ClientId
    provider: Name
    model: Name
    timestamp: AwareDatetime
    received_at: AwareDatetime
    project: Annotated[str, StringConstraints(max_length=128)] | None = None
    tags: Tags = Field(default_factory=dict)


PriceSource = Literal["catalog", "override"]


class AppliedPrice(BaseModel):
    """The price row an event was billed at, so any invoice line traces back to it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: PriceSource
    price_id: str
    """Override id, or ``provider/model_ref`` of the catalog entry."""
    effective_from: AwareDatetime | None
    input_per_mtok: PricePerMTok
    output_per_mtok: PricePerMTok
    cache_read_per_mtok: PricePerMTok
    cache_write_per_mtok: PricePerMTok
    reasoning_per_mtok: PricePerMTok
    tier: str = ""
    """Which tier of a tiered price applied (e.g. ``input>200000``); empty when untiered."""
    cache_write_1h_per_mtok: PricePerMTok | None = None
    input_audio_per_mtok: PricePerMTok | None = None
    output_audio_per_mtok: PricePerMTok | None = None
    cache_audio_read_per_mtok: PricePerMTok | None = None
    input_image_per_mtok: PricePerMTok | None = None
    cache_image_read_per_mtok: PricePerMTok | None = None
    output_image_per_mtok: PricePerMTok | None = None
    """Unit prices (``UNIT_BUCKETS``): ``None`` when the row does not price the unit; an event
    with tokens in such a bucket is not priced at this row (it waits in the quarantine)."""

    def unpriced_units(self, usage: TokenUsage) -> list[UnitBucket]:
        """The unit buckets ``usage`` has tokens in and this row has no price for."""
        return [
            unit for unit in UNIT_BUCKETS
            if getattr(usage, unit.tokens) and getattr(self, unit.price) is None
        ]


class CostBreakdown(BaseModel):
    """Exact (unrounded) cost per bucket, in USD."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input_usd: DecimalStr
    output_usd: DecimalStr
    cache_read_usd: DecimalStr
    cache_write_usd: DecimalStr
    reasoning_usd: DecimalStr
    total_usd: DecimalStr
    cache_write_1h_usd: DecimalStr = Decimal(0)
    input_audio_usd: DecimalStr = Decimal(0)
    output_audio_usd: DecimalStr = Decimal(0)
    cache_audio_read_usd: DecimalStr = Decimal(0)
    input_image_usd: DecimalStr = Decimal(0)
    cache_image_read_usd: DecimalStr = Decimal(0)
    output_image_usd: DecimalStr = Decimal(0)


class UsagePriced(UsageRecorded):
    """A recorded event with the price that applied and its exact cost (``usage.priced.v1``)."""

    price: AppliedPrice
    cost: CostBreakdown
    priced_at: datetime


class UsageUnpriced(UsageRecorded):
    """An event no price row covers; quarantined until one does (``usage.unpriced.v1``)."""

    reason: str
    detected_at: datetime


class SpendUpdated(BaseModel):
    """A client's spend for a month changed (``spend.updated.v1``); alerts react to it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    client_id: ClientId
    period: Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}$")]
    updated_at: datetime
