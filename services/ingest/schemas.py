"""What the ingest endpoint accepts: one event as a client reports it, and the per-item answer.

Parsing request bodies is in ``bodies.py``, timestamps and their window in ``timestamps.py``,
turning a batch into accepted events and rejections in ``validation.py``.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from libs.common.events import IDEMPOTENCY_RULE, ClientId, EventId, Name, Tags, TokenUsage
from libs.common.inputs import trimmed_text
from libs.common.usage import Count, UsageMappingError, usage_buckets
from services.ingest.timestamps import Timestamp

__all__ = ["MAX_BATCH_ITEMS", "TOKEN_FIELDS", "FieldError", "Rejection", "UsageEventIn"]

MAX_BATCH_ITEMS = 10_000
TOKEN_FIELDS = tuple(TokenUsage.model_fields)

Provider = Annotated[trimmed_text(min_length=1, max_length=128), StringConstraints(to_lower=True)]
Project = Annotated[str, StringConstraints(max_length=128)]


# --- the event --------------------------------------------------------------------------


class UsageEventIn(BaseModel):
    """One LLM call as a client reports it.

    Tokens come either as the disjoint buckets or as the provider's own ``usage`` object
    (mapped by ``libs.common.usage``). After validation the token fields hold the buckets
    either way, and ``usage`` keeps what the client sent.
    """

    model_config = ConfigDict(extra="forbid")

    event_id: EventId = Field(description=IDEMPOTENCY_RULE)
    client_id: ClientId
    provider: Provider
    model: Name
    timestamp: Timestamp | None = None
    """When the call happened; defaults to when ingest received it."""
    input_tokens: Count = 0
    output_tokens: Count = 0
    cache_read_tokens: Count = 0
    cache_write_tokens: Count = 0
    reasoning_tokens: Count = 0
    cache_write_1h_tokens: Count = 0
    """Prompt tokens written to a 1-hour cache (Anthropic), apart from ``cache_write_tokens``."""
    input_audio_tokens: Count = 0
    """Prompt audio tokens, apart from ``input_tokens`` (text)."""
    output_audio_tokens: Count = 0
    """Generated audio tokens, apart from ``output_tokens`` (text)."""
    cache_audio_read_tokens: Count = 0
    """Prompt audio tokens served from the cache, apart from ``cache_read_tokens`` (text)."""
    input_image_tokens: Count = 0
    """Prompt image tokens, apart from ``input_tokens`` (text)."""
    cache_image_read_tokens: Count = 0
    """Prompt image tokens served from the cache, apart from ``cache_read_tokens`` (text)."""
    output_image_tokens: Count = 0
    """Generated image tokens, apart from ``output_tokens`` (text)."""
    usage: dict[str, Any] | None = None
    project: Project | None = None
    tags: Tags = Field(default_factory=dict)

    @model_validator(mode="after")
    def _apply_usage(self) -> UsageEventIn:
        """Fill the buckets from ``usage``; sending both would leave us guessing which is right."""
        if self.usage is None:
            return self
        given = [name for name in TOKEN_FIELDS if name in self.model_fields_set]
        if given:
            raise _event_error(
                "usage", f"give either usage or the token fields, not both (got usage and {', '.join(given)})"
            )
        try:
            tokens = usage_buckets(self.usage, self.provider)
        except UsageMappingError as exc:
            raise PydanticCustomError(
                "usage_mapping",
                "{message}",
                {"message": exc.message, "issues": [(i.field, i.message) for i in exc.issues]},
            ) from None
        self.__dict__.update(tokens)  # not via __setattr__: model_fields_set still tells what was sent
        return self


def _event_error(field: str, message: str) -> PydanticCustomError:
    """An event-level error that still names a field (model validators have no location)."""
    return PydanticCustomError("event_invalid", "{message}", {"message": message, "field": field})


class FieldError(BaseModel):
    """One problem, at its path within the event (``timestamp``, ``usage.prompt_tokens``, ``tags.k``)."""

    model_config = ConfigDict(frozen=True)

    field: str
    message: str


class Rejection(BaseModel):
    """An item of the batch that was not accepted, by its 0-based position in the batch."""

    model_config = ConfigDict(frozen=True)

    index: int
    errors: list[FieldError]
