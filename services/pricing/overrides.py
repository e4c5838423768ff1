"""An agency's own (negotiated or private) prices, which beat the public catalog.

An override applies to one exact (provider, model) pair, compared case-insensitively, during
``[effective_from, effective_to)``; an open ``effective_to`` means "until further notice".
Optional bucket prices default when applied: cache read and cache write to the input price
(they are input tokens), reasoning to the output price (it is generated output). The unit
prices (1-hour cache writes, audio, images) have no default: vendors price them well above their
parent (Anthropic: 1-hour writes at 2x input; OpenAI audio at 8-16x text), so an override
without one leaves the unit unpriced and a call using it waits in the quarantine.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated
from uuid import uuid4

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from libs.common.events import UNIT_BUCKETS, AppliedPrice, Name
from libs.common.ids import IDENTIFIER_PATTERN
from libs.common.limits import StorableTime
from libs.common.money import PricePerMTok

__all__ = ["OverrideId", "PriceOverride", "PriceOverrideCreate"]

OverrideId = Annotated[str, StringConstraints(pattern=IDENTIFIER_PATTERN)]


def _new_id() -> str:
    return uuid4().hex


def _now() -> datetime:
    return datetime.now(UTC)


class PriceOverrideCreate(BaseModel):
    """What an admin submits to create an override (the API input)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: Name
    model: Name
    effective_from: StorableTime
    effective_to: StorableTime | None = None
    """Exclusive end; ``None`` means open-ended."""
    input_per_mtok: PricePerMTok
    output_per_mtok: PricePerMTok
    cache_read_per_mtok: PricePerMTok | None = None
    cache_write_per_mtok: PricePerMTok | None = None
    reasoning_per_mtok: PricePerMTok | None = None
    cache_write_1h_per_mtok: PricePerMTok | None = None
    """Prompt tokens written to a 1-hour cache (Anthropic); no default."""
    input_audio_per_mtok: PricePerMTok | None = None
    """Prompt audio tokens; no default."""
    output_audio_per_mtok: PricePerMTok | None = None
    """Generated audio tokens; no default."""
    cache_audio_read_per_mtok: PricePerMTok | None = None
    """Prompt audio tokens read from the cache; no default."""
    input_image_per_mtok: PricePerMTok | None = None
    """Prompt image tokens; no default."""
    cache_image_read_per_mtok: PricePerMTok | None = None
    """Prompt image tokens read from the cache; no default."""
    output_image_per_mtok: PricePerMTok | None = None
    """Generated image tokens; no default."""
    note: Annotated[str, StringConstraints(max_length=2000)] = ""

    @field_validator("effective_to")
    @classmethod
    def _ends_after_start(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        start = info.data.get("effective_from")
        if value is not None and start is not None and value <= start:
            raise ValueError("effective_to must be later than effective_from")
        return value

    @property
    def key(self) -> tuple[str, str]:
        """The case-insensitive (provider, model) this override applies to."""
        return self.provider.lower(), self.model.lower()

    def in_force(self, at: datetime) -> bool:
        """``effective_from <= at < effective_to``."""
        return self.effective_from <= at and (self.effective_to is None or at < self.effective_to)


class PriceOverride(PriceOverrideCreate):
    """A stored override, with its identity and creation time (the tie-breaker)."""

    override_id: OverrideId = Field(default_factory=_new_id)
    created_at: AwareDatetime = Field(default_factory=_now)

    @classmethod
    def from_create(
        cls, data: PriceOverrideCreate, *, override_id: str | None = None, created_at: datetime | None = None
    ) -> PriceOverride:
        """Turn API input into a stored override with a fresh id and creation time."""
        extra: dict[str, object] = {}
        if override_id is not None:
            extra["override_id"] = override_id
        if created_at is not None:
            extra["created_at"] = created_at
        return cls.model_validate({**data.model_dump(), **extra})

    def applied_price(self) -> AppliedPrice:
        """The price row events are billed at, with optional bucket prices resolved."""
        return AppliedPrice(
            source="override",
            price_id=self.override_id,
            effective_from=self.effective_from,
            input_per_mtok=self.input_per_mtok,
            output_per_mtok=self.output_per_mtok,
            cache_read_per_mtok=_or(self.cache_read_per_mtok, self.input_per_mtok),
            cache_write_per_mtok=_or(self.cache_write_per_mtok, self.input_per_mtok),
            reasoning_per_mtok=_or(self.reasoning_per_mtok, self.output_per_mtok),
            **{unit.price: getattr(self, unit.price) for unit in UNIT_BUCKETS},
        )


def _or(value: Decimal | None, default: Decimal) -> Decimal:
    return default if value is None else value
