"""Issuing at month end: 1,000 clients issued, GET of an issued invoice, the month's accounting exports,
PostgreSQL's memory.

``uv run --frozen python -m bench.issuing [--clients 1000]`` (about a minute). Starts its own
ClickHouse and PostgreSQL (or uses CLICKHOUSE_URL / DATABASE_URL), writes one month of
priced usage (3 models per client), then, in-process against the invoicing app:

- issues every client's month in one auto-issuer round (4 issues in flight); total time;
- times 500 ``GET`` of issued invoices (p50 / p99): no ClickHouse query on that path;
- times ``GET /v1/exports/{xero,quickbooks}/invoices.csv?period=`` of the month they were issued in
  (5 runs each): 1,000 documents read from PostgreSQL, their frozen JSON parsed, the file written;
- reads the RSS of the PostgreSQL server's processes.

The pipeline check is replaced by one that returns at once: with Kafka it is one offsets
read per batch of waiting issues (see services/invoicing/catchup.py), not per invoice.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import psutil
from pydantic import SecretStr

from deploy.local_clickhouse import LocalClickHouse
from deploy.local_postgres import LocalPostgres, ensure_database
from libs.common.clickhouse import connect, ensure_schema
from libs.common.money import token_cost
from libs.common.settings import AuthSettings, ClickHouseSettings
from services.aggregator.rows import PRICED_COLUMNS
from services.invoicing.app import create_app
from services.invoicing.settings import DatabaseSettings, InvoicingSettings

ADMIN = "bench-admin-" + uuid.uuid4().hex
MODELS = (("openai", "gpt-4o", "2.50"), ("anthropic", "claude-3-5-sonnet", "3.00"), ("google", "gemini-1.5-pro", "1.25"))


class Caught:
    async def wait_caught_up(self, cutoff: datetime, timeout: float) -> None:
        return None


def _row(client: str, n: int, provider: str, model: str, price: str) -> list[object]:
    at = datetime(2026, 10, 1 + n % 28, 12, tzinfo=UTC)
    tokens = 100_000 + n
    cost = token_cost(tokens, Decimal(price))
    zero = Decimal(0)
    base = [client, f"{client}-{n}", at, at, at, provider, model, "", {}, tokens, 0, 0, 0, 0, "catalog",
            f"{provider}/{model}", None, "", Decimal(price), zero, zero, zero, zero, cost, zero, zero, zero, zero, cost]
    # the other unit buckets (audio, images, 1-hour cache writes): none used
    return base + [0 if name.endswith("_tokens") else zero for name in PRICED_COLUMNS[len(base):]]


async def _measure(clickhouse: ClickHouseSettings, database_url: str, clients: int) -> dict[str, object]:
    await ensure_schema(clickhouse)
    ch = await connect(clickhouse)
    try:
        rows = [_row(f"c{i:05d}", n, *MODELS[n % 3]) for i in range(clients) for n in range(6)]
        await ch.insert("priced_events", rows, column_names=list(PRICED_COLUMNS))
    finally:
        await ch.close()
    settings = InvoicingSettings(clickhouse=clickhouse, database=DatabaseSettings(url=SecretStr(database_url)),
                                 auth=AuthSettings(api_keys=SecretStr(json.dumps([{"key": ADMIN, "scope": "admin"}]))),
                                 auto_issue=False, kafka_events=False)  # no Kafka here
    app = create_app(settings, clock=lambda: datetime(2026, 11, 5, tzinfo=UTC), pipeline=Caught())
    results: dict[str, object] = {"clients": clients}
    async with app.router.lifespan_context(app):
        headers = {"Authorization": f"Bearer {ADMIN}"}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://i",
                                     headers=headers, timeout=60) as api:
            # The auto-issuer's round at month end: every client due, a few in flight.
            started = time.perf_counter()
            issued = await app.state.auto_issuer.run_once()
            elapsed = time.perf_counter() - started
            assert len(issued) == clients, len(issued)
            listing = (await api.get("/v1/invoices", params={"period": "2026-10"})).json()
            numbers = sorted(int(d["number"].rsplit("-", 1)[1]) for d in listing)
            results["issued"] = len(listing)
            results["gapless"] = numbers == list(range(1, clients + 1))
            results["auto_issue_total_seconds"] = round(elapsed, 1)
            results["auto_issue_per_invoice_ms"] = round(elapsed / clients * 1000, 1)
            timings = []
            for n in range(500):
                t = time.perf_counter()
                reply = await api.get(f"/v1/clients/c{n % clients:05d}/invoices/2026-10")
                timings.append((time.perf_counter() - t) * 1000)
                assert reply.status_code == 200
            timings.sort()
            results["get_issued_ms_p50"] = round(statistics.median(timings), 2)
            results["get_issued_ms_p99"] = round(timings[int(len(timings) * 0.99) - 1], 2)
            for system in ("xero", "quickbooks"):
                seconds, body = [], b""
                for _ in range(5):
                    t = time.perf_counter()
                    reply = await api.get(f"/v1/exports/{system}/invoices.csv", params={"period": "2026-11"})
                    seconds.append(time.perf_counter() - t)
                    assert reply.status_code == 200, reply.text
                    assert not body or reply.content == body  # repeatable
                    body = reply.content
                results[f"export_{system}_ms_median"] = round(statistics.median(seconds) * 1000)
                results[f"export_{system}_ms_max"] = round(max(seconds) * 1000)
                results[f"export_{system}_rows"] = body.count(b"\r\n") - 1
                results[f"export_{system}_kib"] = round(len(body) / 1024)
    return results


def _postgres_rss_mb(server: LocalPostgres) -> float:
    pid = server.pid
    if pid is None:
        return 0.0
    main = psutil.Process(pid)
    return round(sum(p.memory_info().rss for p in [main, *main.children(recursive=True)]) / 2**20, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tokentally-bench-issuing-"))
    clickhouse = LocalClickHouse(work / "clickhouse")
    postgres = LocalPostgres(work / "postgres")
    try:
        clickhouse.start()
        postgres.start()
        database_url = ensure_database(postgres.url, "bench")
        ch = ClickHouseSettings(url=SecretStr(f"{clickhouse.url}/bench"))
        results = asyncio.run(_measure(ch, database_url, args.clients))
        results["postgres_rss_mb"] = _postgres_rss_mb(postgres)
        print(json.dumps(results, indent=2))
    finally:
        postgres.stop()
        clickhouse.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
