"""Issued documents' PDFs, kept as first served: the same bytes forever, per lifecycle status.

An issued document's PDF is rendered from its frozen JSON and agency snapshot, which is
deterministic on one machine with one template; a later template or font change would
still change the bytes. So the first rendering of each (document, status) is stored and
served ever after (``issued``, then ``paid`` or ``void``, each shows its status). Written
once, never updated.

Revision ID: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.execute("""
        CREATE TABLE document_pdfs (
            number     text NOT NULL REFERENCES documents (number),
            status     text NOT NULL,
            pdf        bytea NOT NULL,
            created_at timestamptz NOT NULL,
            PRIMARY KEY (number, status)
        )""")
