"""Where the tests' Kafka, ClickHouse and PostgreSQL come from (see tests/conftest.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit


def docker_available() -> bool:
    """True when a Docker engine answers (never on this project's own CI machines)."""
    try:
        import docker  # type: ignore[import-untyped]

        docker.from_env(timeout=2).ping()
    except Exception:  # noqa: BLE001 - any failure means "no Docker here"
        return False
    return True


@contextmanager
def kafka_bootstrap_servers(data_dir: Path) -> Iterator[str]:
    if configured := os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield configured
        return
    if docker_available():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer().with_kraft() as container:
            yield container.get_bootstrap_server()
        return
    from deploy.local_kafka import LocalKafka

    broker = LocalKafka(data_dir)
    broker.start()
    try:
        yield broker.bootstrap_servers
    finally:
        broker.stop()


@contextmanager
def clickhouse_server_url(data_dir: Path) -> Iterator[str]:
    if configured := os.environ.get("CLICKHOUSE_URL"):
        parts = urlsplit(configured)
        yield urlunsplit((parts.scheme, parts.netloc, "", "", ""))
        return
    if docker_available():
        from testcontainers.clickhouse import ClickHouseContainer

        with ClickHouseContainer(username="tokentally", password="tokentally") as container:
            host, port = container.get_container_host_ip(), container.get_exposed_port(8123)
            yield f"http://tokentally:tokentally@{host}:{port}"
        return
    from deploy.local_clickhouse import LocalClickHouse

    server = LocalClickHouse(data_dir)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@contextmanager
def postgres_server_url(data_dir: Path) -> Iterator[str]:
    """``postgresql://user@host:port/postgres`` of a server the tests may create databases on."""
    if configured := os.environ.get("DATABASE_URL"):
        yield configured
        return
    if docker_available():
        from testcontainers.postgres import PostgresContainer  # type: ignore[import-untyped]

        with PostgresContainer("postgres:17", driver=None) as container:
            yield container.get_connection_url()
        return
    import shutil
    import tempfile

    from deploy.local_postgres import LocalPostgres

    # Not under pytest's base temp: as root the server runs as another user that must traverse
    # the parents, and every pytest run (ours or a neighbour's) resets /tmp/pytest-of-<user> to 0700.
    own_dir = Path(tempfile.mkdtemp(prefix="tokentally-postgres-"))
    server = LocalPostgres(own_dir / data_dir.name)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()
        shutil.rmtree(own_dir, ignore_errors=True)
