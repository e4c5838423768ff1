"""ClickHouse client factory and schema set-up."""

from __future__ import annotations

from clickhouse_connect import get_async_client
from clickhouse_connect.driver.asyncclient import AsyncClient

from libs.common.schema import EVENT_KEYS_BACKFILL, STATEMENTS, UPGRADES
from libs.common.settings import ClickHouseSettings


async def connect(settings: ClickHouseSettings, *, database: str | None = None) -> AsyncClient:
    """An async client for the configured server and database."""
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
