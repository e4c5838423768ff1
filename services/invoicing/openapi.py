"""The invoicing API's own words in its OpenAPI document: accounting tools and generated clients read it."""

from __future__ import annotations

from typing import Any

__all__ = ["DESCRIPTION", "TAGS"]

DESCRIPTION = """\
Clients, their invoices and the usage behind them: what an agency's accounting tool reads.

**Authentication**: `Authorization: Bearer <key>`. An `admin` key reads and changes everything; a
`client:<id>` key reads that one client's record, invoices and usage (403 otherwise).

**Money** is exact: amounts are decimal strings (`"10.60"`), never floats. A line's `amount_exact` is
the sum of its events' `tokens x price per million` per bucket, never rounded; its `amount` is that
rounded half-up to cents, once. The invoice's `base_cost` is the sum of the lines, `total` adds the
client's markup. Every line names the price row it was billed at (`price`) and its `unit_prices`.

**Lifecycle**: a month's invoice is a *draft* while usage can still arrive; *issuing* freezes it
(JSON and CSV bytes stored, a number assigned), after which it can be marked *paid* or *void*; late
usage becomes an adjustment on the next draft. Exports for Xero and QuickBooks
(`/v1/exports/{xero|quickbooks}/invoices.csv?period=YYYY-MM`, and QuickBooks' credit notes apart) are built
from issued invoices and credit notes only, as they were frozen at issue, with the agency's mapping to its own
item codes, account codes and tax types.

**Events**: `invoice.issued`, `invoice.paid`, `invoice.voided`, `credit_note.issued` (and `credit_note.paid`,
`credit_note.voided`) are written to an outbox in the same transaction as the change, then POSTed to the webhook
endpoints registered under `/v1/webhooks/endpoints`, signed per Standard Webhooks (`webhook-id`,
`webhook-timestamp`, `webhook-signature`; verify with the `standardwebhooks` library), retried with backoff; and
published to the Kafka topics `invoice.issued.v1`, ... for internal consumers.

**Retries**: every POST and PUT takes an `Idempotency-Key` header: the same key with the same request returns the first
answer (`Idempotent-Replayed: true`); with a different request, 409.

**Errors** are always `{"error": <code>, "detail": <message or [{"field", "message"}]>}`.
"""

TAGS: list[dict[str, Any]] = [
    {"name": "agency", "description": "The agency's profile printed on every invoice: name, address, tax id, logo, "
                                      "payment terms, bank details, invoice prefix. Frozen into each invoice at issue."},
    {"name": "clients", "description": "The agency's clients: name, markup, issuing options, billing details and "
                                       "tax rate."},
    {"name": "invoices", "description": "Monthly invoices (draft, issued, paid, void) and documents."},
    {"name": "exports", "description": "Accounting exports: a month's issued invoices and credit notes as a Xero or "
                                       "QuickBooks Online import file, and the per-agency mapping of what is billed "
                                       "(usage by provider and model, adjustments, markup, tax) to item codes, "
                                       "account codes and tax types."},
    {"name": "usage", "description": "The priced usage behind the invoices, per client and model."},
    {"name": "webhooks", "description": "Webhook endpoints (signing secret shown once), their deliveries and "
                                        "every attempt."},
    {"name": "health", "description": "Liveness."},
]
