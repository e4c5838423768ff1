"""Dashboard page times with a big database: ``uv run python -m bench.dashboard [--events N] [--clients N]``.

Starts a local Kafka, ClickHouse and PostgreSQL in a temporary directory, then invoicing, alerts and the
dashboard; writes ``--clients`` client records and ``--events`` priced events spread over
this month and the last two (``INSERT … SELECT FROM numbers()`` straight into
``priced_events``, so the totals views fill as in production), and times the overview and
a client page: the server-side time from each answer's ``Server-Timing`` header, p50/p95
over ``--requests`` sequential requests, and the dashboard's RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psutil

from deploy.local_clickhouse import LocalClickHouse
from deploy.local_kafka import LocalKafka
from deploy.local_postgres import LocalPostgres
from deploy.pipeline import pipeline_env, start_pipeline
from libs.common.clickhouse import connect, ensure_schema
from libs.common.settings import ClickHouseSettings

ADMIN = "bench-admin-" + uuid.uuid4().hex
MODELS = ("gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet", "claude-3-5-haiku", "gemini-1.5-pro")


def insert_sql(events: int, clients: int, start: datetime, seconds: int, offset: int) -> str:
    """Priced events with exact decimal costs; ``offset`` keeps event ids unique across batches."""
    return f"""
INSERT INTO priced_events (client_id, event_id, timestamp, received_at, priced_at, provider, model, project, tags,
    input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens,
    price_source, price_id, price_effective_from, price_tier,
    input_per_mtok, output_per_mtok, cache_read_per_mtok, cache_write_per_mtok, reasoning_per_mtok,
    input_usd, output_usd, cache_read_usd, cache_write_usd, reasoning_usd, cost_usd)
SELECT concat('bench-', toString(n % {clients})) AS client_id, toString(n) AS event_id,
    toDateTime64('{start:%Y-%m-%d %H:%M:%S}', 6, 'UTC') + toIntervalSecond(intHash32(n) % {seconds}) AS ts,
    ts, ts, 'openai', {list(MODELS)!r}[1 + (intHash32(n + 7) % {len(MODELS)})], '', map(),
    1000 + intHash32(n) % 3000 AS inp, 100 + intHash32(n + 1) % 500 AS outp, 0, 0, 0,
    'catalog', 'bench', NULL, '',
    toDecimal128('2.5', 12), toDecimal128('10', 12), toDecimal128('0', 12), toDecimal128('0', 12), toDecimal128('0', 12),
    toDecimal128(inp, 18) * toDecimal128('2.5', 18) / 1000000 AS iu,
    toDecimal128(outp, 18) * toDecimal128('10', 18) / 1000000 AS ou,
    toDecimal128('0', 18), toDecimal128('0', 18), toDecimal128('0', 18), iu + ou
FROM (SELECT number + {offset} AS n FROM numbers({events}))
"""


async def load(settings: ClickHouseSettings, events: int, clients: int) -> float:
    await ensure_schema(settings)
    client = await connect(settings)
    started = time.monotonic()
    now = datetime.now(UTC)
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    two_back = (month_start - timedelta(days=40)).replace(day=1)
    seconds = max(int((now - two_back).total_seconds()) - 60, 1)
    batch = 1_000_000
    for offset in range(0, events, batch):
        await client.command(insert_sql(min(batch, events - offset), clients, two_back, seconds, offset),
                             settings={"max_partitions_per_insert_block": 1000})
    rows = [[f"bench-{i}", f"Bench client {i:03d}", 25, 1000 + i, [0.5, 0.8, 1], [], now, now, "billed"]
            for i in range(clients)]
    columns = ["client_id", "name", "markup_percent", "monthly_budget", "alert_thresholds", "notify", "created_at",
               "updated_at", "budget_basis"]
    await client.insert("client_history", rows, column_names=columns)
    await client.insert("clients", rows, column_names=columns)
    await client.close()
    return time.monotonic() - started


def timed(http: httpx.Client, path: str, requests: int) -> list[float]:
    times = []
    for _ in range(requests):
        reply = http.get(path)
        reply.raise_for_status()
        times.append(float(reply.headers["server-timing"].split("dur=")[1]))
    return times


def sign_in(http: httpx.Client) -> None:
    form = http.get("/login")
    token = form.text.split('name="login_token" value="')[1].split('"')[0]
    reply = http.post("/login", data={"api_key": ADMIN, "login_token": token, "next": "/"})
    assert reply.status_code == 303, reply.text


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 20 else max(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--clients", type=int, default=400)
    parser.add_argument("--requests", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as tmp:
        kafka, clickhouse = LocalKafka(Path(tmp) / "kafka"), LocalClickHouse(Path(tmp) / "clickhouse")
        postgres = LocalPostgres(Path(tmp) / "postgres")
        kafka.start()
        clickhouse.start()
        postgres.start()
        pipeline = None
        try:
            env = pipeline_env(kafka.bootstrap_servers, clickhouse.url, [{"key": ADMIN, "scope": "admin"}],
                               namespace="benchdash", postgres_url=postgres.url)
            from pydantic import SecretStr

            seconds = asyncio.run(load(ClickHouseSettings(url=SecretStr(env["CLICKHOUSE_URL"])), args.events,
                                       args.clients))
            print(f"loaded {args.events:,} events for {args.clients} clients in {seconds:.1f}s")
            pipeline = start_pipeline(env, Path(tmp) / "logs", ("invoicing", "alerts", "dashboard"),
                                      admin_key=ADMIN, ingest_key=ADMIN)
            with httpx.Client(base_url=pipeline.services["dashboard"].url or "", timeout=60) as http:
                sign_in(http)
                timed(http, "/", 3)  # warm-up
                overview = timed(http, "/", args.requests)
                client = timed(http, "/clients/bench-7", args.requests)
            # where the overview's time goes: the invoicing API's every-client totals for a month
            period = datetime.now(UTC).strftime("%Y-%m")
            with pipeline.http("invoicing") as invoicing:
                totals = []
                for _ in range(5):
                    began = time.perf_counter()
                    invoicing.get(f"/v1/invoices/{period}").raise_for_status()
                    totals.append((time.perf_counter() - began) * 1000)
            rss = psutil.Process(pipeline.services["dashboard"].pid).memory_info().rss / 2**20
            result = {
                "events": args.events, "clients": args.clients, "requests": args.requests,
                "overview_ms": {"p50": round(statistics.median(overview), 1), "p95": round(p95(overview), 1)},
                "client_page_ms": {"p50": round(statistics.median(client), 1), "p95": round(p95(client), 1)},
                "dashboard_rss_mib": round(rss, 1),
                "invoicing_month_totals_ms_p50": round(statistics.median(totals), 1),
            }
            print(json.dumps(result, indent=2))
        finally:
            if pipeline is not None:
                pipeline.close()
            postgres.stop()
            clickhouse.stop()
            kafka.stop()


if __name__ == "__main__":
    main()
