"""The whole pipeline as real processes: ingest → Kafka → pricing → aggregator → ClickHouse → invoicing.

One pipeline per test module, in its own topic namespace and ClickHouse database; tests
use their own client ids so they do not see each other's usage.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from deploy.local_clickhouse import free_port
from deploy.services import ServiceProcess

T = TypeVar("T")

ADMIN_KEY = "admin-" + uuid.uuid4().hex
INGEST_KEY = "ingest-" + uuid.uuid4().hex
ACME_KEY = "client-acme-" + uuid.uuid4().hex


@dataclass
class Pipeline:
    env: dict[str, str]
    services: dict[str, ServiceProcess] = field(default_factory=dict)
    clients: dict[str, httpx.Client] = field(default_factory=dict)

    def http(self, service: str, key: str | None = ADMIN_KEY) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.services[service].url or "", headers=headers, timeout=30)

    def api(self, service: str) -> httpx.Client:
        """An admin client for a service, reused across calls."""
        if service not in self.clients:
            self.clients[service] = self.http(service)
        return self.clients[service]

    def send(self, events: list[dict[str, Any]] | dict[str, Any], key: str = INGEST_KEY) -> httpx.Response:
        with self.http("ingest", key) as ingest:
            return ingest.post("/v1/events", json=events)

    def add_price(self, provider: str, model: str, per_mtok: str, effective_from: str = "2020-01-01T00:00:00Z",
                  **extra: Any) -> dict[str, Any]:
        body = {"provider": provider, "model": model, "effective_from": effective_from,
                "input_per_mtok": per_mtok, "output_per_mtok": per_mtok, **extra}
        reply = self.api("pricing").post("/v1/prices", json=body)
        assert reply.status_code == 201, reply.text
        return reply.json()

    def put_client(self, client_id: str, **body: Any) -> dict[str, Any]:
        reply = self.api("invoicing").put(f"/v1/clients/{client_id}", json={"name": client_id.title(), **body})
        assert reply.status_code == 200, reply.text
        return reply.json()

    def invoice(self, client_id: str, period: str) -> dict[str, Any]:
        reply = self.api("invoicing").get(f"/v1/clients/{client_id}/invoices/{period}")
        assert reply.status_code == 200, reply.text
        return reply.json()

    def wait_for_events(self, client_id: str, period: str, count: int, timeout: float = 60) -> dict[str, Any]:
        """Poll the invoice until it counts ``count`` events (then a little longer, to catch extras)."""
        wait_until(lambda: _events_reached(self.invoice_if_any(client_id, period), count), timeout,
                   f"{count} events for {client_id} {period}")
        time.sleep(0.5)
        return self.invoice(client_id, period)

    def invoice_if_any(self, client_id: str, period: str) -> dict[str, Any] | None:
        """The invoice, or None while the client has neither a record nor usage (404)."""
        reply = self.api("invoicing").get(f"/v1/clients/{client_id}/invoices/{period}")
        if reply.status_code == 404:
            return None
        assert reply.status_code == 200, reply.text
        return reply.json()

    def close(self) -> None:
        for client in self.clients.values():
            client.close()
        for service in reversed(list(self.services.values())):
            service.stop()


def _events_reached(invoice: dict[str, Any] | None, count: int) -> dict[str, Any] | None:
    if invoice is None:
        return None
    return invoice if sum(line["events"] for line in invoice["lines"]) >= count else None


def wait_until(probe: Callable[[], T | None], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = probe()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def pipeline_env(kafka_bootstrap: str, clickhouse_url: str) -> dict[str, str]:
    namespace = f"e2e_{uuid.uuid4().hex[:8]}"
    keys = [
        {"key": ADMIN_KEY, "scope": "admin"},
        {"key": INGEST_KEY, "scope": "ingest"},
        {"key": ACME_KEY, "scope": "client:acme"},
    ]
    return {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "KAFKA_TOPIC_PREFIX": f"{namespace}.",
        "CLICKHOUSE_URL": f"{clickhouse_url}/{namespace}",
        "TOKENTALLY_API_KEYS": json.dumps(keys),
        "INGEST_PORT": str(free_port()),
        "PRICING_PORT": str(free_port()),
        "INVOICING_PORT": str(free_port()),
        "ALERTS_PORT": str(free_port()),
        "PRICING_REFRESH_SECONDS": "1",
        "LOG_LEVEL": "INFO",
    }


def start_pipeline(env: dict[str, str], log_dir: Path, names: tuple[str, ...]) -> Pipeline:
    pipeline = Pipeline(env=env)
    try:
        for name in names:
            service = ServiceProcess(name, env, log_dir / f"{name}.log")
            service.start()
            pipeline.services[name] = service
    except BaseException:
        pipeline.close()
        raise
    return pipeline


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
