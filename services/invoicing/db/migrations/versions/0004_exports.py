"""Accounting exports: documents found by the month they were issued in.

``GET /v1/exports/{system}/invoices.csv?period=`` reads the documents issued in a month
(their ``InvoiceDate`` falls in it), a range on ``issued_at``. The mappings those files
use are in ``accounting_mappings`` (0003), one row per accounting system.

Revision ID: 0004
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.execute("CREATE INDEX documents_issued_at ON documents (issued_at)")
