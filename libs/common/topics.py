"""Kafka topic names, versioned as ``domain.event.vN``.

Every service reads the names through :func:`topic` so that a deployment (or a test)
can put its topics in a namespace of its own with ``KAFKA_TOPIC_PREFIX``.
"""

USAGE_RECORDED = "usage.recorded.v1"
"""Raw usage events accepted by ingest: a JSON array of ``UsageRecorded``, keyed by client_id."""
USAGE_PRICED = "usage.priced.v1"
"""Priced events: a JSON array of ``UsagePriced``, keyed by client_id."""
USAGE_UNPRICED = "usage.unpriced.v1"
"""Events whose model has no price at their timestamp: a JSON array of ``UsageUnpriced``."""
SPEND_UPDATED = "spend.updated.v1"
"""Aggregator's note that a client's month total changed: one ``SpendUpdated``, keyed by client_id."""
DEAD_LETTER = "usage.deadletter.v1"
"""Messages no consumer could parse, with the reason; kept for inspection and replay."""

ALL_TOPICS = (USAGE_RECORDED, USAGE_PRICED, USAGE_UNPRICED, SPEND_UPDATED, DEAD_LETTER)


def topic(name: str, prefix: str = "") -> str:
    """The physical topic name for a logical one under an optional namespace prefix."""
    return f"{prefix}{name}"

# Document events from the invoicing outbox (the webhook body, keyed by client_id,
# header ``event-id`` = the webhook-id). Created by invoicing, not by ``ensure_topics``'s default.
INVOICE_ISSUED = "invoice.issued.v1"
INVOICE_PAID = "invoice.paid.v1"
INVOICE_VOIDED = "invoice.voided.v1"
CREDIT_NOTE_ISSUED = "credit_note.issued.v1"
CREDIT_NOTE_PAID = "credit_note.paid.v1"
CREDIT_NOTE_VOIDED = "credit_note.voided.v1"
DOCUMENT_TOPICS = (INVOICE_ISSUED, INVOICE_PAID, INVOICE_VOIDED, CREDIT_NOTE_ISSUED, CREDIT_NOTE_PAID,
                   CREDIT_NOTE_VOIDED)
