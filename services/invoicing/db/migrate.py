"""Bring the invoicing database to the latest Alembic revision (run at start-up by every instance).

Alembic renders the pending revisions as SQL ("offline" mode, from the revision recorded
in ``alembic_version`` to ``head``) and asyncpg runs that script in one transaction, so
no second (synchronous) driver is needed. Two instances starting at once must not both
run it: the transaction first takes an advisory lock, and the revision is read after
it, so the second instance waits and then finds nothing left to do.
"""

from __future__ import annotations

import io
from pathlib import Path

import asyncpg

__all__ = ["MIGRATIONS", "pending_sql", "upgrade"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_LOCK_KEY = 7_310_009  # any constant shared by every instance


def pending_sql(current: str | None) -> str:
    """The SQL that takes a database from revision ``current`` (None: empty) to head."""
    from alembic import command  # imported here: seconds at start-up on a loaded machine, needed once
    from alembic.config import Config

    buffer = io.StringIO()
    config = Config(output_buffer=buffer)
    config.set_main_option("script_location", str(MIGRATIONS))
    command.upgrade(config, f"{current}:head" if current else "head", sql=True)
    return buffer.getvalue()


async def _current(connection: asyncpg.Connection) -> str | None:
    exists = await connection.fetchval("SELECT to_regclass('alembic_version') IS NOT NULL")
    return await connection.fetchval("SELECT version_num FROM alembic_version") if exists else None


async def _connect_creating(database_url: str) -> asyncpg.Connection:
    """Connect; a database that does not exist yet is created first (as ClickHouse's is by ``ensure_schema``)."""
    try:
        return await asyncpg.connect(database_url)
    except asyncpg.InvalidCatalogNameError:
        base, _, name = database_url.rpartition("/")
        name = name.split("?", 1)[0]
        server = await asyncpg.connect(f"{base}/postgres")
        try:
            await server.execute(f'CREATE DATABASE "{name}"')
        except asyncpg.DuplicateDatabaseError:
            pass  # another instance created it meanwhile
        finally:
            await server.close()
        return await asyncpg.connect(database_url)


async def upgrade(database_url: str) -> None:
    connection = await _connect_creating(database_url)
    try:
        async with connection.transaction():
            await connection.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
            current = await _current(connection)
            script = pending_sql(current)
            if "INSERT INTO alembic_version" in script or "UPDATE alembic_version" in script:
                await connection.execute(script)
    finally:
        await connection.close()
