"""Dead letters: events no consumer could ever process, with the reason (``/v1/dead-letters``).

Admin keys only (a letter holds a client's event). List them, read one, re-drive it
(optionally with a fix) or discard it; see ``services/pricing/dead_letters.py``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from libs.common.api import CurrentPrincipal, error_responses, require_admin
from libs.common.events import UsageRecorded
from services.pricing.dead_letter_store import DeadLetterFilter, DeadLetterRecord
from services.pricing.dependencies import Admin

router = APIRouter(prefix="/v1/dead-letters", tags=["dead letters"])

LetterId = Annotated[str, Path(pattern=r"^\d{1,9}-\d{1,19}$", description="`<partition>-<offset>`, e.g. `2-17`.")]


class RedriveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fix: dict[str, Any] | None = Field(
        default=None, description="Fields that replace the event's before it is re-driven, e.g. "
                                  '`{"timestamp": "2026-11-03T10:00:00Z"}`; the whole event when the '
                                  "dead-lettered message could not be read.")


class Redriven(BaseModel):
    letter: DeadLetterRecord
    event: UsageRecorded
    """The event as it was published to ``usage.recorded.v1``."""


class DiscardRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Annotated[str, Field(max_length=2000)] = ""


@router.get("")
async def list_dead_letters(
    admin: Admin,
    principal: CurrentPrincipal,
    status: Literal["pending", "redriven", "discarded"] = "pending",
    client_id: str | None = None,
    error_class: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[DeadLetterRecord]:
    """Dead letters, oldest first: the event, its reason, error class, stage and source."""
    require_admin(principal)
    return await admin.letters().list(DeadLetterFilter(status, client_id, error_class, limit))


@router.get("/{letter_id}")
async def get_dead_letter(letter_id: LetterId, admin: Admin, principal: CurrentPrincipal) -> DeadLetterRecord:
    require_admin(principal)
    return await admin.letters().get(letter_id)


@router.post("/{letter_id}/redrive", responses=error_responses(409))
async def redrive_dead_letter(letter_id: LetterId, admin: Admin, principal: CurrentPrincipal,
                              body: RedriveRequest | None = None) -> Redriven:
    """Publish the event again (with ``fix`` applied) to be priced and billed; 409 if not pending."""
    require_admin(principal)
    letter, event = await admin.letters().redrive(letter_id, body.fix if body else None)
    return Redriven(letter=letter, event=event)


@router.post("/{letter_id}/discard", responses=error_responses(409))
async def discard_dead_letter(letter_id: LetterId, admin: Admin, principal: CurrentPrincipal,
                              body: DiscardRequest | None = None) -> DeadLetterRecord:
    """Mark it as not to be billed, with a note; 409 if not pending."""
    require_admin(principal)
    return await admin.letters().discard(letter_id, body.note if body else "")
