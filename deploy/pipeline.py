"""The whole pipeline as real processes: ingest → Kafka → pricing → aggregator → ClickHouse → invoicing.

Shared by the end-to-end tests (``tests/e2e/conftest.py``) and the benchmark
(``bench/pipeline.py``): each pipeline gets its own topic namespace and ClickHouse
database, so several can share one broker and one server.

    env = pipeline_env(kafka.bootstrap_servers, clickhouse.url, keys, namespace="bench_1a2b")
    pipeline = start_pipeline(env, log_dir, ("pricing", "aggregator", "invoicing", "ingest"),
                              admin_key=..., ingest_key=...)
    pipeline.add_price("openai", "gpt-private", "2.50")
    pipeline.close()
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from deploy.local_clickhouse import free_port
from deploy.services import ServiceProcess

T = TypeVar("T")

#: ``Pipeline.http``'s default key: the pipeline's admin key (``None`` sends no key at all).
ADMIN = "<admin>"

#: Start order: consumers before the API that feeds them, ingest last.
PIPELINE_SERVICES = ("pricing", "aggregator", "invoicing", "ingest")


@dataclass
class Pipeline:
    env: dict[str, str]
    admin_key: str
    ingest_key: str
    services: dict[str, ServiceProcess] = field(default_factory=dict)
    clients: dict[str, httpx.Client] = field(default_factory=dict)

    def http(self, service: str, key: str | None = ADMIN) -> httpx.Client:
        """A new client for a service, authenticated with ``key`` (admin by default, none for ``None``)."""
        key = self.admin_key if key is ADMIN else key
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.services[service].url or "", headers=headers, timeout=30)

    def api(self, service: str) -> httpx.Client:
        """An admin client for a service, reused across calls."""
        if service not in self.clients:
            self.clients[service] = self.http(service)
        return self.clients[service]

    def send(self, events: list[dict[str, Any]] | dict[str, Any], key: str | None = None) -> httpx.Response:
        with self.http("ingest", key or self.ingest_key) as ingest:
            return ingest.post("/v1/events", json=events)

    def add_price(self, provider: str, model: str, per_mtok: str, effective_from: str = "2020-01-01T00:00:00Z",
                  **extra: Any) -> dict[str, Any]:
        body = {"provider": provider, "model": model, "effective_from": effective_from,
                "input_per_mtok": per_mtok, "output_per_mtok": per_mtok, **extra}
        reply = self.api("pricing").post("/v1/prices", json=body)
        assert reply.status_code == 201, reply.text
        return reply.json()  # type: ignore[no-any-return]

    def put_client(self, client_id: str, **body: Any) -> dict[str, Any]:
        reply = self.api("invoicing").put(f"/v1/clients/{client_id}", json={"name": client_id.title(), **body})
        assert reply.status_code == 200, reply.text
        return reply.json()  # type: ignore[no-any-return]

    def invoice(self, client_id: str, period: str) -> dict[str, Any]:
        reply = self.api("invoicing").get(f"/v1/clients/{client_id}/invoices/{period}")
        assert reply.status_code == 200, reply.text
        return reply.json()  # type: ignore[no-any-return]

    def invoice_if_any(self, client_id: str, period: str) -> dict[str, Any] | None:
        """The invoice, or None while the client has neither a record nor usage (404)."""
        reply = self.api("invoicing").get(f"/v1/clients/{client_id}/invoices/{period}")
        if reply.status_code == 404:
            return None
        assert reply.status_code == 200, reply.text
        return reply.json()  # type: ignore[no-any-return]

    def wait_for_events(self, client_id: str, period: str, count: int, timeout: float = 60) -> dict[str, Any]:
        """Poll the invoice until it counts ``count`` events (then a little longer, to catch extras)."""
        wait_until(lambda: _events_reached(self.invoice_if_any(client_id, period), count), timeout,
                   f"{count} events for {client_id} {period}")
        time.sleep(0.5)
        return self.invoice(client_id, period)

    def close(self) -> None:
        for client in self.clients.values():
            client.close()
        self.clients.clear()
        for service in reversed(list(self.services.values())):
            service.stop()


def _events_reached(invoice: dict[str, Any] | None, count: int) -> dict[str, Any] | None:
    if invoice is None:
        return None
    return invoice if sum(line["events"] for line in invoice["lines"]) >= count else None


def wait_until(probe: Callable[[], T | None], timeout: float, what: str, interval: float = 0.2) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = probe()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def _fresh_port(name: str) -> dict[str, str]:
    from deploy.services import HTTP_PORT_VARIABLES

    variable = HTTP_PORT_VARIABLES.get(name)
    return {variable: str(free_port())} if variable else {}


def consumer_groups(namespace: str) -> dict[str, str]:
    """Every consumer group id of one pipeline, under its namespace.

    Consumer groups are broker-wide, not per topic: two pipelines on one broker that share a
    group id join one group, and each rebalance of one stalls (and reassigns) the other's
    consumers. Invoicing waits on the pricing and aggregator groups, so it is told their
    names too."""
    pricing, aggregator, alerts = (f"{namespace}.tokentally-{name}" for name in ("pricing", "aggregator", "alerts"))
    return {
        "PRICING_GROUP_ID": pricing,
        "AGGREGATOR_GROUP_ID": aggregator,
        "ALERTS_GROUP_ID": alerts,
        "INVOICING_PIPELINE_PRICING_GROUP": pricing,
        "INVOICING_PIPELINE_AGGREGATOR_GROUP": aggregator,
    }


def pipeline_env(kafka_bootstrap: str, clickhouse_url: str, keys: Sequence[Mapping[str, str]], namespace: str,
                 postgres_url: str = "", **extra: str) -> dict[str, str]:
    """Every service's environment: topics under ``<namespace>.``, database ``<namespace>``,
    consumer groups ``<namespace>.tokentally-…`` (see ``consumer_groups``), free ports.

    ``clickhouse_url`` has no database (``http://user:password@host:port``); ``postgres_url``
    is a PostgreSQL server (any database: invoicing gets ``<namespace>`` on it, created at
    start-up); ``keys`` is the ``TOKENTALLY_API_KEYS`` list; ``extra`` adds or overrides
    variables (e.g. batch sizes).
    """
    database = {"DATABASE_URL": f"{postgres_url.rsplit('/', 1)[0]}/{namespace}"} if postgres_url else {}
    return {
        **database,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "KAFKA_TOPIC_PREFIX": f"{namespace}.",
        "CLICKHOUSE_URL": f"{clickhouse_url}/{namespace}",
        **consumer_groups(namespace),
        "TOKENTALLY_API_KEYS": json.dumps(list(keys)),
        "INGEST_PORT": str(free_port()),
        "PRICING_PORT": str(free_port()),
        "INVOICING_PORT": str(free_port()),
        "ALERTS_PORT": str(free_port()),
        "AGGREGATOR_PORT": str(free_port()),
        "DASHBOARD_PORT": str(free_port()),
        "PRICING_REFRESH_SECONDS": "1",
        # Scenarios send usage for months that ended long ago: keep them drafts unless a test issues them.
        "INVOICING_AUTO_ISSUE": "false",
        "LOG_LEVEL": "INFO",
        **extra,
    }


def start_pipeline(env: dict[str, str], log_dir: Path, names: tuple[str, ...] = PIPELINE_SERVICES, *,
                   admin_key: str, ingest_key: str, replicas: Mapping[str, int] | None = None,
                   modules: Mapping[str, str] | None = None) -> Pipeline:
    """Start ``names`` in order, each once ready; on any failure stop those already started.

    ``replicas`` runs more instances of a service (``{"aggregator": 2}``): the extra ones are
    ``aggregator-2``… in ``services``, with their own log and HTTP port, in the same consumer
    groups, so Kafka splits the partitions between them. ``modules`` runs another module for a
    service than ``services.<name>`` (the e2e alerts tests run one with its clock pinned).
    """
    pipeline = Pipeline(env=env, admin_key=admin_key, ingest_key=ingest_key)
    try:
        for name in names:
            for number in range(1, (replicas or {}).get(name, 1) + 1):
                key = name if number == 1 else f"{name}-{number}"
                service_env = env if number == 1 else {**env, **_fresh_port(name)}
                service = ServiceProcess(name, service_env, log_dir / f"{key}.log", module=(modules or {}).get(name))
                pipeline.services[key] = service  # before start: one that never gets ready is stopped too
                service.start()
    except BaseException:
        pipeline.close()
        raise
    return pipeline
