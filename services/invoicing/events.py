"""Events for integrations, written to the PostgreSQL outbox in the caller's transaction.

``record`` must run inside the transaction that makes the change (issue, paid, void), so
the event exists exactly when the change was committed. It also creates one delivery per
webhook endpoint subscribed at that moment; the dispatcher (``webhooks.dispatcher``) and
the Kafka publisher (``webhooks.publisher``) send them later, from any instance.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from asyncpg import Connection

__all__ = ["EVENT_TYPES", "document_event", "record"]

EVENT_TYPES = ("invoice.issued", "invoice.paid", "invoice.voided", "credit_note.issued", "credit_note.paid",
               "credit_note.voided")
_VERB = {"issued": "issued", "paid": "paid", "void": "voided"}


def document_event(document: Any, at: datetime) -> tuple[str, dict[str, Any]]:
    """The event type and body for a document now in its current status (``StoredDocument``)."""
    kind = document.kind
    event_type = f"{kind}.{_VERB[document.status]}"
    data = {
        "kind": kind, "number": document.number, "client_id": document.client_id, "period": document.period,
        "status": document.status, "total": str(document.total), "currency": _currency(document.body_json),
        "issued_at": document.issued_at.isoformat(), "due_date": document.due_date.isoformat(),
        "credits_number": document.credits_number, "replaces_number": document.replaces_number,
        "paid_at": document.paid_at.isoformat() if document.paid_at else None,
        "voided_at": document.voided_at.isoformat() if document.voided_at else None,
        "void_reason": document.void_reason,
    }
    return event_type, {"type": event_type, "timestamp": at.isoformat(), "data": data}


def _currency(body_json: str) -> str | None:
    currency = json.loads(body_json).get("currency")
    return str(currency) if currency else None


async def record(connection: Connection, event_type: str, body: dict[str, Any]) -> str:
    """Write the event and its deliveries; returns its id (the ``webhook-id``). Call inside a transaction."""
    if not connection.is_in_transaction():
        raise RuntimeError("events.record must run inside the transaction that makes the change")
    event_id = f"msg_{uuid.uuid4().hex}"
    row_id = await connection.fetchval(
        "INSERT INTO outbox_events (event_id, type, payload) VALUES ($1, $2, $3) RETURNING id",
        event_id, event_type, json.dumps(body, separators=(",", ":"), sort_keys=True))
    await connection.execute(
        "INSERT INTO webhook_deliveries (event_id, endpoint_id)"
        " SELECT $1, id FROM webhook_endpoints"
        " WHERE deleted_at IS NULL AND (cardinality(event_types) = 0 OR $2 = ANY (event_types))",
        row_id, event_type)
    return event_id
