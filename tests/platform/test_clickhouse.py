"""The ClickHouse the tests use is real: tables, inserts, Decimal sums over HTTP."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from deploy.local_clickhouse import LocalClickHouse, LocalServerError, free_port
from libs.common.clickhouse import connect
from libs.common.settings import ClickHouseSettings

pytestmark = pytest.mark.integration


async def test_create_insert_and_query_decimals(clickhouse_schema: ClickHouseSettings) -> None:
    client = await connect(clickhouse_schema)
    try:
        await client.command("CREATE TABLE amounts (id UInt32, usd Decimal(38, 18)) ENGINE = MergeTree ORDER BY id")
        await client.insert("amounts", [[1, Decimal("0.000000075")], [2, Decimal("5.25")]], column_names=["id", "usd"])
        result = await client.query("SELECT sum(usd), count() FROM amounts WHERE id >= {min_id:UInt32}",
                                    parameters={"min_id": 1})
        assert result.result_rows == [(Decimal("5.250000075"), 2)]
    finally:
        await client.close()


def test_local_server_keeps_data_across_restart_and_kill(tmp_path: Path) -> None:
    import clickhouse_connect

    server = LocalClickHouse(tmp_path / "ch")
    server.start()
    try:
        sync = clickhouse_connect.get_client(host="127.0.0.1", port=server.port, username="tokentally",
                                             password="tokentally")
        sync.command("CREATE TABLE kept (x UInt64) ENGINE = MergeTree ORDER BY x")
        sync.insert("kept", [[1], [2], [3]], column_names=["x"])
        server.stop()
        server.start()
        assert sync.command("SELECT count() FROM kept") == 3
        sync.insert("kept", [[4]], column_names=["x"])
        server.kill()
        assert not server.is_running
        server.start()
        assert sync.command("SELECT count() FROM kept") == 4
    finally:
        server.stop()


def test_taken_port_and_locked_directory_fail_clearly(tmp_path: Path) -> None:
    server = LocalClickHouse(tmp_path / "ch")
    server.start()
    try:
        with pytest.raises(LocalServerError, match="already in use"):
            LocalClickHouse(tmp_path / "other", port=server.port).start()
        second = LocalClickHouse(tmp_path / "ch", port=free_port())
        second.pid_path = tmp_path / "second.pid"  # a stray launcher that did not see the pid file
        second.log_path = tmp_path / "second.log"
        with pytest.raises(LocalServerError, match="exited"):
            second.start(timeout=30)
    finally:
        server.stop()
