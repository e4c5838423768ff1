"""Dashboard page times with a big database: ``uv run python -m bench.dashboard [--events N] [--clients N]``.

Starts a local Kafka, ClickHouse and PostgreSQL, then invoicing, alerts and the
dashboard; writes ``--clients`` client records and ``--events`` priced events spread over
this month and the last two (``INSERT … SELECT FROM numbers()`` straight into
``priced_events``, so the totals views fill as in production), and times the overview and
a client page: the server-side time from each answer's ``Server-Timing`` header (the page's
``app`` entry, and one entry per upstream call), p50/p95/p99 over ``--requests`` sequential
requests, and the dashboard's RSS.

Before timing, the two months before this one are issued for every client (``POST …/issue``;
idempotent, so a reused data dir keeps its invoices): the overview then reads a ledger of
``2 × --clients`` issued invoices and the live lines of the months they billed, as it would in
production, not an empty ledger.

``--data-dir DIR`` keeps ClickHouse and PostgreSQL in ``DIR`` and loads the events only when
``DIR/loaded.json`` does not already record the same ``--events`` and ``--clients`` loaded
this month (so 10 M events are loaded once; ``--load-only`` stops after loading). Kafka
always starts empty in a temporary directory: nothing here reads it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
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


def server_timing(header: str) -> dict[str, float]:
    """``app;dur=12.3, invoicing-usage;dur=8.1`` as ``{"app": 12.3, "invoicing-usage": 8.1}``."""
    entries: dict[str, float] = {}
    for entry in header.split(","):
        name, _, rest = entry.strip().partition(";")
        if "dur=" in rest:
            entries[name] = float(rest.split("dur=")[1].split(";")[0])
    return entries


def timed(http: httpx.Client, path: str, requests: int) -> list[dict[str, float]]:
    """The ``Server-Timing`` entries of ``requests`` sequential GETs of ``path``."""
    times = []
    for _ in range(requests):
        reply = http.get(path)
        reply.raise_for_status()
        times.append(server_timing(reply.headers["server-timing"]))
    return times


def percentiles(values: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(values, n=100, method="inclusive") if len(values) >= 2 else values * 99
    return {"p50": round(statistics.median(values), 1), "p95": round(cuts[94], 1), "p99": round(cuts[98], 1)}


def summary(samples: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Percentiles of the page (``app``) and of each upstream call it timed."""
    names = sorted({name for sample in samples for name in sample}, key=lambda n: (n != "app", n))
    return {name: percentiles([s[name] for s in samples if name in s]) for name in names}


def sign_in(http: httpx.Client) -> None:
    form = http.get("/login")
    token = form.text.split('name="login_token" value="')[1].split('"')[0]
    reply = http.post("/login", data={"api_key": ADMIN, "login_token": token, "next": "/"})
    assert reply.status_code == 303, reply.text


def loaded_marker(data_dir: Path) -> Path:
    return data_dir / "loaded.json"


def already_loaded(data_dir: Path, events: int, clients: int) -> bool:
    """The data dir holds this load (same sizes, loaded this month, so the months line up)."""
    marker = loaded_marker(data_dir)
    if not marker.exists():
        return False
    done = json.loads(marker.read_text())
    return (done.get("events"), done.get("clients"), done.get("month")) == (
        events, clients, datetime.now(UTC).strftime("%Y-%m"))


