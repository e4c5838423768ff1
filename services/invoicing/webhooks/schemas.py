"""Request and response bodies of the webhook endpoints API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


EventType = Literal["invoice.issued", "invoice.paid", "invoice.voided", "credit_note.issued", "credit_note.paid",
                    "credit_note.voided"]



class EndpointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(pattern=r"^https?://[^/?#\[\]\u0000-\u0020\u007f-\u009f]+([/?#][^\u0000-\u0020\u007f-\u009f]*)?$",
                     max_length=2000, description="Where events are POSTed (a host name or IPv4 address).")
    # Spelled out, not \s/\S: Python's and JavaScript's (the document's) ideas of a space differ.
    # No brackets in the host: "http://a[b" is no URL (urllib refuses it), and IPv6 literals are not
    # worth the pattern they would need.
    event_types: list[EventType] = Field(default_factory=list, description="Empty: every event type.")
    description: str = Field(default="", max_length=500)


class EndpointOut(BaseModel):
    id: str
    url: str
    event_types: list[str]
    description: str
    created_at: datetime


class EndpointCreated(EndpointOut):
    secret: str
    """The signing secret (``whsec_…``): shown in this answer only; store it now."""


class DeliveryOut(BaseModel):
    id: int
    event_id: str
    """The ``webhook-id`` header: the same on every attempt of the event, to every endpoint."""
    event_type: str
    endpoint_id: str
    status: Literal["pending", "delivered", "failed", "cancelled"]
    attempts: int
    next_attempt_at: datetime
    delivered_at: datetime | None


class AttemptOut(BaseModel):
    delivery_id: int
    event_id: str
    event_type: str
    endpoint_id: str
    attempt: int
    attempted_at: datetime
    duration_ms: int
    status_code: int | None
    """None: no HTTP answer (connection refused, timeout); see ``error``."""
    error: str | None
    response: str
