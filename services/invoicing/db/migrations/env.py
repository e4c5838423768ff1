"""Alembic environment: SQL rendering only (``services.invoicing.db.migrate`` runs it with asyncpg)."""

from __future__ import annotations

from alembic import context

context.configure(dialect_name="postgresql", transactional_ddl=False, as_sql=True,
                  output_buffer=context.config.output_buffer)
with context.begin_transaction():
    context.run_migrations()