def issue_previous_months(invoicing: httpx.Client, clients: int) -> float:
    """Issue the two months before this one for every bench client (8 at a time); seconds taken."""
    from concurrent.futures import ThreadPoolExecutor

    this = datetime.now(UTC).replace(day=1)
    last = (this - timedelta(days=1)).replace(day=1)
    months = [f"{(last - timedelta(days=1)):%Y-%m}", f"{last:%Y-%m}"]
    started = time.monotonic()

    def issue(args: tuple[int, str]) -> None:
        client, month = args
        reply = invoicing.post(f"/v1/clients/bench-{client}/invoices/{month}/issue")
        assert reply.status_code == 200, reply.text

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(issue, [(c, m) for m in months for c in range(clients)]))
    return time.monotonic() - started


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--clients", type=int, default=400)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="keep ClickHouse and PostgreSQL here and reuse a load already in it")
    parser.add_argument("--load-only", action="store_true", help="load (if needed) and stop")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as tmp:
        data_dir = args.data_dir.resolve() if args.data_dir else Path(tmp)
        data_dir.mkdir(parents=True, exist_ok=True)
        kafka, clickhouse = LocalKafka(Path(tmp) / "kafka"), LocalClickHouse(data_dir / "clickhouse")
        postgres = LocalPostgres(data_dir / "postgres")
        kafka.start()
        clickhouse.start()
        postgres.start()
        pipeline = None
        try:
            env = pipeline_env(kafka.bootstrap_servers, clickhouse.url, [{"key": ADMIN, "scope": "admin"}],
                               namespace="benchdash", postgres_url=postgres.url)
            from pydantic import SecretStr

            if already_loaded(data_dir, args.events, args.clients):
                print(f"reusing {args.events:,} events for {args.clients} clients in {data_dir}")
            else:
                seconds = asyncio.run(load(ClickHouseSettings(url=SecretStr(env["CLICKHOUSE_URL"])), args.events,
                                           args.clients))
                print(f"loaded {args.events:,} events for {args.clients} clients in {seconds:.1f}s")
                if args.data_dir:
                    loaded_marker(data_dir).write_text(json.dumps({
                        "events": args.events, "clients": args.clients,
                        "month": datetime.now(UTC).strftime("%Y-%m"), "seconds": round(seconds, 1)}))
            if args.load_only:
                return
            pipeline = start_pipeline(env, Path(tmp) / "logs", ("invoicing", "alerts", "dashboard"),
                                      admin_key=ADMIN, ingest_key=ADMIN)
            with pipeline.http("invoicing") as invoicing:
                invoicing.timeout = httpx.Timeout(120)
                print(f"issued the two months before for {args.clients} clients in "
                      f"{issue_previous_months(invoicing, args.clients):.1f}s")
            load_before = load_average()
            with httpx.Client(base_url=pipeline.services["dashboard"].url or "", timeout=60) as http:
                sign_in(http)
                timed(http, "/", 3)  # warm-up
                timed(http, "/clients/bench-7", 3)
                overview = timed(http, "/", args.requests)
                client = timed(http, "/clients/bench-7", args.requests)
            # the invoicing calls the overview used to make and makes now, timed from outside
            period = datetime.now(UTC).strftime("%Y-%m")
            upstream: dict[str, list[float]] = {"full_invoices": [], "usage_clients": []}
            with pipeline.http("invoicing") as invoicing:
                for _ in range(5):
                    for name, path in (("full_invoices", f"/v1/invoices/{period}"),
                                       ("usage_clients", f"/v1/usage/{period}/clients")):
                        began = time.perf_counter()
                        invoicing.get(path).raise_for_status()
                        upstream[name].append((time.perf_counter() - began) * 1000)
            rss = psutil.Process(pipeline.services["dashboard"].pid).memory_info().rss / 2**20
            result = {
                "events": args.events, "clients": args.clients, "requests": args.requests,
                "load_average_before": load_before, "load_average_after": load_average(),
                "overview_ms": summary(overview),
                "client_page_ms": summary(client),
                "dashboard_rss_mib": round(rss, 1),
                "invoicing_GET_v1_invoices_period_ms_p50": round(statistics.median(upstream["full_invoices"]), 1),
                "invoicing_GET_v1_usage_period_clients_ms_p50": round(statistics.median(upstream["usage_clients"]), 1),
            }
            print(json.dumps(result, indent=2))
            sys.stdout.flush()
        finally:
            if pipeline is not None:
                pipeline.close()
            postgres.stop()
            clickhouse.stop()
            kafka.stop()


if __name__ == "__main__":
    main()
