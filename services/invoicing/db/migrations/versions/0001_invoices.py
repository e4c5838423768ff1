"""Issued invoices and credit notes, their gapless number series, per-client invoicing options.

Revision ID: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.execute("""
        CREATE TABLE number_series (
            series      text PRIMARY KEY,          -- 'invoice' or 'credit_note'
            next_number bigint NOT NULL CHECK (next_number >= 1)
        )""")
    op.execute("""
        CREATE TABLE documents (
            id             bigserial PRIMARY KEY,
            kind           text NOT NULL CHECK (kind IN ('invoice', 'credit_note')),
            series         text NOT NULL,
            sequence       bigint NOT NULL,
            number         text NOT NULL UNIQUE,
            client_id      text NOT NULL,
            period         text NOT NULL,          -- YYYY-MM billed (credit note: the month it credits)
            status         text NOT NULL CHECK (status IN ('issued', 'paid', 'void')),
            issued_at      timestamptz NOT NULL,
            due_date       date NOT NULL,
            usage_cutoff   timestamptz NOT NULL,
            total          numeric(20, 2) NOT NULL,
            credits_number text REFERENCES documents (number),
            replaces_number text REFERENCES documents (number),
            body_json      text NOT NULL,          -- the frozen invoice, exactly as served
            body_csv       text NOT NULL,
            paid_at        timestamptz,
            voided_at      timestamptz,
            void_reason    text,
            UNIQUE (series, sequence),
            CHECK ((status = 'void') = (void_reason IS NOT NULL))
        )""")
    # At most one live (not void) invoice per client and month: issuing twice, even from
    # two instances at once, can only ever insert one.
    op.execute("""
        CREATE UNIQUE INDEX one_live_invoice ON documents (client_id, period)
        WHERE kind = 'invoice' AND status <> 'void'""")
    op.execute("CREATE INDEX documents_period ON documents (period, status)")
    op.execute("CREATE INDEX documents_client ON documents (client_id, period)")
    op.execute("""
        CREATE TABLE client_invoicing (
            client_id   text PRIMARY KEY,
            auto_issue  boolean NOT NULL DEFAULT true,
            grace_hours integer CHECK (grace_hours >= 0),
            updated_at  timestamptz NOT NULL
        )""")
