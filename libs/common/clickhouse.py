"""ClickHouse client factory and schema set-up."""

from __future__ import annotations

import asyncio
from functools import cache

from clickhouse_connect import get_async_client
from clickhouse_connect.driver.asyncclient import AsyncClient

from libs.common.schema import EVENT_KEYS_BACKFILL, STATEMENTS, UPGRADES
from libs.common.settings import ClickHouseSettings


@cache
def load_driver_modules() -> None:
    """Settle, once and off the event loop, what clickhouse-connect would import on a first insert.

    Its insert path checks whether the rows are a pandas DataFrame or a numpy array, and the
    first check imports the package (pandas: 1.5 s idle, 7-17 s on a loaded 2-core machine,
    +87 MB; numpy: 0.2-1.4 s, +13 MB). Done on the event loop in the middle of a batch or a
    request, that held every task of the process, Kafka heartbeats included: the broker
    dropped pricing from its consumer groups and it priced nothing until it rejoined.

    We never hand the driver DataFrames (pandas is installed only because the ClickHouse
    server package needs it), so the driver is told pandas is absent, the state it is in
    when pandas is not installed; numpy, which its column code uses, is imported here.
    """
    from clickhouse_connect.driver import options

    options.pd = None  # type: ignore[attr-defined]
    options.pd_time_test = None  # type: ignore[attr-defined]
    _ = options.np


async def connect(settings: ClickHouseSettings, *, database: str | None = None) -> AsyncClient:
    """An async client for the configured server and database.

    The driver's lazy imports are done here, in a thread, before the caller's first insert
    (every service connects before its consumers join their groups).
    """
    await asyncio.to_thread(load_driver_modules)
    return await get_async_client(
        host=settings.host,
        port=settings.port,
        username=settings.username,
        password=settings.password,
        secure=settings.secure,
        database=database if database is not None else settings.database,
        compress=False,
        autogenerate_session_id=False,
        tz_mode="aware",
    )


async def ensure_schema(settings: ClickHouseSettings) -> None:
    """Create the database and every table if missing (safe to run from every service)."""
    admin = await connect(settings, database="default")
    try:
        await admin.command(f"CREATE DATABASE IF NOT EXISTS `{settings.database}`")
    finally:
        await admin.close()
    client = await connect(settings)
    try:
        keys_existed = bool(await client.command("EXISTS TABLE event_keys"))
        for statement in STATEMENTS:
            await client.command(statement)
        for statement in UPGRADES:
            await client.command(statement)
        if not keys_existed:
            # Keys written twice (a service starting at the same moment, or the view catching
            # an insert during this) only cost a little space: the lookup asks "is it there".
            await client.command(EVENT_KEYS_BACKFILL)
    finally:
        await client.close()
