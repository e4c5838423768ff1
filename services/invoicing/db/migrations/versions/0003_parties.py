"""Who invoices are from and to: the agency profile, client billing details and tax rates,
the frozen profile snapshots issued documents point at, accounting mappings.

Revision ID: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    # The profile an admin set (PUT /v1/agency): one row. Without it, the settings' defaults apply.
    op.execute("""
        CREATE TABLE agency_profile (
            id         boolean PRIMARY KEY DEFAULT true CHECK (id),
            profile    text NOT NULL,              -- AgencyProfile as JSON
            updated_at timestamptz NOT NULL
        )""")
    # Content-addressed copies of the profile as it was when a document was issued: written
    # once, never changed, shared by every document issued under the same profile.
    op.execute("""
        CREATE TABLE agency_snapshots (
            id      bigserial PRIMARY KEY,
            digest  text NOT NULL UNIQUE,          -- sha256 of profile
            profile text NOT NULL
        )""")
    # Documents issued before this revision have none: they render with the settings' profile.
    op.execute("ALTER TABLE documents ADD COLUMN agency_snapshot bigint REFERENCES agency_snapshots (id)")
    op.execute("""
        CREATE TABLE client_billing (
            client_id   text PRIMARY KEY,
            details     text NOT NULL,             -- BillingDetails as JSON
            tax_percent numeric(7, 4) CHECK (tax_percent >= 0 AND tax_percent <= 100),  -- null: no tax line
            updated_at  timestamptz NOT NULL
        )""")
    op.execute("""
        CREATE TABLE accounting_mappings (
            system     text PRIMARY KEY CHECK (system IN ('xero', 'quickbooks')),
            mapping    text NOT NULL,              -- AccountingMapping as JSON
            updated_at timestamptz NOT NULL
        )""")
