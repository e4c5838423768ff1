"""A whole stack with the dashboard, as real processes, and seeded clients with usage this month.

One stack per test module (its own topics and database): pricing, aggregator, invoicing,
alerts, ingest, dashboard.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from deploy.pipeline import Pipeline, pipeline_env, start_pipeline

ADMIN_KEY = "admin-" + uuid.uuid4().hex
INGEST_KEY = "ingest-" + uuid.uuid4().hex
SECRET = "dashboard-secret-" + uuid.uuid4().hex
SERVICES = ("pricing", "aggregator", "invoicing", "alerts", "ingest", "dashboard")


@dataclass
class Stack:
    pipeline: Pipeline
    period: str
    previous: str
    clients: dict[str, dict[str, Any]]

    @property
    def dashboard(self) -> str:
        return self.pipeline.services["dashboard"].url or ""


def usage(client_id: str, model: str, at: datetime, input_tokens: int, output_tokens: int,
          provider: str = "openai") -> dict[str, Any]:
    return {"event_id": uuid.uuid4().hex, "client_id": client_id, "provider": provider, "model": model,
            "timestamp": at.isoformat(), "input_tokens": input_tokens, "output_tokens": output_tokens}


def seed(pipeline: Pipeline, now: datetime) -> dict[str, dict[str, Any]]:
    """Three clients with different markups and budgets, usage on two days of this month."""
    suffix = uuid.uuid4().hex[:6]
    clients = {
        f"acme-{suffix}": {"name": "Acme Corp", "markup_percent": "25", "monthly_budget": "40.00"},
        f"globex-{suffix}": {"name": "Globex", "markup_percent": "10", "monthly_budget": "500.00"},
        f"initech-{suffix}": {"name": "Initech", "markup_percent": "30"},
    }
    for client_id, body in clients.items():
        pipeline.put_client(client_id, **body)
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    days = [start + timedelta(hours=1), max(start + timedelta(hours=2), now - timedelta(minutes=5))]
    events = []
    for n, client_id in enumerate(clients):
        for day in days:
            events.append(usage(client_id, "gpt-4o", day, 1_000_000 * (n + 1), 200_000))
            events.append(usage(client_id, "gpt-4o-mini", day, 3_000_000, 500_000 * (n + 1)))
    events.append(usage(list(clients)[0], "claude-3-5-sonnet", days[-1], 890_000, 0, provider="anthropic"))
    last_month = (start - timedelta(days=1)).replace(day=15, hour=12)
    for n, client_id in enumerate(clients):  # the month before, for margins and the invoice status
        events.append(usage(client_id, "gpt-4o", last_month, 4_000_000 * (n + 1), 100_000))
    reply = pipeline.send(events, key=ADMIN_KEY)
    assert reply.status_code == 202 and not reply.json()["rejected"], reply.text
    period, previous = now.strftime("%Y-%m"), last_month.strftime("%Y-%m")
    for client_id in clients:
        expected = sum(1 for e in events if e["client_id"] == client_id and e["timestamp"].startswith(period))
        pipeline.wait_for_events(client_id, period, expected, timeout=90)
        pipeline.wait_for_events(client_id, previous, 1, timeout=90)
    return clients


@pytest.fixture(scope="module")
def stack(
    kafka_bootstrap: str, clickhouse_url: str, postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    keys = [{"key": ADMIN_KEY, "scope": "admin"}, {"key": INGEST_KEY, "scope": "ingest"}]
    env = pipeline_env(kafka_bootstrap, clickhouse_url, keys, namespace=f"dash_{uuid.uuid4().hex[:8]}",
                       postgres_url=postgres_url, DASHBOARD_SECRET_KEY=SECRET)
    pipeline = start_pipeline(env, tmp_path_factory.mktemp("logs"), SERVICES, admin_key=ADMIN_KEY,
                              ingest_key=INGEST_KEY)
    try:
        now = datetime.now(UTC)
        clients = seed(pipeline, now)
        previous = (now.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
        yield Stack(pipeline=pipeline, period=now.strftime("%Y-%m"), previous=previous, clients=clients)
    finally:
        pipeline.close()
