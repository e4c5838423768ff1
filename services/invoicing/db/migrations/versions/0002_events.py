"""Events for integrations: the outbox, webhook endpoints, deliveries and attempts; Idempotency-Key replies.

Revision ID: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    # Written in the transaction that changes a document's state, so an event exists
    # exactly when its change was committed.
    op.execute("""
        CREATE TABLE outbox_events (
            id           bigserial PRIMARY KEY,
            event_id     text NOT NULL UNIQUE,     -- the webhook-id, and the Kafka key
            type         text NOT NULL,            -- invoice.issued, invoice.paid, ...
            payload      text NOT NULL,            -- the JSON body sent, signed as these bytes
            created_at   timestamptz NOT NULL DEFAULT now(),
            published_at timestamptz               -- when it reached its Kafka topic
        )""")
    op.execute("CREATE INDEX outbox_unpublished ON outbox_events (id) WHERE published_at IS NULL")
    op.execute("""
        CREATE TABLE webhook_endpoints (
            id          text PRIMARY KEY,
            url         text NOT NULL,
            secret      text NOT NULL,             -- whsec_..., shown once at creation
            event_types text[] NOT NULL,           -- empty: every type
            description text NOT NULL DEFAULT '',
            created_at  timestamptz NOT NULL DEFAULT now(),
            deleted_at  timestamptz
        )""")
    # One row per event and endpoint subscribed when the event was written.
    op.execute("""
        CREATE TABLE webhook_deliveries (
            id              bigserial PRIMARY KEY,
            event_id        bigint NOT NULL REFERENCES outbox_events (id),
            endpoint_id     text NOT NULL REFERENCES webhook_endpoints (id),
            status          text NOT NULL DEFAULT 'pending'
                            CHECK (status IN ('pending', 'delivered', 'failed', 'cancelled')),
            attempts        integer NOT NULL DEFAULT 0,
            next_attempt_at timestamptz NOT NULL DEFAULT now(),
            delivered_at    timestamptz,
            UNIQUE (event_id, endpoint_id)
        )""")
    op.execute("CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending'")
    op.execute("""
        CREATE TABLE webhook_attempts (
            id           bigserial PRIMARY KEY,
            delivery_id  bigint NOT NULL REFERENCES webhook_deliveries (id),
            attempt      integer NOT NULL,
            attempted_at timestamptz NOT NULL,
            duration_ms  integer NOT NULL,
            status_code  integer,                  -- null: no HTTP answer (refused, timeout)
            error        text,
            response     text NOT NULL DEFAULT ''  -- the first KiB of the answer
        )""")
    op.execute("CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, attempt)")
    op.execute("""
        CREATE TABLE idempotency_keys (
            caller       text NOT NULL,            -- sha256 of the API key used: keys are per caller
            key          text NOT NULL,
            method       text NOT NULL,
            path         text NOT NULL,
            request_hash text NOT NULL,            -- sha256 of method, path, query and body
            status_code  integer,                  -- null while the first request runs
            content_type text,
            body         bytea,
            created_at   timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (caller, key)
        )""")
