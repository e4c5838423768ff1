"""The whole pipeline as real processes: ingest → Kafka → pricing → aggregator → ClickHouse → invoicing.

One pipeline per test module, in its own topic namespace and ClickHouse database; tests
use their own client ids so they do not see each other's usage.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deploy.pipeline import Pipeline, wait_until
from deploy.pipeline import pipeline_env as shared_pipeline_env
from deploy.pipeline import start_pipeline as start_shared_pipeline

__all__ = ["ACME_KEY", "ADMIN_KEY", "INGEST_KEY", "Pipeline", "event", "new_client_id", "wait_until"]

ADMIN_KEY = "admin-" + uuid.uuid4().hex
INGEST_KEY = "ingest-" + uuid.uuid4().hex
ACME_KEY = "client-acme-" + uuid.uuid4().hex


_POSTGRES: list[str] = []


@pytest.fixture(scope="session", autouse=True)
def _postgres_for_pipelines(postgres_url: str) -> None:
    """Every pipeline's invoicing keeps its issued invoices in the session's PostgreSQL."""
    _POSTGRES[:] = [postgres_url]


def pipeline_env(kafka_bootstrap: str, clickhouse_url: str, **extra: str) -> dict[str, str]:
    keys = [
        {"key": ADMIN_KEY, "scope": "admin"},
        {"key": INGEST_KEY, "scope": "ingest"},
        {"key": ACME_KEY, "scope": "client:acme"},
    ]
    # The scenarios bill fixed months of 2026, more than 35 days ago: let the ingest key send
    # them, as an agency that widened INGEST_MAX_AGE_DAYS would. Publishing a 10 MB batch on a
    # loaded 2-core machine can take longer than the default 10 s before ingest answers 503.
    settings = {"INGEST_MAX_AGE_DAYS": "3650", "INGEST_PUBLISH_TIMEOUT_SECONDS": "60",
                "KAFKA_REQUEST_TIMEOUT_MS": "60000", **extra}
    return shared_pipeline_env(kafka_bootstrap, clickhouse_url, keys, namespace=f"e2e_{uuid.uuid4().hex[:8]}",
                               postgres_url=_POSTGRES[0], **settings)


def start_pipeline(env: dict[str, str], log_dir: Path, names: tuple[str, ...],
                   modules: dict[str, str] | None = None, replicas: dict[str, int] | None = None) -> Pipeline:
    return start_shared_pipeline(env, log_dir, names, admin_key=ADMIN_KEY, ingest_key=INGEST_KEY, modules=modules,
                                 replicas=replicas)


@pytest.fixture(scope="module")
def pipeline(kafka_bootstrap: str, clickhouse_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    env = pipeline_env(kafka_bootstrap, clickhouse_url)
    running = start_pipeline(env, tmp_path_factory.mktemp("logs"), ("pricing", "aggregator", "invoicing", "ingest"))
    try:
        yield running
    finally:
        running.close()


def event(client_id: str, event_id: str | None = None, **fields: Any) -> dict[str, Any]:
    """A valid usage event with sensible defaults."""
    return {
        "event_id": event_id or uuid.uuid4().hex,
        "client_id": client_id,
        "provider": "openai",
        "model": "gpt-4o",
        "timestamp": "2026-10-03T10:00:00Z",
        **fields,
    }


def new_client_id(prefix: str = "c") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
